"""Prompt preview: a short conversation against draft prompts, with nothing stored.

It runs ``decide`` (the same retrieval, brain, tools and policy as ``run_turn``) on an
in-memory contact and history, and returns what happened instead of saving it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from agent_service.agent.answer import decide
from agent_service.agent.deps import AgentDeps
from agent_service.agent.usage import add_usage
from agent_service.conversations import inbox
from agent_service.conversations.contact_state import ContactState
from agent_service.core.errors import NotFound
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.schemas.messages import InboundMessage
from agent_service.workspaces.config import WorkspaceConfig, load_workspace_config


class ContactNotFound(NotFound):
    """The message is the contact's channel-side id."""

    @property
    def detail(self) -> str:
        return f"contact '{self}' not found in this workspace"


async def preview_conversation(
    deps: AgentDeps,
    workspace_id: str,
    messages: list[str],
    prompt_overrides: dict[str, tuple[str, int]],
    contact_name: str | None = None,
    locale: str | None = None,
    channel: str = "other",
    contact_id: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The prompt version label used, and per message: reply, tool calls, retrieval, refusals.

    With ``contact_id`` the conversation continues from a copy of that contact's state and
    recent messages; the contact itself is never changed.
    """
    past: list[models.Message] = []
    async with deps.sessions() as session:
        config = await load_workspace_config(session, workspace_id, prompt_overrides)
        row = None
        if contact_id is not None:
            row = await session.scalar(
                select(models.Contact).filter_by(workspace_id=workspace_id, external_id=contact_id)
            )
            if row is None:
                raise ContactNotFound(contact_id)
            past = await inbox.history(session, row.id, "", deps.settings.history_messages)
    if row is not None:
        # A working copy: the stored contact is never written.
        contact, locale = inbox.contact_state(row), row.locale
    else:
        contact = ContactState(
            external_id="preview",
            name=contact_name,
            lifecycle_stage=config.lifecycle.entry_stage,
            lost=False,
            lost_reason=None,
            owner="ai",
            assigned_to=None,
            fields={},
            pending_field=None,
            language=None,
        )
    return await _run(deps, config, contact, past, messages, locale, channel)


async def _run(
    deps: AgentDeps,
    config: WorkspaceConfig,
    contact: ContactState,
    past: list[models.Message],
    messages: list[str],
    locale: str | None,
    channel: str,
) -> tuple[str, list[dict[str, Any]]]:
    contact_name = contact.name
    turns: list[dict[str, Any]] = []
    for text in messages:
        now = deps.clock()
        inbound = InboundMessage.model_validate(
            {
                "message_id": new_id("preview"),
                "channel": channel,
                "contact": {"id": "preview", "name": contact_name, "locale": locale},
                "text": text,
                "sent_at": now.isoformat(),
            }
        )
        if contact.owner == "human":
            turns.append(_silent(text, contact))
            continue
        decision = await decide(deps, config, contact, locale, past, inbound.text, channel)
        ctx = decision.ctx
        usage = decision.usage
        if usage.calls:  # previews spend tokens too
            async with deps.sessions() as session, session.begin():
                await add_usage(session, config.id, now.date(), usage)
        contact.language = ctx.language
        tool_calls = [t.as_dict() for t in ctx.tool_log]
        turns.append(
            {
                "message": text,
                "status": "replied",
                "reply": decision.reply,
                "language": ctx.language,
                "brain": decision.brain,
                "tool_calls": tool_calls,
                "refused": [t for t in tool_calls if t["status"] != "applied"],
                "retrieved": [
                    {"id": h.id, "score": h.score, "question": h.question, "answer": h.answer}
                    for h in ctx.retrieved
                ],
                "actions": [a.model_dump(mode="json", by_alias=True) for a in ctx.actions],
                "contact": _contact(contact),
            }
        )
        sent = now + timedelta(milliseconds=1)
        past = [*past, _message("in", text, now), _message("out", decision.reply, sent)]
    return config.prompts.version_label, turns


def _message(direction: str, text: str, at: Any) -> models.Message:
    # Transient rows: never added to a session, only read as conversation history.
    return models.Message(direction=direction, text=text, created_at=at)


def _contact(contact: ContactState) -> dict[str, Any]:
    return {
        "lifecycle_stage": contact.lifecycle_stage,
        "lost": contact.lost,
        "owner": contact.owner,
        "assigned_to": contact.assigned_to,
        "fields": dict(contact.fields),
    }


def _silent(text: str, contact: ContactState) -> dict[str, Any]:
    return {
        "message": text,
        "status": "silent",
        "reply": None,
        "language": contact.language,
        "brain": "none",
        "tool_calls": [],
        "refused": [],
        "retrieved": [],
        "actions": [],
        "contact": _contact(contact),
    }
