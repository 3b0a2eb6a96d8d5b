"""Start-up recovery: messages stored but never answered (a crash mid-turn) are answered now."""

from __future__ import annotations

from sqlalchemy import select

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import process_contact
from agent_service.db import models


async def recover_unanswered(deps: AgentDeps) -> int:
    """Queue every contact with messages left "received"; returns how many contacts."""
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(models.Message.workspace_id, models.Contact.id, models.Contact.external_id)
                .join(models.Contact, models.Contact.id == models.Message.contact_id)
                .where(models.Message.status == "received", models.Message.direction == "in")
                .distinct()
            )
        ).all()
    for workspace_id, contact_row_id, external_id in rows:
        deps.turn_tasks.spawn(process_contact(deps, workspace_id, contact_row_id, external_id))
    return len(rows)
