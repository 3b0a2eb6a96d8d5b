"""The report roll-ups follow every ORM write, inside the transaction that makes it.

A flush that adds, changes or removes stage changes refreshes those contacts' stage stays; a
flush that adds an outbound message records the contact's first reply; a new handoff gets its
time since the contact's first message. Hooking the flush (and
not each of the writers: turns, events, approvals, follow-ups, stage deletion...) means no
writer can forget it. Bulk core inserts bypass the ORM: they call the same functions.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from agent_service.db import models
from agent_service.lifecycle.stays import refresh_stays
from agent_service.reports.sources import note_first_reply, note_handoff


def _after_flush(session: Session, _flush_context: Any) -> None:
    # After the rows are written, before commit: the same transaction, the new rows visible.
    touched = chain(session.new, session.dirty, session.deleted)
    contacts = {o.contact_id for o in touched if isinstance(o, models.StageChange)}
    replies = [
        (o.contact_id, o.created_at)
        for o in session.new
        if isinstance(o, models.Message) and o.direction == "out"
    ]
    handoffs = [
        (o.id, o.contact_id, o.created_at) for o in session.new if isinstance(o, models.Handoff)
    ]
    if not contacts and not replies and not handoffs:
        return
    connection = session.connection()
    if contacts:
        refresh_stays(connection, contacts)
    for contact_id, sent_at in replies:
        note_first_reply(connection, contact_id, sent_at)
    for handoff in handoffs:
        note_handoff(connection, *handoff)


def keep_rollups_current() -> None:
    """Install the flush hook once per process (every session of every engine)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
