"""No handoff loops: a handoff the humans gave back is not repeated for the same reason.

After ``human_released``, ``conversation_closed`` or ``conversation_reopened`` the handoffs
so far count as given back. A new handoff whose reason falls in the same category is refused
unless the customer's latest message itself asks for a person. Questions the knowledge base
cannot answer are always a new reason: the unanswered question is in the new message.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.lifecycle.policy import PolicyRefusal
from agent_service.qualification.fields import fold

_CATEGORIES = (
    ("customer_request", r"\b(asked|asks|wants?|request\w*)\b.*\b(person|human|agent|staff|call)"),
    ("qualified", r"\bqualified\b"),
    ("cannot_answer", r"(no answer|cannot answer|can't answer|not in the knowledge|don't know)"),
)
_ASKS_FOR_PERSON = re.compile(
    r"\b(human|real person|operator|call me|call back|"
    r"(talk|speak|chat) (to|with) (a |an |your |some)?(one|body|person|human|agent|staff|manager)|"
    r"nguoi that|nhan vien|tu van vien|goi cho|goi lai|gap nguoi|"
    r"manusia|staf|ejen|hubungi saya|telefon saya)\b|คุยกับคน|พนักงาน|เจ้าหน้าที่|โทรกลับ",
    re.IGNORECASE,
)


def reason_category(reason: str) -> str:
    """A coarse category of a handoff reason: the unit in which repeats are refused."""
    folded = fold(reason)
    for name, pattern in _CATEGORIES:
        if re.search(pattern, folded):
            return name
    return "other"


def asks_for_person(text: str) -> bool:
    return bool(_ASKS_FOR_PERSON.search(fold(text)))


async def given_back_categories(session: AsyncSession, contact_id: str) -> list[str]:
    """Categories of the contact's handoffs that humans have already given back."""
    reasons = await session.scalars(
        select(models.Handoff.reason).where(
            models.Handoff.contact_id == contact_id, models.Handoff.released_at.is_not(None)
        )
    )
    return sorted({reason_category(r) for r in reasons})


def check_repeat(given_back: list[str], reason: str, latest_customer_words: str) -> None:
    """Refuse a handoff that repeats one the humans gave back, unless the customer asks."""
    category = reason_category(reason)
    if category == "cannot_answer" or asks_for_person(latest_customer_words):
        return
    if category in given_back:
        raise PolicyRefusal(
            "the team already handled a handoff for this reason and gave the conversation "
            "back; keep helping the customer yourself, and hand off only if they ask for a "
            "person or raise something new"
        )
