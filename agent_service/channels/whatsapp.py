"""WhatsApp Cloud API: webhook verification, signed payloads, text replies in the 24-hour
window.

Followed: Meta's Cloud API webhook payloads (``entry[].changes[].value`` with ``metadata``,
``contacts[].profile.name``, ``messages[]`` and ``statuses[]``), the ``X-Hub-Signature-256``
check (HMAC-SHA256 of the raw body with the app secret), the ``hub.mode`` / ``hub.verify_token``
/ ``hub.challenge`` verification request, and ``POST /{version}/{phone_number_id}/messages``
for a text message. A free-form message can be sent only within 24 hours of the customer's
last message (the customer-service window); outside it Meta refuses it (error 131047), so it
is recorded as not sent instead of retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from agent_service.channels.connections import Connection
from agent_service.channels.platform import (
    NotSendable,
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

GRAPH_VERSION = "v21.0"
TEXT_LIMIT = 4096
WINDOW = timedelta(hours=24)
SIGNATURE_HEADER = "X-Hub-Signature-256"
OUTSIDE_WINDOW_CODES = frozenset({131047})  # "Re-engagement message": more than 24 h passed


def challenge(connection: Connection, query: Mapping[str, str]) -> str | None:
    """The ``hub.challenge`` to echo when the verification request carries our verify token."""
    if query.get("hub.mode") != "subscribe":
        return None
    if not same(connection.get("verify_token"), query.get("hub.verify_token")):
        return None
    return query.get("hub.challenge", "")


def refusal(
    connection: Connection, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> str | None:
    """Why the delivery is not Meta's (None when the signature holds)."""
    expected = "sha256=" + hmac_sha256(connection.get("app_secret"), body).hex()
    if same(expected, (headers.get(SIGNATURE_HEADER) or "").strip()):
        return None
    return (
        f"missing or invalid {SIGNATURE_HEADER}: Meta signs each delivery with the app secret; "
        "check the connection's app_secret"
    )


def read(
    connection: Connection, payload: Mapping[str, Any], now: datetime, max_chars: int
) -> Webhook:
    found = Webhook()
    own_number = connection.get("phone_number_id")
    for entry in as_list(payload.get("entry")):
        for change in as_list(as_dict(entry).get("changes")):
            change = as_dict(change)
            value = as_dict(change.get("value"))
            if change.get("field") != "messages":
                found.ignored.append(f"whatsapp field '{change.get('field')}'")
                continue
            number = str(as_dict(value.get("metadata")).get("phone_number_id") or "")
            if number and number != own_number:
                found.ignored.append("whatsapp event for another phone number id")
                continue
            names = {
                str(as_dict(c).get("wa_id")): as_dict(as_dict(c).get("profile")).get("name")
                for c in as_list(value.get("contacts"))
            }
            for message in as_list(value.get("messages")):
                message = as_dict(message)
                inbound = _text_message(connection, message, names, now, max_chars)
                if inbound is None:
                    found.ignored.append(f"whatsapp message of type '{message.get('type')}'")
                else:
                    found.messages.append(inbound)
            for status in as_list(value.get("statuses")):
                found.ignored.append(f"whatsapp status '{as_dict(status).get('status')}'")
            for error in as_list(value.get("errors")):
                found.ignored.append(f"whatsapp error {as_dict(error).get('code')}")
    return found


def _text_message(
    connection: Connection,
    message: Mapping[str, Any],
    names: dict[str, Any],
    now: datetime,
    max_chars: int,
) -> InboundMessage | None:
    body = as_dict(message.get("text")).get("body")
    sender, message_id = str(message.get("from") or ""), str(message.get("id") or "")
    if message.get("type") != "text" or not isinstance(body, str) or not body.strip():
        return None
    if not sender or not message_id:
        return None
    name = names.get(sender)
    inbound = InboundMessage(
        message_id=message_id[:300],
        channel="whatsapp",
        contact=ContactIn(
            id=sender[:200],
            name=name[:200] if isinstance(name, str) and name else None,
            phone=f"+{sender}"[:50] if sender.isdigit() else None,
        ),
        text=clip(body, max_chars),
        sent_at=from_unix(message.get("timestamp"), now),
    )
    return inbound.routed(ReplyRoute(connection_id=connection.id, address={"to": sender}))


def check_window(last_customer_message: datetime | None, now: datetime) -> None:
    """Raise NotSendable when the customer-service window has closed."""
    if last_customer_message is not None and now - last_customer_message > WINDOW:
        raise NotSendable(
            "not sent: outside WhatsApp's 24-hour customer-service window (the customer last "
            f"wrote at {last_customer_message.isoformat()}); only a template message can "
            "reach them now"
        )


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
    url = f"{connection.api_base_url}/{GRAPH_VERSION}/{connection.get('phone_number_id')}/messages"
    headers = {"Authorization": f"Bearer {connection.get('access_token')}"}
    return [
        Step(
            url=url,
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": route.get("to"),
                "type": "text",
                "text": {"preview_url": False, "body": part},
            },
            headers=headers,
            what=f"WhatsApp message {i}/{len(parts)}",
        )
        for i, part in enumerate(parts, 1)
    ]


def permanent(status: int, body: Any) -> str | None:
    """A refusal that a retry cannot change, in words; None to retry."""
    error = as_dict(as_dict(body).get("error"))
    if error.get("code") in OUTSIDE_WINDOW_CODES:
        return "not sent: outside WhatsApp's 24-hour customer-service window (Meta error 131047)"
    return None
