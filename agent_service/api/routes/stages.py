"""Lifecycle stages: list, create, rename and flags, reorder, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from agent_service.api.deps import AdminKey, ClockDep, SessionDep, UnitOfWorkDep
from agent_service.api.errors import documented
from agent_service.db import models
from agent_service.lifecycle import editing
from agent_service.schemas.stages import (
    StageCreate,
    StageDeleted,
    StageOrder,
    StagePublic,
    StageUpdate,
)

router = APIRouter(prefix="/v1/stages", tags=["stages"])
NOT_FOUND = "No such stage in this workspace."
CONFLICT = "Contacts or the qualification rule depend on the stage, or the name is taken."


def _public(row: models.LifecycleStage, counts: dict[str, int]) -> StagePublic:
    return StagePublic(**editing.snapshot(row), id=row.id, contacts=counts.get(row.name, 0))


async def _listing(session: SessionDep, workspace_id: str) -> list[StagePublic]:
    counts = await editing.contact_counts(session, workspace_id)
    return [_public(s, counts) for s in await editing.all_stages(session, workspace_id)]


@router.get("", response_model=list[StagePublic], responses=documented())
async def list_stages(principal: AdminKey, session: SessionDep) -> list[StagePublic]:
    """Stages in order, with how many contacts are in each."""
    return await _listing(session, principal.workspace_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StagePublic,
    responses=documented(conflict=CONFLICT),
)
async def create_stage(
    body: StageCreate, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> StagePublic:
    """Add a stage at ``position`` in the funnel (default: the end), shifting the later ones."""
    row = await editing.create_stage(
        session, principal.workspace_id, body.model_dump(exclude={"position"}), body.position
    )
    uow.audit(
        principal,
        action="stage.create",
        target_type="stage",
        target_id=row.id,
        before=None,
        after=editing.snapshot(row),
    )
    return _public(row, {})


@router.put("/order", response_model=list[StagePublic], responses=documented(conflict=CONFLICT))
async def reorder(
    body: StageOrder, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> list[StagePublic]:
    """Set the funnel order: give every stage id once, in order."""
    before = [s.id for s in await editing.all_stages(session, principal.workspace_id)]
    await editing.reorder(session, principal.workspace_id, body.ids)
    uow.audit(
        principal,
        action="stage.reorder",
        target_type="stage",
        target_id=None,
        before={"ids": before},
        after={"ids": body.ids},
    )
    return await _listing(session, principal.workspace_id)


@router.patch(
    "/{stage_id}",
    response_model=StagePublic,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def update_stage(
    stage_id: str, body: StageUpdate, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> StagePublic:
    """Rename (contacts in the stage are renamed with it) or change its flags."""
    row, before = await editing.update_stage(
        session, principal.workspace_id, stage_id, body.model_dump(exclude_unset=True)
    )
    uow.audit(
        principal,
        action="stage.update",
        target_type="stage",
        target_id=row.id,
        before=before,
        after=editing.snapshot(row),
    )
    return _public(row, await editing.contact_counts(session, principal.workspace_id))


@router.delete(
    "/{stage_id}",
    response_model=StageDeleted,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def delete_stage(
    stage_id: str,
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
    move_to: Annotated[
        str | None, Query(description="Stage to move its contacts to.", examples=["Cold Lead"])
    ] = None,
) -> StageDeleted:
    """Delete a stage; refused while contacts are in it unless ``move_to`` names a stage."""
    row, moved = await editing.delete_stage(
        session, principal.workspace_id, stage_id, move_to, clock(), principal.key_id
    )
    uow.audit(
        principal,
        action="stage.delete",
        target_type="stage",
        target_id=row.id,
        before=editing.snapshot(row),
        after={"moved_contacts": moved, "move_to": move_to},
    )
    return StageDeleted(deleted=row.name, moved_contacts=moved)
