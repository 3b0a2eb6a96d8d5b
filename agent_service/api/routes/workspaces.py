"""Creating workspaces (with the bootstrap admin key or an admin key)."""

from __future__ import annotations

from fastapi import APIRouter, status

from agent_service import audit
from agent_service.api.deps import AgentDepsDep, BootstrapOrAdminKey, SessionDep
from agent_service.api.responses import documented, not_found
from agent_service.db import models
from agent_service.schemas.workspaces import (
    KeyCreated,
    WorkspaceCreate,
    WorkspaceCreated,
    WorkspacePublic,
)
from agent_service.workspace_setup import create_api_key, create_workspace, default_template

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkspaceCreated,
    responses=documented(invalid="The name is missing or too long."),
)
async def create(
    body: WorkspaceCreate, caller: BootstrapOrAdminKey, deps: AgentDepsDep, session: SessionDep
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
    workspace = await create_workspace(session, template, now)
    key, plain = await create_api_key(session, workspace.id, ["admin"], now, label="first admin")
    audit.record(
        session,
        workspace_id=workspace.id,
        key_id=caller.key_id,
        action="workspace.create",
        target_type="workspace",
        target_id=workspace.id,
        before=None,
        after={"name": workspace.name, "created_by_workspace": caller.workspace_id or None},
        now=now,
    )
    await session.commit()
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
