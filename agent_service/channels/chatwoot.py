"""Chatwoot agent bot: incoming messages answered in the conversation, handoffs opened for the
human agents, human takeover and resolution read as conversation events.

Followed: Chatwoot's agent bot webhook (``AgentBotListener``: ``message_created``,
``message_updated``, ``conversation_opened``, ``conversation_resolved``, ``webwidget_triggered``;
a message's ``webhook_data``: ``id``, ``content``, ``message_type`` incoming/outgoing/activity/
template, ``private``, ``sender`` with its ``type`` contact/user/agent_bot, ``conversation``
with ``id`` (the display id the API uses), ``status`` and ``meta.sender`` / ``meta.assignee``),
the application API's ``POST /api/v1/accounts/{account_id}/conversations/{id}/messages``
(``content``, ``message_type: outgoing``, ``private``) and ``.../toggle_status`` with ``status:
open`` (the documented bot handoff: a bot works conversations in ``pending``), both
authenticated by the ``api_access_token`` header. Chatwoot's bot webhooks carry no
signature: the connection's ``webhook_token`` in the URL (``?token=``) is the authentication.

A human agent's public reply, or an incoming message in a conversation with an assignee,
silences the agent (``human_assigned``); resolving the conversation gives it back
(``conversation_closed``). Chatwoot itself shows no text longer than what its channels carry;
replies are split at 4096 characters, WhatsApp's and Telegram's limit, the smallest of the
channels a Chatwoot inbox commonly fronts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent_service.channels.connections import Connection
from agent_service.channels.platform import (
    Step,
    Webhook,
    as_dict,
    clip,
    from_unix,
    handoff,
    reply_parts,
    same,
)
from agent_service.schemas.contacts import ContactEventIn
from agent_service.schemas.messages import (
    Channel,
    ContactIn,
    InboundMessage,
    MessageResponse,
    ReplyRoute,
)

TEXT_LIMIT = 4096
TOKEN_PARAMETER = "token"
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
# Chatwoot's inbox channel classes, as the service's channels (reports by first channel).
INBOX_CHANNELS: dict[str, Channel] = {
    "Channel::WebWidget": "webchat",
    "Channel::Whatsapp": "whatsapp",
    "Channel::Telegram": "telegram",
    "Channel::Line": "line",
    "Channel::FacebookPage": "messenger",
    "Channel::Instagram": "instagram",
    "Channel::Email": "email",
    "Channel::Sms": "sms",
    "Channel::TwilioSms": "sms",
}


def refusal(
    connection: Connection, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> str | None:
    if same(connection.get("webhook_token"), query.get(TOKEN_PARAMETER)):
        return None
    return (
        "missing or invalid token: the agent bot's webhook URL must end with "
        "?token=<the connection's webhook_token>"
    )


def read(
    connection: Connection, payload: Mapping[str, Any], now: datetime, max_chars: int
) -> Webhook:
    found = Webhook()
    event = str(payload.get("event") or "")
    conversation = as_dict(payload.get("conversation")) if event.startswith("message") else payload
    conversation_id = conversation.get("id")
    meta = as_dict(conversation.get("meta"))
    contact_id = _contact_id(payload, conversation, meta)
    prefix = f"chatwoot:{connection.id}:{conversation_id}"
    if event == "message_created":
        _message(connection, payload, conversation, meta, contact_id, prefix, now, max_chars, found)
    elif event == "conversation_resolved" and contact_id:
        stamp = conversation.get("timestamp") or conversation.get("last_activity_at") or ""
        found.events.append(
            (
                contact_id,
                ContactEventIn(
                    type="conversation_closed", event_id=f"{prefix}:resolved:{stamp}"[:200]
                ),
            )
        )
    elif event == "assignee_changed" and contact_id and as_dict(meta.get("assignee")):
        assignee = as_dict(meta.get("assignee")).get("id")
        stamp = conversation.get("timestamp") or ""
        found.events.append(
            (
                contact_id,
                ContactEventIn(
                    type="human_assigned", event_id=f"{prefix}:assignee:{assignee}:{stamp}"[:200]
                ),
            )
        )
    else:
        found.ignored.append(f"chatwoot event '{event}'")
    return found


def _message(
    connection: Connection,
    payload: Mapping[str, Any],
    conversation: Mapping[str, Any],
    meta: Mapping[str, Any],
    contact_id: str | None,
    prefix: str,
    now: datetime,
    max_chars: int,
    found: Webhook,
) -> None:
    kind = payload.get("message_type")
    kind = MESSAGE_TYPES.get(kind, str(kind)) if isinstance(kind, int) else str(kind)
    sender = as_dict(payload.get("sender"))
    content, message_id = payload.get("content"), payload.get("id")
    if payload.get("private"):
        found.ignored.append("chatwoot private note")
        return
    if kind == "outgoing" and sender.get("type") == "user" and contact_id:
        # A human agent answered the customer: the agent stays silent from now on.
        found.events.append(
            (
                contact_id,
                ContactEventIn(
                    type="human_assigned", event_id=f"{prefix}:reply:{message_id}"[:200]
                ),
            )
        )
        return
    if kind != "incoming":
        found.ignored.append(f"chatwoot {kind} message")
        return
    if not isinstance(content, str) or not content.strip() or message_id is None or not contact_id:
        found.ignored.append("chatwoot incoming message without text")
        return
    if conversation.get("id") is None:
        found.ignored.append("chatwoot message without a conversation id")
        return
    if as_dict(meta.get("assignee")):
        assignee = as_dict(meta.get("assignee")).get("id")
        found.events.append(
            (
                contact_id,
                ContactEventIn(
                    type="human_assigned",
                    event_id=f"{prefix}:assignee:{assignee}:{message_id}"[:200],
                ),
            )
        )
    inbound = InboundMessage(
        message_id=f"chatwoot:{connection.get('account_id')}:{message_id}"[:300],
        channel=INBOX_CHANNELS.get(str(conversation.get("channel") or ""), "other"),
        contact=ContactIn(
            id=contact_id,
            name=_text(sender.get("name"), 200),
            email=_text(sender.get("email"), 200),
            phone=_text(sender.get("phone_number"), 50),
        ),
        text=clip(content, max_chars),
        sent_at=_when(payload.get("created_at"), now),
    )
    found.messages.append(
        inbound.routed(
            ReplyRoute(
                connection_id=connection.id, address={"conversation_id": conversation.get("id")}
            )
        )
    )


def _contact_id(
    payload: Mapping[str, Any], conversation: Mapping[str, Any], meta: Mapping[str, Any]
) -> str | None:
    sender = as_dict(payload.get("sender"))
    if (
        sender.get("type") in (None, "contact")
        and sender.get("id") is not None
        and (payload.get("message_type") in ("incoming", 0))
    ):
        return str(sender["id"])[:200]
    for candidate in (
        as_dict(meta.get("sender")).get("id"),
        as_dict(payload.get("contact")).get("id"),
        as_dict(conversation.get("contact_inbox")).get("contact_id"),
    ):
        if candidate is not None:
            return str(candidate)[:200]
    return None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _when(value: Any, now: datetime) -> datetime:
    if isinstance(value, int | float):
        return from_unix(value, now)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace(" UTC", "+00:00").replace("Z", "+00:00"))
        except ValueError:
            return now
        return parsed if parsed.tzinfo is not None else now
    return now


def steps(
    connection: Connection,
    route: Mapping[str, Any],
    response: MessageResponse,
    first_attempt: bool,
    now: datetime,
) -> list[Step]:
    base = (
        f"{connection.api_base_url}/api/v1/accounts/{connection.get('account_id')}"
        f"/conversations/{route.get('conversation_id')}"
    )
    headers = {"api_access_token": connection.get("api_access_token")}
    parts, passed = reply_parts(response, TEXT_LIMIT), handoff(response)
    found = [
        Step(
            url=f"{base}/messages",
            json={"content": part, "message_type": "outgoing", "private": False},
            headers=headers,
            what=f"Chatwoot message {i}/{len(parts)}",
        )
        for i, part in enumerate(parts, 1)
    ]
    if passed is not None:
        note = f"Handed to {passed.team}: {passed.reason}\n\n{passed.summary}".strip()
        found.append(
            Step(
                url=f"{base}/messages",
                json={"content": note[:150_000], "message_type": "outgoing", "private": True},
                headers=headers,
                what="Chatwoot private note (handoff summary)",
            )
        )
        found.append(
            Step(
                url=f"{base}/toggle_status",
                json={"status": "open"},
                headers=headers,
                what="Chatwoot toggle_status open (handoff)",
            )
        )
    return found


def permanent(status: int, body: Any) -> str | None:
    return None
