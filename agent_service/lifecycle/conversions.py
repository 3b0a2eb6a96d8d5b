"""Which conversion events move a contact to which stage, per workspace."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Invalid
from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.schemas.contacts import CONVERSATION_EVENTS

DEFAULT_CONVERSION_STAGES = {"checkout_started": "Payment", "purchase_completed": "Customer"}
SETTINGS_KEY = "conversion_stages"


class MappingRejected(Invalid):
    """A mapping that names an unknown or lost stage, or a conversation event."""


def conversion_stages(workspace: models.Workspace, lifecycle: Lifecycle) -> dict[str, str]:
    """The workspace's mapping; the defaults apply to stages the workspace actually has."""
    stored = (workspace.settings or {}).get(SETTINGS_KEY)
    if isinstance(stored, dict):
        return {str(k): str(v) for k, v in stored.items()}
    return {k: v for k, v in DEFAULT_CONVERSION_STAGES.items() if lifecycle.find(v) is not None}


def check_mapping(mapping: dict[str, str], lifecycle: Lifecycle) -> dict[str, str]:
    """The mapping with stage names as the workspace spells them, or a refusal saying why."""
    checked: dict[str, str] = {}
    for event_type, stage_name in mapping.items():
        if event_type in CONVERSATION_EVENTS:
            raise MappingRejected(f"'{event_type}' is a conversation event, not a conversion")
        stage = lifecycle.find(stage_name)
        if stage is None or stage.lost:
            names = ", ".join(s.name for s in lifecycle.active)
            raise MappingRejected(
                f"'{stage_name}' (for {event_type}) is not an active stage; use one of: {names}"
            )
        checked[event_type] = stage.name
    return checked


async def save_conversion_stages(
    session: AsyncSession, workspace_id: str, mapping: dict[str, str], lifecycle: Lifecycle
) -> dict[str, str]:
    workspace = await session.get(models.Workspace, workspace_id)
    assert workspace is not None
    checked = check_mapping(mapping, lifecycle)
    # A new dict, so SQLAlchemy sees the JSON column change.
    workspace.settings = {**(workspace.settings or {}), SETTINGS_KEY: checked}
    return checked
