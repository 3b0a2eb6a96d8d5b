"""Creating workspaces (with the bootstrap admin key or an admin key)."""

from __future__ import annotations

from fastapi import APIRouter, status

from agent_service.agent.verified_facts import editing as facts_settings
from agent_service.api.deps import (
    AgentDepsDep,
    BootstrapOrAdminKey,
    PlatformKey,
    SessionDep,
    UnitOfWorkDep,
)
from agent_service.api.errors import documented, not_found
from agent_service.db import models
from agent_service.schemas.workspaces import (
    KeyCreated,
    VerifiedFactsBody,
    WorkspaceCreate,
    WorkspaceCreated,
    WorkspacePublic,
)
from agent_service.workspaces.api_keys import Principal
from agent_service.workspaces.config import VerifiedFacts
from agent_service.workspaces.setup import create_api_key, create_workspace, default_template

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkspaceCreated,
    responses=documented(invalid="The name is missing or too long."),
)
async def create(
    body: WorkspaceCreate, caller: PlatformKey, deps: AgentDepsDep, uow: UnitOfWorkDep
) -> WorkspaceCreated:
    """Create a workspace with the default stages and prompts and an empty knowledge base.

    The response carries the new workspace's first admin key, shown only this once.
    """
    now = deps.clock()
    settings = deps.settings
    template = default_template(body.name, settings.prompts_dir, settings.demo_dir)
    template.settings.update(
        default_language=body.default_language, business_description=body.business_description
    )
    workspace = await create_workspace(uow.session, template, now)
    key, plain = await create_api_key(
        uow.session, workspace.id, ["admin"], now, label="first admin"
    )
    uow.audit(
        caller,
        workspace_id=workspace.id,
        action="workspace.create",
        target_type="workspace",
        target_id=workspace.id,
        before=None,
        after={"name": workspace.name, "created_by_workspace": caller.workspace_id or None},
        now=now,
    )
    return WorkspaceCreated(
        id=workspace.id,
        name=workspace.name,
        created_at=workspace.created_at,
        admin_key=KeyCreated(id=key.id, key=plain, roles=key.roles, label=key.label),
    )


@router.get(
    "/{workspace_id}",
    response_model=WorkspacePublic,
    responses=documented(not_found="No such workspace, or not the caller's."),
)
async def get(
    workspace_id: str, caller: BootstrapOrAdminKey, session: SessionDep
) -> WorkspacePublic:
    """The workspace's name and creation time."""
    workspace = await session.get(models.Workspace, workspace_id)
    if workspace is None or not caller.manages(workspace_id):
        raise not_found(f"workspace '{workspace_id}'")
    return WorkspacePublic(id=workspace.id, name=workspace.name, created_at=workspace.created_at)


NOT_MANAGED = "No such workspace, or not the caller's."


async def _managed(session: SessionDep, caller: Principal, workspace_id: str) -> models.Workspace:
    workspace = await session.get(models.Workspace, workspace_id)
    if workspace is None or not caller.manages(workspace_id):
        raise not_found(f"workspace '{workspace_id}'")
    return workspace


@router.get(
    "/{workspace_id}/verified-facts",
    response_model=VerifiedFactsBody,
    responses=documented(not_found=NOT_MANAGED),
)
async def get_verified_facts(
    workspace_id: str, caller: BootstrapOrAdminKey, session: SessionDep
) -> VerifiedFactsBody:
    """The payment accounts, phone numbers and links replies may quote."""
    workspace = await _managed(session, caller, workspace_id)
    return VerifiedFactsBody(**facts_settings.facts_of(workspace).model_dump())


@router.put(
    "/{workspace_id}/verified-facts",
    response_model=VerifiedFactsBody,
    responses=documented(
        not_found=NOT_MANAGED,
        invalid="An entry without a number or link the guard can match, a shared host "
        "without its path, too many or too long entries, or an unknown list name.",
    ),
)
async def put_verified_facts(
    workspace_id: str,
    body: VerifiedFactsBody,
    caller: BootstrapOrAdminKey,
    uow: UnitOfWorkDep,
) -> VerifiedFactsBody:
    """Replace the verified payment accounts, phone numbers and links (all three lists; one
    left out becomes empty). A reply quoting any other account number, phone number or link is
    replaced by these, or handed to a person when the workspace lists none of that kind."""
    workspace = await _managed(uow.session, caller, workspace_id)
    before, after = facts_settings.replace_facts(workspace, VerifiedFacts(**body.model_dump()))
    uow.audit(
        caller,
        workspace_id=workspace_id,
        action="workspace.verified_facts",
        target_type="workspace",
        target_id=workspace_id,
        before=before,
        after=after,
    )
    return VerifiedFactsBody(**after)
