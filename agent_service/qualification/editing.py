"""Editing qualification fields and the rule that makes a lead qualified."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict
from agent_service.core.ids import new_id
from agent_service.db import models

RULE_KEYS = ("qualified_when", "qualified_at_least", "qualified_stage", "handoff_team")


class QualificationConflict(Conflict):
    """The change contradicts the rest of the configuration; the message says what to fix."""


def field_snapshot(row: models.QualificationField) -> dict[str, Any]:
    return {
        "name": row.name,
        "type": row.type,
        "position": row.position,
        "required": row.required,
        "choices": list(row.choices or []),
        "synonyms": dict(row.synonyms or {}),
        "question": dict(row.question or {}),
    }


async def fields(session: AsyncSession, workspace_id: str) -> list[models.QualificationField]:
    rows = await session.scalars(
        select(models.QualificationField)
        .filter_by(workspace_id=workspace_id)
        .order_by(models.QualificationField.position)
    )
    return list(rows.all())


async def get_field(
    session: AsyncSession, workspace_id: str, field_id: str
) -> models.QualificationField | None:
    return await session.scalar(
        select(models.QualificationField).filter_by(workspace_id=workspace_id, id=field_id)
    )


def check_field(values: dict[str, Any]) -> None:
    if values.get("type") == "choice" and not values.get("choices"):
        raise QualificationConflict(f"choice field '{values['name']}' needs choices")
    unknown = set(values.get("synonyms") or {}) - set(values.get("choices") or [])
    if unknown:
        raise QualificationConflict(
            f"synonyms given for unknown choice(s): {', '.join(sorted(unknown))}"
        )


def _check_name_free(
    existing: list[models.QualificationField], name: str, own_id: str | None
) -> None:
    """Field names are unique in a workspace, ignoring case, on create and on rename alike."""
    if any(f.name.casefold() == name.casefold() and f.id != own_id for f in existing):
        raise QualificationConflict(f"a field named '{name}' already exists; pick another name")


async def create_field(
    session: AsyncSession, workspace_id: str, values: dict[str, Any], position: int | None
) -> models.QualificationField:
    check_field(values)
    existing = await fields(session, workspace_id)
    _check_name_free(existing, values["name"], None)
    at = len(existing) if position is None else max(0, min(position, len(existing)))
    for later in existing[at:]:
        later.position += 1
    row = models.QualificationField(
        id=new_id("fld"), workspace_id=workspace_id, position=at, **values
    )
    session.add(row)
    await session.flush()
    return row


async def update_field(
    session: AsyncSession, row: models.QualificationField, changes: dict[str, Any]
) -> dict[str, Any]:
    before = field_snapshot(row)
    if "name" in changes and changes["name"] != row.name:
        _check_name_free(await fields(session, row.workspace_id), changes["name"], row.id)
        rule = await rule_of(session, row.workspace_id)
        if row.name in rule["qualified_when"] or row.name in rule["qualified_at_least"]:
            raise QualificationConflict(
                f"'{row.name}' is used by the qualification rule; update the rule first"
            )
    position = changes.pop("position", None)
    check_field({**before, **changes})
    for key, value in changes.items():
        setattr(row, key, value)
    if position is not None:
        ordered = [f for f in await fields(session, row.workspace_id) if f.id != row.id]
        ordered.insert(min(position, len(ordered)), row)
        for at, field in enumerate(ordered):
            field.position = at
    await session.flush()
    return before


async def delete_field(session: AsyncSession, row: models.QualificationField) -> None:
    rule = await rule_of(session, row.workspace_id)
    if row.name in rule["qualified_when"] or row.name in rule["qualified_at_least"]:
        raise QualificationConflict(
            f"'{row.name}' is used by the qualification rule; update the rule first"
        )
    await session.delete(row)
    await session.flush()


async def rule_of(session: AsyncSession, workspace_id: str) -> dict[str, Any]:
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    settings = workspace.settings or {}
    return {
        "qualified_when": list(settings.get("qualified_when", [])),
        "qualified_at_least": dict(settings.get("qualified_at_least", {})),
        "qualified_stage": settings.get("qualified_stage"),
        "handoff_team": settings.get("handoff_team"),
    }


async def set_rule(
    session: AsyncSession, workspace_id: str, rule: dict[str, Any]
) -> dict[str, Any]:
    """Replace the rule after checking it names existing fields, an active stage and a team."""
    names = {f.name for f in await fields(session, workspace_id)}
    unknown = (set(rule["qualified_when"]) | set(rule["qualified_at_least"])) - names
    if unknown:
        raise QualificationConflict(
            f"unknown field(s) {', '.join(sorted(unknown))}; fields are: "
            f"{', '.join(sorted(names)) or 'none'}"
        )
    stage_name = rule["qualified_stage"]
    if stage_name is not None:
        stage = await session.scalar(
            select(models.LifecycleStage).filter_by(workspace_id=workspace_id, name=stage_name)
        )
        if stage is None or stage.lost:
            raise QualificationConflict(f"qualified_stage '{stage_name}' is not an active stage")
    team_key = rule["handoff_team"]
    if team_key is not None:
        team = await session.scalar(
            select(models.Team).filter_by(workspace_id=workspace_id, key=team_key)
        )
        if team is None:
            raise QualificationConflict(f"handoff_team '{team_key}' is not a team key")
    before = await rule_of(session, workspace_id)
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    workspace.settings = {**(workspace.settings or {}), **{k: rule[k] for k in RULE_KEYS}}
    await session.flush()
    return before
