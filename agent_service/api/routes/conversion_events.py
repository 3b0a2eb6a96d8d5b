from typing import Annotated, Any

from fastapi import APIRouter, Depends

from agent_service.api.deps import SessionDep, UnitOfWorkDep, require
from agent_service.api.errors import ERROR_RESPONSES, InvalidBody
from agent_service.db import models
from agent_service.lifecycle.conversions import (
    conversion_stages,
    save_conversion_stages,
)
from agent_service.schemas.conversion_events import ConversionStagesPublic, ConversionStagesUpdate
from agent_service.workspaces.api_keys import Principal
from agent_service.workspaces.config import load_workspace_config

router = APIRouter(prefix="/v1/conversion-events", tags=["conversion events"])
AdminKey = Annotated[Principal, Depends(require("admin"))]
REJECTED: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidBody, "description": "A stage that is unknown or lost."}
}


@router.get("", response_model=ConversionStagesPublic, responses=ERROR_RESPONSES)
async def get_conversion_stages(principal: AdminKey, session: SessionDep) -> ConversionStagesPublic:
    """Which conversion event types move a contact, and to which stage."""
    config = await load_workspace_config(session, principal.workspace_id)
    workspace = await session.get(models.Workspace, principal.workspace_id)
    assert workspace is not None
    return ConversionStagesPublic(stages=conversion_stages(workspace, config.lifecycle))


@router.put("", response_model=ConversionStagesPublic, responses={**ERROR_RESPONSES, **REJECTED})
async def put_conversion_stages(
    body: ConversionStagesUpdate, principal: AdminKey, uow: UnitOfWorkDep
) -> ConversionStagesPublic:
    """Replace the mapping. Targets must be active stages; lost stages are set by people."""
    config = await load_workspace_config(uow.session, principal.workspace_id)
    stages = await save_conversion_stages(
        uow.session, principal.workspace_id, body.stages, config.lifecycle
    )
    return ConversionStagesPublic(stages=stages)
