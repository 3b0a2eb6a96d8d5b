"""Call-back requests: a handoff to a team that could not take it, waiting for a phone number.

When the team is closed or nobody is online and its fallback is ``collect_contact``, the
handoff still goes to the team's queue, and the customer is asked for a phone number or an
e-mail address (``handoff_to_human``). The conversation then belongs to the humans, so the
agent stays silent, except for one thing: the customer's answer to that question. Until it
comes, the handoff is *waiting for contact details*; the details the customer sends are
written on the contact and into the handoff's summary (``Call back: ...``), which is what the
team reads when it opens the queue (``GET /v1/contacts/{id}``) and what ends the wait.

The wait is read from the handoff row itself: its reason carries ``CALLBACK_REQUESTED`` (set
by the handoff tool) and its summary no ``CALLBACK_LINE`` yet. It also ends when the handoff is
released, or when a person takes the conversation (a ``human_assigned`` event after it): from
then on the humans talk to the customer themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models

# In a handoff's reason: the team was unavailable and the customer was asked for a call-back.
CALLBACK_REQUESTED = "call-back requested"
# Starts the line the details are written on in the handoff's summary.
CALLBACK_LINE = "Call back:"


@dataclass(frozen=True)
class WaitingCallback:
    """An open handoff whose team asked for a call-back number, none given yet."""

    handoff_id: str
    team: str
    summary: str
    created_at: datetime


def asks_for_callback(reason: str) -> bool:
    return CALLBACK_REQUESTED in reason


def callback_line(phone: str | None, email: str | None) -> str:
    """What the team reads in the handoff: ``Call back: phone +84909123456, e-mail a@b.vn``."""
    given = [f"phone {phone}" if phone else "", f"e-mail {email}" if email else ""]
    return f"{CALLBACK_LINE} {', '.join(g for g in given if g)}"


def with_callback(summary: str, phone: str | None, email: str | None) -> str:
    """The handoff summary with the call-back details on a line of their own."""
    return f"{summary.rstrip()}\n{callback_line(phone, email)}"


async def waiting_callback(session: AsyncSession, contact_row_id: str) -> WaitingCallback | None:
    """The contact's open call-back handoff still waiting for a phone or e-mail, if any."""
    handoff = await session.scalar(
        select(models.Handoff)
        .where(models.Handoff.contact_id == contact_row_id, models.Handoff.released_at.is_(None))
        .order_by(models.Handoff.created_at.desc(), models.Handoff.id.desc())
        .limit(1)
    )
    if (
        handoff is None
        or not asks_for_callback(handoff.reason)
        or f"\n{CALLBACK_LINE}" in handoff.summary
    ):
        return None
    taken = await session.scalar(
        select(models.ContactEvent.id)
        .where(
            models.ContactEvent.contact_id == contact_row_id,
            models.ContactEvent.type == "human_assigned",
            models.ContactEvent.created_at >= handoff.created_at,
        )
        .limit(1)
    )
    if taken is not None:
        return None
    return WaitingCallback(handoff.id, handoff.team, handoff.summary, handoff.created_at)
