"""Chatwoot agent bot through HTTP: its webhook payloads in, the conversation API out to a
fake Chatwoot; handoff opens the conversation, a human's takeover silences the agent."""

from __future__ import annotations

import time
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent_service.testing.scripted_chat_model import reply, tool_call
from tests.channels.platform import (
    FakePlatform,
    connect,
    inbound,
    outbox,
    replying,
    service,
    settled,
    wait_until,
)
from tests.conftest import ADMIN, CHANNEL
from tests.reliability.harness import HeldModel

TOKEN = "chatwoot-webhook-token-0001"
ACCOUNT = 7
_ids = count(9001)


def connection(api: str) -> dict[str, Any]:
    return {
        "type": "chatwoot",
        "name": "Support inbox",
        "api_access_token": "bot-access-token-0001",
        "account_id": str(ACCOUNT),
        "webhook_token": TOKEN,
        "api_base_url": api,
    }


def conversation(
    conversation_id: int, contact_id: int, assignee: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A conversation's webhook data (Conversations::EventDataPresenter)."""
    return {
        "id": conversation_id,
        "inbox_id": 3,
        "status": "pending" if assignee is None else "open",
        "channel": "Channel::WebWidget",
        "can_reply": True,
        "contact_inbox": {
            "id": 180,
            "contact_id": contact_id,
            "inbox_id": 3,
            "source_id": "239a4135",
        },
        "meta": {
            "sender": {"id": contact_id, "name": "Lan", "type": "contact"},
            "assignee": assignee,
            "team": None,
        },
        "messages": [],
        "labels": [],
        "timestamp": int(time.time()),
        "unread_count": 1,
    }


def message(
    text: str,
    conversation_id: int,
    contact_id: int,
    kind: str = "incoming",
    sender: dict[str, Any] | None = None,
    message_id: int | None = None,
    assignee: dict[str, Any] | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """A message_created agent bot payload (Message#webhook_data plus the event)."""
    return {
        "event": "message_created",
        "id": message_id or next(_ids),
        "content": text,
        "created_at": "2026-11-22T06:00:00.000Z",
        "message_type": kind,
        "content_type": "text",
        "content_attributes": {},
        "source_id": None,
        "private": private,
        "sender": sender
        or {
            "id": contact_id,
            "name": "Lan",
            "email": "lan@example.com",
            "phone_number": None,
            "type": "contact",
        },
        "inbox": {"id": 3, "name": "Website"},
        "conversation": conversation(conversation_id, contact_id, assignee),
        "account": {"id": ACCOUNT, "name": "Clinic"},
    }


def resolved(conversation_id: int, contact_id: int) -> dict[str, Any]:
    return {
        **conversation(conversation_id, contact_id),
        "status": "resolved",
        "event": "conversation_resolved",
    }


def post(
    http: httpx.Client, hook: str, payload: dict[str, Any], token: str | None = TOKEN
) -> httpx.Response:
    return http.post(hook, params={"token": token} if token else {}, json=payload)


def test_token_checked_answered_once_own_messages_ignored_5xx_retried(data_dir: Path) -> None:
    platform = FakePlatform(script=[500])
    model = replying("Hello! How can I help?")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        first = message("Hi, is the clinic open on Sunday?", 42, 77, message_id=5001)
        assert post(http, hook, first, token="wrong-token-0000000").status_code == 401
        assert post(http, hook, first, token=None).status_code == 401
        assert inbound(data_dir, "webchat") == []
        for _ in range(3):  # Chatwoot retried it: one answer
            assert post(http, hook, first).json() == {"accepted": 1, "ignored": 0}
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        time.sleep(0.5)
        own = message(
            "Hello! How can I help?",
            42,
            77,
            kind="outgoing",
            sender={"id": 1, "name": "Bot", "type": "agent_bot"},
        )
        note = message(
            "internal",
            42,
            77,
            kind="outgoing",
            sender={"id": 5, "name": "Ana", "type": "user"},
            private=True,
        )
        assert post(http, hook, own).json() == {"accepted": 0, "ignored": 1}
        assert post(http, hook, note).json() == {"accepted": 0, "ignored": 1}
        contact = http.get(f"{server.url}/v1/contacts/77", headers=CHANNEL).json()
    assert contact["owner"] == "ai"  # the bot's own reply and a private note are no takeover
    assert inbound(data_dir, "webchat") == [
        (f"chatwoot:{ACCOUNT}:5001", "77", "Hi, is the clinic open on Sunday?")
    ]
    assert [r.status for r in platform.requests] == [500, 200]
    sent = platform.requests[-1]
    assert sent.path == f"/api/v1/accounts/{ACCOUNT}/conversations/42/messages"
    assert sent.headers["api_access_token"] == "bot-access-token-0001"
    assert sent.body == {
        "content": "Hello! How can I help?",
        "message_type": "outgoing",
        "private": False,
    }
    assert len(model.seen) == 1
    assert outbox(data_dir) == [("delivered", 2, 1, None)]


def handoff_or_hello(messages: list[BaseMessage]) -> AIMessage:
    if isinstance(messages[-1], ToolMessage):
        return reply("A colleague will answer you right away!")
    if "person" in str(messages[-1].content):
        return reply(
            "A colleague will answer you right away!",
            tool_call(
                "handoff_to_human",
                reason="the customer asks for a person",
                summary="Lan wants to book a facial on Sunday and asks for a person",
            ),
        )
    return reply("Hello! How can I help?")


def test_a_handoff_opens_the_conversation_with_the_summary_as_a_private_note(
    data_dir: Path,
) -> None:
    platform = FakePlatform()
    model = HeldModel(reply_for=handoff_or_hello)
    model.gate.set()
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        for team in http.get(f"{server.url}/v1/teams", headers=ADMIN).json():  # always open
            patched = http.patch(
                f"{server.url}/v1/teams/{team['id']}", json={"business_hours": {}}, headers=ADMIN
            )
            assert patched.status_code == 200, patched.text
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert (
            post(http, hook, message("Can I talk to a person please?", 43, 78)).status_code == 200
        )
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        contact = http.get(f"{server.url}/v1/contacts/78", headers=CHANNEL).json()
    assert contact["owner"] == "human"
    base = f"/api/v1/accounts/{ACCOUNT}/conversations/43"
    assert [(r.path, r.body.get("private")) for r in platform.requests] == [
        (f"{base}/messages", False),
        (f"{base}/messages", True),
        (f"{base}/toggle_status", None),
    ]
    reply_sent, note, toggle = platform.requests
    assert reply_sent.body["content"] == "A colleague will answer you right away!"
    assert "Lan wants to book a facial on Sunday" in note.body["content"]
    assert toggle.body == {"status": "open"}
    assert outbox(data_dir) == [("delivered", 1, 3, None)]


def test_a_human_reply_silences_the_agent_until_the_conversation_is_resolved(
    data_dir: Path,
) -> None:
    platform = FakePlatform()
    model = replying("Hello! How can I help?")
    agent = {"id": 5, "name": "Ana", "email": "ana@clinic.example", "type": "user"}
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert post(http, hook, message("Hi", 44, 79)).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        # A human agent answers in Chatwoot: the agent stays silent from now on.
        human = post(
            http, hook, message("Hi Lan, Ana here.", 44, 79, kind="outgoing", sender=agent)
        )
        assert human.json() == {"accepted": 0, "ignored": 0}
        assert http.get(f"{server.url}/v1/contacts/79", headers=CHANNEL).json()["owner"] == "human"
        assert post(http, hook, message("Thanks Ana, Sunday at 10?", 44, 79)).status_code == 200
        wait_until(lambda: settled(data_dir, 2), timeout=60)
        # Resolved: the conversation is the agent's again.
        assert post(http, hook, resolved(44, 79)).json() == {"accepted": 0, "ignored": 0}
        assert http.get(f"{server.url}/v1/contacts/79", headers=CHANNEL).json()["owner"] == "ai"
        assert post(http, hook, message("One more question", 44, 79)).status_code == 200
        wait_until(lambda: settled(data_dir, 3), timeout=60)
        # An assignee on the conversation is a takeover too.
        assigned = message("Hello?", 45, 80, assignee={"id": 5, "name": "Ana", "type": "user"})
        assert post(http, hook, assigned).status_code == 200
        wait_until(lambda: settled(data_dir, 4), timeout=60)
        time.sleep(0.3)
    texts = [r.body["content"] for r in platform.requests]
    assert texts == ["Hello! How can I help?", "Hello! How can I help?"]  # none while silent
    assert [row[0] for row in outbox(data_dir)] == ["delivered"] * 4
    assert len(model.seen) == 2
