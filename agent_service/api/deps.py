"""Request dependencies: the agent's dependencies, the database, and the caller's key."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agent.deps import AgentDeps
from agent_service.db import models
from agent_service.schemas.workspaces import Role
from agent_service.workspaces.api_keys import Principal, hash_key

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


def get_agent_deps(request: Request) -> AgentDeps:
    deps: AgentDeps = request.app.state.agent_deps
    return deps


AgentDepsDep = Annotated[AgentDeps, Depends(get_agent_deps)]


async def get_session(deps: AgentDepsDep) -> AsyncIterator[AsyncSession]:
    async with deps.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    deps: AgentDepsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer key; 401 when it is missing, unknown or revoked."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with deps.sessions() as session:
        key = await session.scalar(
            select(models.ApiKey).filter_by(key_hash=hash_key(credentials.credentials))
        )
    if key is None or key.revoked_at is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(key_id=key.id, workspace_id=key.workspace_id, roles=frozenset(key.roles))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets through keys holding any of ``roles``; 403 otherwise."""

    async def _check(principal: PrincipalDep) -> Principal:
        if not principal.roles & set(roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this key lacks the role for this endpoint (needs one of: {', '.join(roles)})",
            )
        return principal

    return _check


ChannelKey = Annotated[Principal, Depends(require("channel"))]
ChannelOrAdminKey = Annotated[Principal, Depends(require("channel", "admin"))]

# Admin endpoints.
AdminKey = Annotated[Principal, Depends(require("admin"))]
AdminOrQaKey = Annotated[Principal, Depends(require("admin", "qa"))]


async def get_bootstrap_or_admin(
    deps: AgentDepsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The bootstrap admin key from settings (any workspace), or a workspace's admin key."""
    bootstrap = deps.settings.bootstrap_admin_key
    given = credentials.credentials if credentials is not None else ""
    if bootstrap and given and hmac.compare_digest(given.encode(), bootstrap.encode()):
        return Principal(
            key_id="bootstrap", workspace_id="", roles=frozenset({"admin"}), bootstrap=True
        )
    principal = await get_principal(deps, credentials)
    return await require("admin")(principal)


BootstrapOrAdminKey = Annotated[Principal, Depends(get_bootstrap_or_admin)]
