"""Stored prompt versions per workspace: create (never overwrite), diff, activate, roll back."""

from __future__ import annotations

import difflib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict, NotFound
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.prompts.templates import PROMPT_FILES, validate


class PromptNotFound(NotFound):
    pass


class RollbackRefused(Conflict):
    """There is no earlier version to return to."""


def _check_name(name: str) -> None:
    if name not in PROMPT_FILES:
        raise PromptNotFound(f"prompt '{name}' (prompts are: {', '.join(PROMPT_FILES)})")


async def versions(
    session: AsyncSession, workspace_id: str, name: str
) -> list[models.PromptVersion]:
    _check_name(name)
    rows = await session.scalars(
        select(models.PromptVersion)
        .filter_by(workspace_id=workspace_id, name=name)
        .order_by(models.PromptVersion.version)
    )
    return list(rows.all())


async def get_version(
    session: AsyncSession, workspace_id: str, name: str, version: int
) -> models.PromptVersion:
    _check_name(name)
    row = await session.scalar(
        select(models.PromptVersion).filter_by(
            workspace_id=workspace_id, name=name, version=version
        )
    )
    if row is None:
        raise PromptNotFound(f"version {version} of prompt '{name}'")
    return row


async def active_version(
    session: AsyncSession, workspace_id: str, name: str
) -> models.PromptVersion | None:
    return await session.scalar(
        select(models.PromptVersion).filter_by(workspace_id=workspace_id, name=name, active=True)
    )


async def create_version(
    session: AsyncSession, workspace_id: str, name: str, body: str, now: datetime
) -> models.PromptVersion:
    """A new version after the latest; refuses an empty body or unknown variables."""
    _check_name(name)
    validate(name, body)
    latest = await session.scalar(
        select(func.max(models.PromptVersion.version)).filter_by(
            workspace_id=workspace_id, name=name
        )
    )
    row = models.PromptVersion(
        id=new_id("pv"),
        workspace_id=workspace_id,
        name=name,
        version=(latest or 0) + 1,
        body=body,
        active=False,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def activate(
    session: AsyncSession, workspace_id: str, name: str, version: int
) -> tuple[int | None, models.PromptVersion]:
    """Make ``version`` the one turns use; returns the version that was active before."""
    target = await get_version(session, workspace_id, name, version)
    current = await active_version(session, workspace_id, name)
    previous = current.version if current is not None else None
    if current is not None:
        current.active = False
        await session.flush()  # one active version at a time
    target.active = True
    await session.flush()
    return previous, target


async def rollback_target(session: AsyncSession, workspace_id: str, name: str) -> int:
    """The version that was active before the current one (from the audit log of activations)."""
    current = await active_version(session, workspace_id, name)
    if current is None:
        raise RollbackRefused(f"prompt '{name}' has no active version to roll back from")
    changes = await session.scalars(
        select(models.AuditEntry)
        .filter_by(workspace_id=workspace_id, target_type="prompt", target_id=name)
        .where(models.AuditEntry.action.in_(("prompt.activate", "prompt.rollback")))
        .order_by(models.AuditEntry.created_at, models.AuditEntry.id)
    )
    # Replay activations as a stack: activating pushes, rolling back pops.
    stack: list[int] = []
    for change in changes:
        before = (change.before or {}).get("active_version")
        after = (change.after or {}).get("active_version")
        if change.action == "prompt.rollback":
            if stack:
                stack.pop()
            continue
        if not stack and before is not None:
            stack.append(int(before))
        if after is not None:
            stack.append(int(after))
    if len(stack) >= 2 and stack[-1] == current.version:
        return stack[-2]
    if current.version > 1:
        return current.version - 1
    raise RollbackRefused(f"prompt '{name}' is at version 1; there is nothing to roll back to")


def diff(name: str, old: models.PromptVersion, new: models.PromptVersion) -> str:
    """A unified diff from one version's body to another's."""
    return "".join(
        difflib.unified_diff(
            old.body.splitlines(keepends=True),
            new.body.splitlines(keepends=True),
            fromfile=f"{name}@{old.version}",
            tofile=f"{name}@{new.version}",
        )
    )
