"""API keys: generated once, stored as SHA-256 hashes, each tied to one workspace and roles."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from agent_service.schemas.workspaces import Role

ROLES: tuple[Role, ...] = ("channel", "admin", "qa")


def generate_key() -> str:
    return f"ask_{secrets.token_urlsafe(24)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its workspace and its roles."""

    key_id: str
    workspace_id: str
    roles: frozenset[str]
    # The settings' bootstrap key: may create workspaces and manage any workspace's keys.
    bootstrap: bool = False

    def manages(self, workspace_id: str) -> bool:
        """True when this caller may manage ``workspace_id``'s keys."""
        return self.bootstrap or ("admin" in self.roles and self.workspace_id == workspace_id)
