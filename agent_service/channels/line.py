"""LINE Messaging API: signed webhooks, replies by reply token while it is valid, else push.

Followed: the webhook's ``X-Line-Signature`` (base64 of the HMAC-SHA256 of the body with the
channel secret), webhook events (``events[]`` with ``type``, ``message.id``, ``message.text``,
``source.userId``, ``replyToken``, ``timestamp`` in milliseconds, ``webhookEventId``), the
reply endpoint ``POST /v2/bot/message/reply`` (a reply token is used once, soon after the
event) and the push endpoint ``POST /v2/bot/message/push`` with ``X-Line-Retry-Key`` (a retried
push with the same key is not sent twice; LINE answers 409). At most 5 messages a request, 5000
characters a text message. An empty ``events`` list is LINE's "Verify" button.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from agent_service.channels.connections import Connection
from agent_service.channels.platform import (
    Step,
    Webhook,
    as_dict,
    as_list,
    clip,
    from_unix,
    hmac_sha256,
    reply_parts,
    same,
)
from agent_service.schemas.messages import ContactIn, InboundMessage, MessageResponse, ReplyRoute

TEXT_LIMIT = 5000
PER_REQUEST = 5
SIGNATURE_HEADER = "X-Line-Signature"
# LINE documents no exact lifetime for a reply token, only that it must be used soon after
# the event: a reply later than this goes by push.
REPLY_TOKEN_SECONDS = 50


def refusal(
    connection: Connection, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> str | None:
    expected = base64.b64encode(hmac_sha256(connection.get("channel_secret"), body)).decode()
    if same(expected, (headers.get(SIGNATURE_HEADER) or "").strip()):
        return None
    return f"missing or invalid {SIGNATURE_HEADER}: check the connection's channel_secret"


def read(
    connection: Connection, payload: Mapping[str, Any], now: datetime, max_chars: int
) -> Webhook:
    found = Webhook()
    for event in as_list(payload.get("events")):
        event = as_dict(event)
        message, source = as_dict(event.get("message")), as_dict(event.get("source"))
        text, user = message.get("text"), source.get("userId")
        if event.get("type") != "message":
            found.ignored.append(f"line event '{event.get('type')}'")
        elif message.get("type") != "text" or not isinstance(text, str) or not text.strip():
            found.ignored.append(f"line message of type '{message.get('type')}'")
        elif not user or not message.get("id"):
            found.ignored.append("line message without a user id")
        else:
            # Groups and rooms are answered where the message was written.
            to = source.get("groupId") or source.get("roomId") or user
            address = {"to": to, "reply_token": event.get("replyToken")}
            address["reply_until"] = (now + timedelta(seconds=REPLY_TOKEN_SECONDS)).isoformat()
            inbound = InboundMessage(
                message_id=str(message["id"])[:300],
                channel="line",
                contact=ContactIn(id=str(user)[:200]),
                text=clip(text, max_chars),
                sent_at=from_unix(event.get("timestamp"), now, scale=1000.0),
            )
            found.messages.append(
                inbound.routed(ReplyRoute(connection_id=connection.id, address=address))
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
    groups = [parts[i : i + PER_REQUEST] for i in range(0, len(parts), PER_REQUEST)]
    headers = {"Authorization": f"Bearer {connection.get('channel_access_token')}"}
    push_url = f"{connection.api_base_url}/v2/bot/message/push"
    found: list[Step] = []
    for index, group in enumerate(groups):
        messages = [{"type": "text", "text": part} for part in group]
        # The same key on every retry of this push: LINE sends it once.
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"{connection.id}/{response.message_id}/{index}")
        push = Step(
            url=push_url,
            json={"to": route.get("to"), "messages": messages},
            headers={**headers, "X-Line-Retry-Key": str(key)},
            what=f"LINE push {index + 1}/{len(groups)}",
        )
        if index == 0 and first_attempt and _reply_token_valid(route, now):
            found.append(
                Step(
                    url=f"{connection.api_base_url}/v2/bot/message/reply",
                    json={"replyToken": route["reply_token"], "messages": messages},
                    headers=headers,
                    what=f"LINE reply 1/{len(groups)}",
                    instead=push,
                )
            )
        else:
            found.append(push)
    return found


def _reply_token_valid(route: Mapping[str, Any], now: datetime) -> bool:
    if not route.get("reply_token") or not route.get("reply_until"):
        return False
    try:
        return now < datetime.fromisoformat(str(route["reply_until"]))
    except ValueError:
        return False


def accepted(step: Step, status: int) -> bool:
    """A push LINE already accepted under this retry key answers 409: it was sent."""
    return status == 409 and "X-Line-Retry-Key" in step.headers


def permanent(status: int, body: Any) -> str | None:
    return None
