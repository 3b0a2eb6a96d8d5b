"""Editing handoff teams and recording their online signal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.teams.hours import check_hours

EDITABLE = ("key", "name", "description", "timezone", "business_hours", "fallback")


class TeamConflict(Conflict):
    pass


def snapshot(row: models.Team) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EDITABLE}


async def teams(session: AsyncSession, workspace_id: str) -> list[models.Team]:
    rows = await session.scalars(
        select(models.Team).filter_by(workspace_id=workspace_id).order_by(models.Team.key)
    )
    return list(rows.all())


async def get_team(session: AsyncSession, workspace_id: str, ref: str) -> models.Team | None:
    """The team whose id, or else whose key (``sales``), is ``ref``: people write the key."""
    for column in (models.Team.id, models.Team.key):
        row = await session.scalar(
            select(models.Team).where(models.Team.workspace_id == workspace_id, column == ref)
        )
        if row is not None:
            return row
    return None


async def _check(
    session: AsyncSession, workspace_id: str, values: dict[str, Any], own_id: str | None
) -> None:
    problem = check_hours(values["timezone"], values["business_hours"])
    if problem:
        raise TeamConflict(problem)
    for other in await teams(session, workspace_id):
        if other.key == values["key"] and other.id != own_id:
            raise TeamConflict(f"a team with key '{values['key']}' already exists")


async def create_team(
    session: AsyncSession, workspace_id: str, values: dict[str, Any]
) -> models.Team:
    await _check(session, workspace_id, values, None)
    row = models.Team(id=new_id("team"), workspace_id=workspace_id, **values)
    session.add(row)
    await session.flush()
    return row


async def update_team(
    session: AsyncSession, row: models.Team, changes: dict[str, Any]
) -> dict[str, Any]:
    before = snapshot(row)
    merged = {**before, **changes}
    await _check(session, row.workspace_id, merged, row.id)
    if merged["key"] != row.key:
        await _refuse_if_used(session, row, "rename its key")
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    return before


async def _refuse_if_used(session: AsyncSession, row: models.Team, doing: str) -> None:
    workspace = await session.get(models.Workspace, row.workspace_id)
    assert workspace is not None
    settings = workspace.settings or {}
    for setting in ("handoff_team", "default_handoff_team"):
        if settings.get(setting) == row.key:
            raise TeamConflict(
                f"team '{row.key}' is the workspace's {setting}; change that before you {doing}"
            )


async def delete_team(session: AsyncSession, row: models.Team) -> None:
    await _refuse_if_used(session, row, "delete it")
    await session.delete(row)
    await session.flush()


async def default_team_key(session: AsyncSession, workspace_id: str) -> str | None:
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    key = (workspace.settings or {}).get("default_handoff_team")
    return str(key) if key else None


async def make_default(session: AsyncSession, row: models.Team) -> str | None:
    """Handoffs that name no team go to ``row`` from now on; returns the previous default."""
    workspace = await session.get(models.Workspace, row.workspace_id)
    assert workspace is not None
    previous = (workspace.settings or {}).get("default_handoff_team")
    workspace.settings = {**(workspace.settings or {}), "default_handoff_team": row.key}
    await session.flush()
    return str(previous) if previous else None


async def set_availability(row: models.Team, online_agents: int, now: datetime) -> None:
    row.online_agents, row.availability_updated_at = online_agents, now
