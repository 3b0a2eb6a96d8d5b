"""Request dependencies: the agent's dependencies, the clock, the database, the unit of work of
an admin change, and the caller's key."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agent.deps import AgentDeps
from agent_service.db import models
from agent_service.schemas.workspaces import Role
from agent_service.workspaces import audit
from agent_service.workspaces.api_keys import Principal, hash_key

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


# Dependencies that do no I/O are ``async def`` all the same: FastAPI runs a plain ``def``
# dependency in its thread pool, a thread hand-off per request (measured: the largest single
# cost of acknowledging a message under a spike).
async def get_agent_deps(request: Request) -> AgentDeps:
    deps: AgentDeps = request.app.state.agent_deps
    return deps


AgentDepsDep = Annotated[AgentDeps, Depends(get_agent_deps)]

Clock = Callable[[], datetime]


async def get_clock(deps: AgentDepsDep) -> Clock:
    """The service clock (tests and evals fix it)."""
    return deps.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(deps: AgentDepsDep) -> AsyncIterator[AsyncSession]:
    async with deps.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class UnitOfWork:
    """One change made through the API: the request's session and the audit rows recording it.

    Committed once, after the route returned and before the response is sent; when the route
    raises, the change and its audit rows are rolled back together.
    """

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session, self.clock = session, clock

    def audit(
        self,
        by: Principal,
        *,
        action: str,
        target_type: str,
        target_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        workspace_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record the change by ``by``'s key, in ``by``'s workspace unless ``workspace_id`` says
        otherwise, at ``now`` (default: the clock now)."""
        audit.record(
            self.session,
            workspace_id=by.workspace_id if workspace_id is None else workspace_id,
            key_id=by.key_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            now=self.clock() if now is None else now,
        )


async def get_unit_of_work(session: SessionDep, clock: ClockDep) -> AsyncIterator[UnitOfWork]:
    unit = UnitOfWork(session, clock)
    try:
        yield unit
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


# "function": the commit runs when the route returns, before the response is sent, so a failed
# commit is an error response rather than a success already sent.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def get_principal(
    deps: AgentDepsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from the bearer key; 401 when it is missing, unknown or revoked."""
    async with deps.front() as session:
        return await key_principal(session, credentials)


async def key_principal(
    session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The bearer key's holder, read in the caller's session; 401 when it is missing, unknown
    or revoked."""
    key = await session.scalar(
        select(models.ApiKey).filter_by(key_hash=hash_key(bearer_key(credentials)))
    )
    return principal_of(key)


def bearer_key(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The key sent; 401 when there is none."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def principal_of(key: models.ApiKey | None) -> Principal:
    """The holder of the key as read; 401 when it is unknown or revoked."""
    if key is None or key.revoked_at is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(key_id=key.id, workspace_id=key.workspace_id, roles=frozenset(key.roles))


def check_roles(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    """403 unless the key holds one of ``roles``."""
    if not principal.roles & set(roles):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this key lacks the role for this endpoint (needs one of: {', '.join(roles)})",
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets through keys holding any of ``roles``; 403 otherwise."""

    async def _check(principal: PrincipalDep) -> Principal:
        return check_roles(principal, roles)

    return _check


ChannelKey = Annotated[Principal, Depends(require("channel"))]
ChannelOrAdminKey = Annotated[Principal, Depends(require("channel", "admin"))]

# Admin endpoints.
AdminKey = Annotated[Principal, Depends(require("admin"))]
AdminOrQaKey = Annotated[Principal, Depends(require("admin", "qa"))]


async def get_bootstrap_or_admin(
    deps: AgentDepsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
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


async def get_platform(caller: BootstrapOrAdminKey) -> Principal:
    """The platform operator: the bootstrap key. A workspace's admin manages its own workspace,
    not the platform (creating workspaces)."""
    if not caller.bootstrap:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "creating workspaces is a platform operation: use the bootstrap key "
            "(AGENT_SERVICE_BOOTSTRAP_ADMIN_KEY), not a workspace's admin key",
        )
    return caller


PlatformKey = Annotated[Principal, Depends(get_platform)]
