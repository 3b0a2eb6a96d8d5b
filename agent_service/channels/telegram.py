"""Telegram Bot API: updates posted to the webhook, replies by ``sendMessage``.

Followed: the Bot API's ``setWebhook`` (the ``secret_token`` comes back in the header
``X-Telegram-Bot-Api-Secret-Token`` of every update), the ``Update`` and ``Message`` objects
(``update_id``, ``message.message_id``, ``from``, ``chat``, ``date``, ``text``) and
``sendMessage`` (``chat_id``, ``text`` of 1-4096 characters). A message id is unique within
its chat only, so the idempotency key is the bot's id, the chat's and the message's.
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
    reply_parts,
    same,
)
from agent_service.schemas.messages import ContactIn, InboundMessage, MessageResponse, ReplyRoute

TEXT_LIMIT = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATE_KINDS = (
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "my_chat_member",
    "chat_member",
    "message_reaction",
)


def refusal(
    connection: Connection, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> str | None:
    if same(connection.get("secret_token"), headers.get(SECRET_HEADER)):
        return None
    return f"missing or invalid {SECRET_HEADER}: give setWebhook the connection's secret_token"


def read(
    connection: Connection, payload: Mapping[str, Any], now: datetime, max_chars: int
) -> Webhook:
    found = Webhook()
    message = as_dict(payload.get("message"))
    if not message:
        kind = next((k for k in UPDATE_KINDS if k in payload), "unknown")
        found.ignored.append(f"telegram update '{kind}'")
        return found
    sender, chat = as_dict(message.get("from")), as_dict(message.get("chat"))
    text = message.get("text")
    if sender.get("is_bot"):
        found.ignored.append("telegram message from a bot")
    elif not isinstance(text, str) or not text.strip():
        kinds = [
            k
            for k in ("photo", "sticker", "voice", "video", "document", "location")
            if k in message
        ]
        found.ignored.append(f"telegram message without text ({', '.join(kinds) or 'other'})")
    elif sender.get("id") is None or chat.get("id") is None or message.get("message_id") is None:
        found.ignored.append("telegram message without sender or chat")
    else:
        bot_id = connection.get("bot_token").split(":", 1)[0]
        name = " ".join(
            str(sender[k]) for k in ("first_name", "last_name") if isinstance(sender.get(k), str)
        )
        inbound = InboundMessage(
            message_id=f"{bot_id}:{chat['id']}:{message['message_id']}"[:300],
            channel="telegram",
            contact=ContactIn(
                id=str(sender["id"])[:200],
                name=name[:200] or None,
                locale=str(sender["language_code"])[:20] if sender.get("language_code") else None,
            ),
            text=clip(text, max_chars),
            sent_at=from_unix(message.get("date"), now),
        )
        found.messages.append(
            inbound.routed(ReplyRoute(connection_id=connection.id, address={"chat_id": chat["id"]}))
        )
    return found


def steps(
    connection: Connection,
    route: Mapping[str, Any],
    response: MessageResponse,
    first_attempt: bool,
    now: datetime,
) -> list[Step]:
    parts = reply_parts(response, TEXT_LIMIT)
    if not parts:
        return []
    url = f"{connection.api_base_url}/bot{connection.get('bot_token')}/sendMessage"
    return [
        Step(
            url=url,
            json={"chat_id": route.get("chat_id"), "text": part},
            headers={},
            what=f"Telegram sendMessage {i}/{len(parts)}",
        )
        for i, part in enumerate(parts, 1)
    ]


def permanent(status: int, body: Any) -> str | None:
    if status == 403:  # "Forbidden: bot was blocked by the user" and the like
        description = as_dict(body).get("description") or "forbidden"
        return f"not sent: Telegram refused the chat ({str(description)[:200]})"
    return None
