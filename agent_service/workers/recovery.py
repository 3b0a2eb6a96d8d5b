"""Unanswered messages find a worker: at start-up, after a failed turn's back-off, and when the
replica answering them died (its lease on the contact expired), within seconds.

Every replica sweeps every ``unanswered_sweep_seconds``; a contact is a candidate when it has
messages still ``received`` whose retry is due and nobody holds its lease (expired, or never
taken for a lease's length). The sweep's worker takes the lease with a conditional update
(conversations/leases.py), so of all the replicas that saw the candidate exactly one answers
it; the others find the lease taken and leave. While a turn runs, its replica renews its
leases every third of ``turn_lease_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import process_contact
from agent_service.db import models

log = logging.getLogger("agent_service.recovery")


async def recover_unanswered(deps: AgentDeps, arrived_before: datetime | None = None) -> int:
    """Queue every contact with messages left "received" whose retry is due and whose lease
    is free or expired, and no worker in this process; returns how many contacts.

    With ``arrived_before`` (the sweep), a contact nobody ever leased counts only for messages
    that arrived before it: a message just stored is about to be leased by its own worker."""
    now, wall = deps.clock(), deps.turn_leases.now()
    message, contact = models.Message, models.Contact
    lease_expired = and_(contact.turn_leased_until.is_not(None), contact.turn_leased_until < wall)
    never_leased: ColumnElement[bool] = contact.turn_leased_by.is_(None)
    if arrived_before is not None:
        never_leased = and_(never_leased, message.created_at < arrived_before)
    query = (
        select(message.workspace_id, contact.id, contact.external_id)
        .join(contact, contact.id == message.contact_id)
        .where(
            message.status == "received",
            message.direction == "in",
            or_(message.retry_at.is_(None), message.retry_at <= now),
            or_(never_leased, lease_expired),
        )
        .distinct()
    )
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
    """Forever: adopt messages whose turn is due for a retry or whose replica died, instead of
    leaving them until the next restart."""
    every = deps.settings.unanswered_sweep_seconds
    grace = deps.settings.turn_lease_seconds
    while True:
        await asyncio.sleep(every)
        try:
            retried = await recover_unanswered(deps, deps.clock() - timedelta(seconds=grace))
        except Exception:  # the sweep must outlive a bad moment of the database
            log.exception("sweep for unanswered messages failed")
            continue
        if retried:
            log.warning(
                "answering unanswered messages of other workers",
                extra={"fields": {"contacts": retried, "replica": deps.turn_leases.replica}},
            )


async def keep_leases(deps: AgentDeps) -> None:
    """Forever: renew this replica's leases while its turns run (every third of a lease), on
    the front door's connections: never behind the turns whose leases it keeps."""
    every = deps.settings.turn_lease_seconds / 3
    while True:
        await asyncio.sleep(every)
        try:
            await deps.turn_leases.renew(deps.front, deps.write_gate)
        except Exception:  # a lease not renewed in time expires: another replica adopts
            log.exception("renewing the turn leases failed")
