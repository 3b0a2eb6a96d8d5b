"""Versioned prompts: list, versions, create, diff, activate, roll back, preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from agent_service.agent.preview import preview_conversation
from agent_service.api.deps import (
    AdminKey,
    AgentDepsDep,
    ClockDep,
    SessionDep,
    UnitOfWork,
    UnitOfWorkDep,
)
from agent_service.api.errors import documented
from agent_service.db import models
from agent_service.prompts import versions as prompt_versions
from agent_service.prompts.templates import PROMPT_FILES, validate
from agent_service.schemas.brains import LLM, OFFLINE_PLANNER, PROMPTS_READ
from agent_service.schemas.prompts import (
    PreviewRequest,
    PreviewResponse,
    PreviewTurn,
    PromptDiff,
    PromptName,
    PromptSummary,
    PromptVersionCreate,
    PromptVersionPublic,
)
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])
VersionPath = Annotated[int, Path(ge=1, le=1_000_000, examples=[2])]
NOT_FOUND = "No such prompt or version."
INVALID = "The body is empty, malformed, or uses an unknown variable (named in `detail`)."


def _public(row: models.PromptVersion) -> PromptVersionPublic:
    return PromptVersionPublic(
        name=row.name,
        version=row.version,
        active=row.active,
        body=row.body,
        created_at=row.created_at,
    )


@router.get("", response_model=list[PromptSummary], responses=documented())
async def list_prompts(principal: AdminKey, session: SessionDep) -> list[PromptSummary]:
    """Each prompt with its active and latest version."""
    found: list[PromptSummary] = []
    for name in PROMPT_FILES:
        rows = await prompt_versions.versions(session, principal.workspace_id, name)
        active = next((r.version for r in rows if r.active), None)
        found.append(
            PromptSummary(
                name=name,
                active_version=active,
                latest_version=max((r.version for r in rows), default=0),
                versions=len(rows),
            )
        )
    return found


@router.get(
    "/{name}/versions",
    response_model=list[PromptVersionPublic],
    responses=documented(not_found=NOT_FOUND),
)
async def list_versions(
    name: PromptName, principal: AdminKey, session: SessionDep
) -> list[PromptVersionPublic]:
    """Every version of the prompt, oldest first, with which one is active."""
    return [
        _public(r) for r in await prompt_versions.versions(session, principal.workspace_id, name)
    ]


@router.get(
    "/{name}/versions/{version}",
    response_model=PromptVersionPublic,
    responses=documented(not_found=NOT_FOUND),
)
async def get_version(
    name: PromptName, version: VersionPath, principal: AdminKey, session: SessionDep
) -> PromptVersionPublic:
    """One version of the prompt: its text, whether it is active, when it was made."""
    return _public(
        await prompt_versions.get_version(session, principal.workspace_id, name, version)
    )


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=PromptVersionPublic,
    responses=documented(not_found=NOT_FOUND, invalid=INVALID),
)
async def create_version(
    name: PromptName,
    body: PromptVersionCreate,
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
) -> PromptVersionPublic:
    """Store a new version (validated); activate it now if asked."""
    now = clock()
    row = await prompt_versions.create_version(
        uow.session, principal.workspace_id, name, body.body, now
    )
    _audit(uow, principal, "prompt.create_version", name, None, {"version": row.version}, now)
    if body.activate:
        previous, row = await prompt_versions.activate(
            uow.session, principal.workspace_id, name, row.version
        )
        _audit(uow, principal, "prompt.activate", name, previous, row.version, clock())
    return _public(row)


@router.get("/{name}/diff", response_model=PromptDiff, responses=documented(not_found=NOT_FOUND))
async def diff(
    name: PromptName,
    principal: AdminKey,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000, examples=[1])],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000, examples=[2])],
) -> PromptDiff:
    """What changed between two versions, as a unified diff."""
    old = await prompt_versions.get_version(session, principal.workspace_id, name, from_version)
    new = await prompt_versions.get_version(session, principal.workspace_id, name, to_version)
    return PromptDiff(
        name=name,
        from_version=from_version,
        to_version=to_version,
        diff=prompt_versions.diff(name, old, new),
    )


@router.post(
    "/{name}/versions/{version}/activate",
    response_model=PromptVersionPublic,
    responses=documented(not_found=NOT_FOUND),
)
async def activate(
    name: PromptName,
    version: VersionPath,
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
) -> PromptVersionPublic:
    """Make this version the one turns use, from the next message on."""
    now = clock()
    session = uow.session
    previous, row = await prompt_versions.activate(session, principal.workspace_id, name, version)
    _audit(uow, principal, "prompt.activate", name, previous, row.version, now)
    return _public(row)


@router.post(
    "/{name}/rollback",
    response_model=PromptVersionPublic,
    responses=documented(not_found=NOT_FOUND, conflict="There is no earlier version to return to."),
)
async def rollback(
    name: PromptName, principal: AdminKey, clock: ClockDep, uow: UnitOfWorkDep
) -> PromptVersionPublic:
    """Re-activate the version that was active before the current one."""
    now = clock()
    session = uow.session
    target = await prompt_versions.rollback_target(session, principal.workspace_id, name)
    previous, row = await prompt_versions.activate(session, principal.workspace_id, name, target)
    _audit(uow, principal, "prompt.rollback", name, previous, row.version, now)
    return _public(row)


@router.post(
    "/preview",
    response_model=PreviewResponse,
    responses=documented(not_found=NOT_FOUND, invalid=INVALID),
)
async def preview(
    body: PreviewRequest, principal: AdminKey, deps: AgentDepsDep, session: SessionDep
) -> PreviewResponse:
    """Run a short conversation against draft (or stored, inactive) prompts. Nothing is stored
    and no contact changes; see the replies, tool calls, retrieved passages and refusals."""
    overrides: dict[str, tuple[str, int]] = {}
    for name, version in body.versions.items():
        row = await prompt_versions.get_version(session, principal.workspace_id, name, version)
        overrides[name] = (row.body, row.version)
    for name, draft in body.drafts.items():
        validate(name, draft)
        overrides[name] = (draft, 0)
    label, turns = await preview_conversation(
        deps,
        principal.workspace_id,
        body.messages,
        overrides,
        contact_name=body.contact_name,
        locale=body.locale,
        contact_id=body.contact_id,
    )
    brain = LLM if deps.chat_model is not None else OFFLINE_PLANNER
    read = PROMPTS_READ[brain]
    unread = sorted(set(overrides) - set(read))
    notes = [
        f"the {brain} brain answers this workspace and does not read the '{name}' prompt: "
        f"this draft changes nothing here"
        + (
            " until a model is configured (AGENT_SERVICE_LLM_MODEL)"
            if brain == OFFLINE_PLANNER
            else ""
        )
        for name in unread
    ]
    return PreviewResponse(
        prompt_version=label,
        brain=brain,
        prompts_read=list(read),
        notes=notes,
        turns=[PreviewTurn(**t) for t in turns],
    )


def _audit(
    uow: UnitOfWork,
    principal: Principal,
    action: str,
    name: str,
    before: int | None,
    after: int | dict[str, int],
    now: datetime,
) -> None:
    uow.audit(
        principal,
        action=action,
        target_type="prompt",
        target_id=name,
        before=None if before is None else {"active_version": before},
        after=after if isinstance(after, dict) else {"active_version": after},
        now=now,
    )
