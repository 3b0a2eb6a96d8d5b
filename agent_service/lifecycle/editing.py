"""Editing a workspace's lifecycle stages: create, rename, reorder, flags, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict, NotFound
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.lifecycle.history import record_stage_change


class StageConflict(Conflict):
    """The change would break contacts or the configuration; the message says what to do."""


class StageNotFound(NotFound):
    pass


def snapshot(stage: models.LifecycleStage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "position": stage.position,
        "lost": stage.lost,
        "ai_settable": stage.ai_settable,
        "requires_approval": stage.requires_approval,
    }


async def all_stages(session: AsyncSession, workspace_id: str) -> list[models.LifecycleStage]:
    rows = await session.scalars(
        select(models.LifecycleStage)
        .filter_by(workspace_id=workspace_id)
        .order_by(models.LifecycleStage.position, models.LifecycleStage.name)
    )
    return list(rows.all())


async def contact_counts(session: AsyncSession, workspace_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(models.Contact.lifecycle_stage, func.count())
        .filter_by(workspace_id=workspace_id)
        .group_by(models.Contact.lifecycle_stage)
    )
    return {name: int(count) for name, count in rows.all()}


async def get_stage(
    session: AsyncSession, workspace_id: str, stage_id: str
) -> models.LifecycleStage:
    """The stage whose id, or else whose name (``Hot Lead``), is ``stage_id``."""
    for column in (models.LifecycleStage.id, models.LifecycleStage.name):
        row = await session.scalar(
            select(models.LifecycleStage).where(
                models.LifecycleStage.workspace_id == workspace_id, column == stage_id
            )
        )
        if row is not None:
            return row
    raise StageNotFound(
        f"stage '{stage_id}' (neither a stage id nor a stage name: see GET /v1/stages)"
    )


async def _check_name_free(
    session: AsyncSession, workspace_id: str, name: str, except_id: str | None = None
) -> None:
    for stage in await all_stages(session, workspace_id):
        if stage.name.casefold() == name.casefold() and stage.id != except_id:
            raise StageConflict(f"a stage named '{stage.name}' already exists; pick another name")


async def create_stage(
    session: AsyncSession, workspace_id: str, values: dict[str, Any], position: int | None
) -> models.LifecycleStage:
    """Insert a stage at ``position`` (default: the end), shifting the later ones."""
    name = values["name"].strip()
    await _check_name_free(session, workspace_id, name)
    stages = await all_stages(session, workspace_id)
    at = len(stages) if position is None else max(0, min(position, len(stages)))
    for later in stages[at:]:
        later.position += 1
    row = models.LifecycleStage(
        id=new_id("stg"), workspace_id=workspace_id, position=at, **{**values, "name": name}
    )
    session.add(row)
    await session.flush()
    return row


async def update_stage(
    session: AsyncSession, workspace_id: str, stage_id: str, changes: dict[str, Any]
) -> tuple[models.LifecycleStage, dict[str, Any]]:
    """Apply flag changes and a rename; a rename carries the contacts in the stage along."""
    row = await get_stage(session, workspace_id, stage_id)
    before = snapshot(row)
    in_stage = (await contact_counts(session, workspace_id)).get(row.name, 0)
    if "lost" in changes and changes["lost"] != row.lost and in_stage:
        raise StageConflict(
            f"{in_stage} contact(s) are in '{row.name}'; move them before changing whether it is "
            "a lost stage"
        )
    if changes.get("lost") is True and not row.lost:
        await _keep_one_active(session, workspace_id, row)
    new_name = changes.pop("name", None)
    for key, value in changes.items():
        setattr(row, key, value)
    if new_name is not None and new_name.strip() != row.name:
        await rename(session, workspace_id, row, new_name.strip())
    await session.flush()
    return row, before


async def _keep_one_active(
    session: AsyncSession, workspace_id: str, row: models.LifecycleStage
) -> None:
    active = [s for s in await all_stages(session, workspace_id) if not s.lost]
    if active == [row]:
        raise StageConflict("a workspace needs at least one active (not lost) stage")


async def rename(
    session: AsyncSession, workspace_id: str, row: models.LifecycleStage, new_name: str
) -> None:
    await _check_name_free(session, workspace_id, new_name, except_id=row.id)
    old = row.name
    row.name = new_name
    await session.execute(
        update(models.Contact)
        .where(models.Contact.workspace_id == workspace_id, models.Contact.lifecycle_stage == old)
        .values(lifecycle_stage=new_name)
    )
    await session.execute(
        update(models.PendingApproval)
        .where(
            models.PendingApproval.workspace_id == workspace_id,
            models.PendingApproval.to_stage == old,
            models.PendingApproval.status == "pending",
        )
        .values(to_stage=new_name)
    )
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    if (workspace.settings or {}).get("qualified_stage") == old:
        workspace.settings = {**workspace.settings, "qualified_stage": new_name}


async def reorder(
    session: AsyncSession, workspace_id: str, ids: list[str]
) -> list[models.LifecycleStage]:
    stages = await all_stages(session, workspace_id)
    known = {s.id for s in stages}
    if set(ids) != known or len(ids) != len(known):
        missing, unknown = known - set(ids), set(ids) - known
        raise StageConflict(
            "give every stage id exactly once"
            + (f"; missing: {', '.join(sorted(missing))}" if missing else "")
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
        )
    by_id = {s.id: s for s in stages}
    for position, stage_id in enumerate(ids):
        by_id[stage_id].position = position
    await session.flush()
    return [by_id[i] for i in ids]


async def delete_stage(
    session: AsyncSession,
    workspace_id: str,
    stage_id: str,
    move_to: str | None,
    now: datetime,
    actor_key: str,
) -> tuple[models.LifecycleStage, int]:
    """Delete a stage; its contacts move to ``move_to`` (refused without one). Returns moved."""
    row = await get_stage(session, workspace_id, stage_id)
    stages = await all_stages(session, workspace_id)
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    if (workspace.settings or {}).get("qualified_stage") == row.name:
        raise StageConflict(
            f"'{row.name}' is the stage qualified leads move to; "
            "change the qualification rule first"
        )
    if not row.lost and [s for s in stages if not s.lost] == [row]:
        raise StageConflict("a workspace needs at least one active (not lost) stage")
    contacts = list(
        (
            await session.scalars(
                select(models.Contact).filter_by(
                    workspace_id=workspace_id, lifecycle_stage=row.name
                )
            )
        ).all()
    )
    target = None
    if move_to is not None:
        target = next((s for s in stages if s.name.casefold() == move_to.strip().casefold()), None)
        if target is None or target.id == row.id:
            names = ", ".join(s.name for s in stages if s.id != row.id)
            raise StageConflict(f"move_to must name another stage: {names}")
    if contacts and target is None:
        raise StageConflict(
            f"{len(contacts)} contact(s) are in '{row.name}'; pass move_to=<stage> to move them"
        )
    for contact in contacts:
        assert target is not None
        record_stage_change(  # from_stage: the contact's stage is row.name (selected by it)
            session,
            contact,
            to_stage=target.name,
            lost=target.lost,
            lost_reason=contact.lost_reason,  # kept as it was
            actor="human",
            reason=f"stage '{row.name}' deleted by key {actor_key}",
            evidence="",
            now=now,
        )
    await session.delete(row)
    for position, stage in enumerate(s for s in stages if s.id != row.id):
        stage.position = position
    await session.flush()
    return row, len(contacts)
