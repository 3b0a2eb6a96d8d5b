"""Qualification: the fields to collect and the rule that makes a lead qualified."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.api.deps import AdminKey, AgentDepsDep, SessionDep
from agent_service.api.errors import documented, not_found
from agent_service.db import models
from agent_service.qualification import editing as settings
from agent_service.schemas.qualification import (
    FieldCreate,
    FieldPublic,
    FieldUpdate,
    QualificationPublic,
    Rule,
)
from agent_service.workspaces import audit

router = APIRouter(prefix="/v1/qualification", tags=["qualification"])
NOT_FOUND = "No such field in this workspace."
CONFLICT = "The name is taken, the rule uses the field, or choices are missing."


def _public(row: models.QualificationField) -> FieldPublic:
    return FieldPublic(id=row.id, **settings.field_snapshot(row))


@router.get("", response_model=QualificationPublic, responses=documented())
async def get_qualification(principal: AdminKey, session: SessionDep) -> QualificationPublic:
    """The fields, in ask order, and the rule."""
    rows = await settings.fields(session, principal.workspace_id)
    rule = await settings.rule_of(session, principal.workspace_id)
    return QualificationPublic(fields=[_public(r) for r in rows], rule=Rule(**rule))


@router.post(
    "/fields",
    status_code=status.HTTP_201_CREATED,
    response_model=FieldPublic,
    responses=documented(conflict=CONFLICT),
)
async def create_field(
    body: FieldCreate, principal: AdminKey, deps: AgentDepsDep, session: SessionDep
) -> FieldPublic:
    row = await settings.create_field(
        session, principal.workspace_id, body.model_dump(exclude={"position"}), body.position
    )
    audit.record_by_key(
        session,
        principal,
        deps.clock(),
        "qualification",
        "qualification.field_create",
        row.id,
        None,
        settings.field_snapshot(row),
    )
    await session.commit()
    return _public(row)


@router.patch(
    "/fields/{field_id}",
    response_model=FieldPublic,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def update_field(
    field_id: str, body: FieldUpdate, principal: AdminKey, deps: AgentDepsDep, session: SessionDep
) -> FieldPublic:
    row = await settings.get_field(session, principal.workspace_id, field_id)
    if row is None:
        raise not_found(f"field '{field_id}'")
    before = await settings.update_field(session, row, body.model_dump(exclude_unset=True))
    audit.record_by_key(
        session,
        principal,
        deps.clock(),
        "qualification",
        "qualification.field_update",
        row.id,
        before,
        settings.field_snapshot(row),
    )
    await session.commit()
    return _public(row)


@router.delete(
    "/fields/{field_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def delete_field(
    field_id: str, principal: AdminKey, deps: AgentDepsDep, session: SessionDep
) -> Response:
    row = await settings.get_field(session, principal.workspace_id, field_id)
    if row is None:
        raise not_found(f"field '{field_id}'")
    before = settings.field_snapshot(row)
    await settings.delete_field(session, row)
    audit.record_by_key(
        session,
        principal,
        deps.clock(),
        "qualification",
        "qualification.field_delete",
        field_id,
        before,
        None,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/rule", response_model=Rule, responses=documented(conflict=CONFLICT))
async def set_rule(
    body: Rule, principal: AdminKey, deps: AgentDepsDep, session: SessionDep
) -> Rule:
    """Replace the rule; it must name existing fields, an active stage and a team key."""
    before = await settings.set_rule(session, principal.workspace_id, body.model_dump())
    audit.record_by_key(
        session,
        principal,
        deps.clock(),
        "qualification",
        "qualification.rule",
        None,
        before,
        body.model_dump(),
    )
    await session.commit()
    return body
