"""Qualification: the fields to collect and the rule that makes a lead qualified."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.api.deps import AdminKey, SessionDep, UnitOfWorkDep
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
    body: FieldCreate, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> FieldPublic:
    """Add a qualification field the agent asks for and records, at ``position`` in ask order."""
    row = await settings.create_field(
        session, principal.workspace_id, body.model_dump(exclude={"position"}), body.position
    )
    uow.audit(
        principal,
        action="qualification.field_create",
        target_type="qualification",
        target_id=row.id,
        before=None,
        after=settings.field_snapshot(row),
    )
    return _public(row)


@router.patch(
    "/fields/{field_id}",
    response_model=FieldPublic,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def update_field(
    field_id: str, body: FieldUpdate, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> FieldPublic:
    """Change a field's name, type, question, choices, synonyms, position or required flag."""
    row = await settings.get_field(session, principal.workspace_id, field_id)
    if row is None:
        raise not_found(f"field '{field_id}'")
    before = await settings.update_field(session, row, body.model_dump(exclude_unset=True))
    uow.audit(
        principal,
        action="qualification.field_update",
        target_type="qualification",
        target_id=row.id,
        before=before,
        after=settings.field_snapshot(row),
    )
    return _public(row)


@router.delete(
    "/fields/{field_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(not_found=NOT_FOUND, conflict=CONFLICT),
)
async def delete_field(
    field_id: str, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> Response:
    """Delete a field; refused while the qualification rule names it."""
    row = await settings.get_field(session, principal.workspace_id, field_id)
    if row is None:
        raise not_found(f"field '{field_id}'")
    before = settings.field_snapshot(row)
    await settings.delete_field(session, row)
    uow.audit(
        principal,
        action="qualification.field_delete",
        target_type="qualification",
        target_id=field_id,
        before=before,
        after=None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/rule", response_model=Rule, responses=documented(conflict=CONFLICT))
async def set_rule(
    body: Rule, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> Rule:
    """Replace the rule; it must name existing fields, an active stage and a team key."""
    before = await settings.set_rule(session, principal.workspace_id, body.model_dump())
    uow.audit(
        principal,
        action="qualification.rule",
        target_type="qualification",
        target_id=None,
        before=before,
        after=body.model_dump(),
    )
    return body
