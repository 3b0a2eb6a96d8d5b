"""Handoff teams: hours, fallback, and the online signal from the messaging layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from agent_service.api.deps import (
    AdminKey,
    Clock,
    ClockDep,
    SessionDep,
    UnitOfWork,
    UnitOfWorkDep,
    require,
)
from agent_service.api.errors import documented, not_found
from agent_service.db import models
from agent_service.schemas.teams import Availability, TeamCreate, TeamPublic, TeamUpdate
from agent_service.teams import editing
from agent_service.teams.hours import TeamConfig
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/teams", tags=["teams"])
NOT_FOUND = "No such team in this workspace."
CONFLICT = "Bad time zone or hours, a taken key, or the team is used by the workspace settings."
ChannelOrAdmin = Annotated[Principal, Depends(require("channel", "admin"))]


def _public(row: models.Team, clock: Clock, default_key: str | None) -> TeamPublic:
    config = TeamConfig(
        key=row.key,
        name=row.name,
        timezone=row.timezone,
        business_hours=row.business_hours,
        online_agents=row.online_agents,
    )
    now = clock()
    return TeamPublic(
        id=row.id,
        **editing.snapshot(row),
        online_agents=row.online_agents,
        availability_updated_at=row.availability_updated_at,
        open_now=config.is_open(now),
        available_now=config.unavailable_because(now) is None,
        default=row.key == default_key,
    )


async def _team(session: SessionDep, principal: Principal, team_id: str) -> models.Team:
    row = await editing.get_team(session, principal.workspace_id, team_id)
    if row is None:
        raise not_found(f"team '{team_id}' (neither a team id nor a team key: see GET /v1/teams)")
    return row


@router.get("", response_model=list[TeamPublic], responses=documented())
async def list_teams(principal: AdminKey, clock: ClockDep, session: SessionDep) -> list[TeamPublic]:
    """The teams a conversation can be handed to, with their hours and who is online."""
    default_key = await editing.default_team_key(session, principal.workspace_id)
    rows = await editing.teams(session, principal.workspace_id)
    return [_public(t, clock, default_key) for t in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TeamPublic,
    responses=documented(conflict=CONFLICT),
)
async def create_team(
    body: TeamCreate,
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
) -> TeamPublic:
    """Add a team with its business hours and what it handles."""
    row = await editing.create_team(
        session, principal.workspace_id, body.model_dump(exclude={"default"})
    )
    uow.audit(
        principal,
        action="team.create",
        target_type="team",
        target_id=row.id,
        before=None,
        after=editing.snapshot(row),
    )
    if body.default:
        await _make_default(session, principal, uow, row)
    return _public(row, clock, await editing.default_team_key(session, principal.workspace_id))


@router.get("/{team_id}", response_model=TeamPublic, responses=documented(not_found=NOT_FOUND))
async def get_team(
    team_id: str, principal: AdminKey, clock: ClockDep, session: SessionDep
) -> TeamPublic:
    """One team, with its hours and whether it is open now."""
    default_key = await editing.default_team_key(session, principal.workspace_id)
    return _public(await _team(session, principal, team_id), clock, default_key)


@router.patch(
    "/{team_id}",
    response_model=TeamPublic,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def update_team(
    team_id: str,
    body: TeamUpdate,
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
) -> TeamPublic:
    """Change a team's key, name, description, hours, fallback or whether it is the default."""
    row = await _team(session, principal, team_id)
    changes = body.model_dump(exclude_unset=True, exclude={"default"})
    before = await editing.update_team(session, row, changes)
    uow.audit(
        principal,
        action="team.update",
        target_type="team",
        target_id=row.id,
        before=before,
        after=editing.snapshot(row),
    )
    if body.default:
        await _make_default(session, principal, uow, row)
    return _public(row, clock, await editing.default_team_key(session, principal.workspace_id))


@router.delete(
    "/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def delete_team(
    team_id: str, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> Response:
    """Delete a team; refused while it is the qualification rule's or the default handoff team."""
    row = await _team(session, principal, team_id)
    before = editing.snapshot(row)
    await editing.delete_team(session, row)
    uow.audit(
        principal,
        action="team.delete",
        target_type="team",
        target_id=row.id,
        before=before,
        after=None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{team_id}/availability",
    response_model=TeamPublic,
    responses=documented(not_found=NOT_FOUND),
)
async def set_availability(
    team_id: str,
    body: Availability,
    principal: ChannelOrAdmin,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
) -> TeamPublic:
    """The messaging layer reports how many agents of the team are online (0 = nobody).

    Handoffs while nobody is online follow the team's fallback."""
    row = await _team(session, principal, team_id)
    await editing.set_availability(row, body.online_agents, clock())
    return _public(row, clock, await editing.default_team_key(session, principal.workspace_id))


async def _make_default(
    session: SessionDep, principal: Principal, uow: UnitOfWork, row: models.Team
) -> None:
    previous = await editing.make_default(session, row)
    uow.audit(
        principal,
        action="team.default",
        target_type="team",
        target_id=row.id,
        before={"default_handoff_team": previous},
        after={"default_handoff_team": row.key},
    )
