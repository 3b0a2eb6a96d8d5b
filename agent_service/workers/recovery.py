"""Start-up recovery: messages stored but never answered (a crash mid-turn) are answered now."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import process_contact
from agent_service.db import models

log = logging.getLogger("agent_service.recovery")


async def recover_unanswered(deps: AgentDeps, arrived_before: datetime | None = None) -> int:
    """Queue every contact with messages left "received" (that arrived before
    ``arrived_before``) and no worker in this process; returns how many contacts."""
    query = (
        select(models.Message.workspace_id, models.Contact.id, models.Contact.external_id)
        .join(models.Contact, models.Contact.id == models.Message.contact_id)
        .where(models.Message.status == "received", models.Message.direction == "in")
        .distinct()
    )
    if arrived_before is not None:
        query = query.where(models.Message.created_at < arrived_before)
    async with deps.sessions() as session:
        rows = (await session.execute(query)).all()
    queued = 0
    for workspace_id, contact_row_id, external_id in rows:
        if deps.contact_locks.is_held(workspace_id, external_id):
            continue  # a worker here is on it, or queued for it
        deps.turn_tasks.spawn(process_contact(deps, workspace_id, contact_row_id, external_id))
        queued += 1
    return queued


async def sweep_unanswered(deps: AgentDeps) -> None:
    """Forever: retry messages whose turn failed (say the database was busy) instead of
    leaving them until the next restart."""
    every = deps.settings.unanswered_sweep_seconds
    while True:
        await asyncio.sleep(every)
        try:
            retried = await recover_unanswered(deps, deps.clock() - timedelta(seconds=every))
        except Exception:  # the sweep must outlive a bad moment of the database
            log.exception("sweep for unanswered messages failed")
            continue
        if retried:
            log.warning("retrying unanswered messages of %d contact(s)", retried)
