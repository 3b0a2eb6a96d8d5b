"""Stage history: the one writer of ``StageChange`` rows and of the contact's stage fields.

Every lifecycle move or lost mark, whoever makes it (the AI's turn, a human's event or
approval, a stage deleted, a conversion, a follow-up gone unanswered, a contact's first
message), is written here, so the history and the contact always agree. The roll-up hook
(reports/rollups.py) sees the added rows when the session flushes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core import metrics
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.db.after_commit import after_commit
from agent_service.lifecycle.stays import refresh_stays

ACTORS = frozenset({"ai", "human", "system"})
KINDS = frozenset({"stage", "lost"})


def add_stage_change(
    session: AsyncSession,
    *,
    workspace_id: str,
    contact_id: str,
    kind: str,
    from_stage: str | None,
    to_stage: str,
    actor: str,
    reason: str,
    evidence: str,
    now: datetime,
    confidence: float | None = None,
    prompt_version: str | None = None,
    model: str | None = None,
    turn_id: str | None = None,
) -> models.StageChange:
    """The history row alone, for a caller that writes the contact's stage itself (a new
    contact is created in its entry stage; a turn's save updates the contact in one statement)."""
    row = models.StageChange(
        id=new_id("sc"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor,
        reason=reason,
        evidence=evidence,
        confidence=confidence,
        prompt_version=prompt_version,
        model=model,
        turn_id=turn_id,
        created_at=now,
    )
    session.add(row)
    _count(session, actor, kind)
    return row


def _count(session: AsyncSession, actor: str, kind: str, times: int = 1) -> None:
    counted = metrics.LIFECYCLE_CHANGES.labels(
        metrics.bounded(actor, ACTORS), metrics.bounded(kind, KINDS)
    )
    after_commit(session, lambda: counted.inc(times))  # counted once it is true


async def add_first_stages(
    session: AsyncSession, firsts: list[tuple[str, str, str, str, str]], now: datetime
) -> None:
    """The history rows of contacts created just now in their entry stage, by the system:
    (workspace_id, contact_id, to_stage, reason, evidence) each. One Core insert for a batch
    of new contacts (a campaign spike: the ORM's flush of a thousand rows cost more than the
    rest of storing them); the stays are refreshed as the roll-up hook does after a flush."""
    if not firsts:
        return
    await session.execute(
        insert(models.StageChange),
        [
            {
                "id": new_id("sc"),
                "workspace_id": workspace_id,
                "contact_id": contact_id,
                "kind": "stage",
                "from_stage": None,
                "to_stage": to_stage,
                "actor": "system",
                "reason": reason,
                "evidence": evidence,
                "confidence": None,
                "prompt_version": None,
                "model": None,
                "turn_id": None,
                "created_at": now,
            }
            for workspace_id, contact_id, to_stage, reason, evidence in firsts
        ],
    )
    contacts = {contact_id for _, contact_id, _, _, _ in firsts}
    await session.run_sync(lambda sync: refresh_stays(sync.connection(), contacts))
    _count(session, "system", "stage", len(firsts))


def record_stage_change(
    session: AsyncSession,
    contact: models.Contact,
    *,
    to_stage: str,
    lost: bool,
    lost_reason: str | None,
    actor: str,
    reason: str,
    evidence: str,
    now: datetime,
    confidence: float | None = None,
    prompt_version: str | None = None,
    model: str | None = None,
    turn_id: str | None = None,
) -> models.StageChange:
    """Move ``contact`` to ``to_stage`` (a lost mark when ``lost``) and record it.

    The row's kind follows ``lost`` and its from_stage is the contact's stage before the move.
    The contact takes the stage, the lost flag, ``lost_reason`` (pass ``contact.lost_reason``
    to keep it) and ``now`` as its update time.
    """
    row = add_stage_change(
        session,
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        kind="lost" if lost else "stage",
        from_stage=contact.lifecycle_stage,
        to_stage=to_stage,
        actor=actor,
        reason=reason,
        evidence=evidence,
        now=now,
        confidence=confidence,
        prompt_version=prompt_version,
        model=model,
        turn_id=turn_id,
    )
    contact.lifecycle_stage, contact.lost, contact.lost_reason = to_stage, lost, lost_reason
    contact.updated_at = now
    return row
