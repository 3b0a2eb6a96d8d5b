"""A workspace's API keys: create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from agent_service.api.deps import BootstrapOrAdminKey, ClockDep, SessionDep, UnitOfWorkDep
from agent_service.api.errors import documented, not_found
from agent_service.api.key_reads import KeyReads
from agent_service.db import models
from agent_service.db.after_commit import after_commit
from agent_service.schemas.workspaces import KeyCreate, KeyCreated, KeyPublic
from agent_service.workspaces.api_keys import Principal
from agent_service.workspaces.setup import create_api_key, list_keys, revoke_key

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/keys", tags=["keys"])
NOT_FOUND = "No such workspace or key, or not the caller's."


def _public(row: models.ApiKey) -> KeyPublic:
    return KeyPublic(
        id=row.id,
        roles=row.roles,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def _check(session: SessionDep, caller: Principal, workspace_id: str) -> None:
    if (
        not caller.manages(workspace_id)
        or await session.get(models.Workspace, workspace_id) is None
    ):
        raise not_found(f"workspace '{workspace_id}'")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses=documented(not_found=NOT_FOUND, invalid="Roles must be channel, admin or qa."),
)
async def create(
    workspace_id: str,
    body: KeyCreate,
    caller: BootstrapOrAdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
) -> KeyCreated:
    """Create a key with the given roles; the plain key is in this response only."""
    await _check(uow.session, caller, workspace_id)
    now = clock()
    roles: list[str] = sorted(set(body.roles))
    row, plain = await create_api_key(uow.session, workspace_id, roles, now, label=body.label)
    uow.audit(
        caller,
        workspace_id=workspace_id,
        action="key.create",
        target_type="key",
        target_id=row.id,
        before=None,
        after={"roles": roles, "label": body.label},
        now=now,
    )
    return KeyCreated(id=row.id, key=plain, roles=roles, label=body.label)


@router.get("", response_model=list[KeyPublic], responses=documented(not_found=NOT_FOUND))
async def list_(
    workspace_id: str, caller: BootstrapOrAdminKey, session: SessionDep
) -> list[KeyPublic]:
    """The workspace's keys, without their secrets."""
    await _check(session, caller, workspace_id)
    return [_public(row) for row in await list_keys(session, workspace_id)]


@router.delete(
    "/{key_id}",
    response_model=KeyPublic,
    responses=documented(not_found=NOT_FOUND, conflict="It is the last active admin key."),
)
async def revoke(
    request: Request,
    workspace_id: str,
    key_id: str,
    caller: BootstrapOrAdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
) -> KeyPublic:
    """Revoke a key: every later request with it gets 401."""
    await _check(uow.session, caller, workspace_id)
    now = clock()
    row = await revoke_key(uow.session, workspace_id, key_id, now)
    if row is None:
        raise not_found(f"key '{key_id}'")
    # This process refuses the key from its next request on; the others within their cache
    # window (api/key_reads.py).
    key_reads: KeyReads = request.app.state.key_reads
    after_commit(uow.session, lambda: key_reads.forget(workspace_id))
    uow.audit(
        caller,
        workspace_id=workspace_id,
        action="key.revoke",
        target_type="key",
        target_id=row.id,
        before={"revoked_at": None},
        after={"revoked_at": row.revoked_at},
        now=now,
    )
    return _public(row)
