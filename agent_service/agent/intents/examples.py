"""The offline planner's intent examples, editable per workspace."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Invalid
from agent_service.core.ids import ordered_ids
from agent_service.db import models

# The intents the offline planner acts on; "other" holds ordinary messages.
INTENTS = (
    "greeting",
    "ready_to_buy",
    "wants_human",
    "not_interested",
    "bought_elsewhere",
    "spam",
    "other",
)


class IntentError(Invalid):
    pass


async def examples(session: AsyncSession, workspace_id: str) -> dict[str, list[str]]:
    rows = await session.scalars(
        select(models.IntentExample)
        .filter_by(workspace_id=workspace_id)
        .order_by(models.IntentExample.intent, models.IntentExample.id)
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.intent, []).append(row.text)
    return found


async def replace(
    session: AsyncSession, workspace_id: str, intent: str, texts: list[str]
) -> list[str]:
    """Replace one intent's examples (the detector re-embeds them on the next turn)."""
    if intent not in INTENTS:
        raise IntentError(f"unknown intent '{intent}'; intents are: {', '.join(INTENTS)}")
    cleaned = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if not cleaned and intent != "other":
        raise IntentError(f"intent '{intent}' needs at least one non-empty example")
    await session.execute(
        delete(models.IntentExample).where(
            models.IntentExample.workspace_id == workspace_id,
            models.IntentExample.intent == intent,
        )
    )
    # Listed by id (examples() above): in the order the admin gave them.
    for id_, text in zip(ordered_ids("int", len(cleaned)), cleaned, strict=True):
        session.add(
            models.IntentExample(id=id_, workspace_id=workspace_id, intent=intent, text=text)
        )
    await session.flush()
    return cleaned
