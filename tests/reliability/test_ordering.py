"""One contact's messages one turn at a time in sent_at order; late ones never move state back;
different contacts in parallel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent_service.testing.scripted_chat_model import reply, tool_call
from tests.conftest import CHANNEL, message
from tests.reliability.harness import HeldModel, live_server, wait_until


def echo(messages: list[BaseMessage]) -> AIMessage:
    return reply(f"noted: {messages[-1].content}")


def test_waiting_messages_are_answered_in_sent_at_order_not_arrival_order(data_dir: Path) -> None:
    model = HeldModel(reply_for=echo)
    first = message("first", contact="c-order", sent_at="2026-11-22T06:00:00Z")
    third = message("third", contact="c-order", sent_at="2026-11-22T06:00:09Z")
    second = message("second", contact="c-order", sent_at="2026-11-22T06:00:05Z")

    async def deliver(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            post = lambda body: http.post(f"{url}/v1/messages", json=body, headers=CHANNEL)  # noqa: E731
            holding = asyncio.create_task(post(first))
            await asyncio.to_thread(wait_until, lambda: model.seen == ["first"])
            # While "first" is mid-turn, "third" arrives before "second".
            later = [asyncio.create_task(post(third))]
            await asyncio.to_thread(wait_until, lambda: stored(2))
            later.append(asyncio.create_task(post(second)))
            await asyncio.to_thread(wait_until, lambda: stored(3))
            model.gate.set()
            return [await holding, *[await t for t in later]]

    with live_server(data_dir, chat_model=model) as server:

        def stored(n: int) -> bool:
            return server.count("select count(*) from messages where direction = 'in'") == n

        answers = asyncio.run(deliver(server.url))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert model.seen == ["first", "second", "third"]
    assert model.max_active == 1
    assert [a.json()["reply"]["text"] for a in answers] == [
        "noted: first",
        "noted: third",
        "noted: second",
    ]


def test_different_contacts_are_answered_concurrently(data_dir: Path) -> None:
    model = HeldModel(reply_for=echo)

    async def deliver(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            tasks = [
                asyncio.create_task(
                    http.post(
                        f"{url}/v1/messages",
                        json=message(f"hello from {c}", contact=c),
                        headers=CHANNEL,
                    )
                )
                for c in ("c-a", "c-b", "c-c")
            ]
            # All three turns reach the model before any of them may finish.
            await asyncio.to_thread(wait_until, lambda: model.active == 3)
            model.gate.set()
            return list(await asyncio.gather(*tasks))

    with live_server(data_dir, chat_model=model) as server:
        answers = asyncio.run(deliver(server.url))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert model.max_active == 3


def test_a_late_message_is_answered_but_never_moves_the_stage_backwards(data_dir: Path) -> None:
    booking = "I want to book the facial on Saturday"
    browsing = "not interested anymore, just looking"

    def decide(messages: list[BaseMessage]) -> AIMessage:
        said = str(messages[-1].content)
        if said == booking:
            move = tool_call(
                "update_lifecycle_stage",
                stage="Hot Lead",
                reason="wants to book",
                evidence=booking,
                confidence=0.9,
            )
            return reply("Great, which branch?", move)
        lost = tool_call(
            "mark_lead_lost", lost_stage="Cold Lead", reason="not interested", evidence=browsing
        )
        return reply("Understood, thank you!", lost)

    model = HeldModel(reply_for=decide)
    model.gate.set()
    with live_server(data_dir, chat_model=model) as server, httpx.Client(timeout=60) as http:
        newer = message(booking, contact="c-late", sent_at="2026-11-22T06:10:00Z")
        older = message(browsing, contact="c-late", sent_at="2026-11-22T06:05:00Z")
        first = http.post(f"{server.url}/v1/messages", json=newer, headers=CHANNEL).json()
        late = http.post(f"{server.url}/v1/messages", json=older, headers=CHANNEL).json()
        contact = http.get(f"{server.url}/v1/contacts/c-late", headers=CHANNEL).json()
    assert first["contact"]["lifecycle_stage"] == "Hot Lead"
    assert late["status"] == "replied" and late["reply"]["text"] == "Understood, thank you!"
    assert late["actions"] == []
    assert late["contact"]["lifecycle_stage"] == "Hot Lead" and late["contact"]["lost"] is False
    assert contact["lifecycle_stage"] == "Hot Lead" and contact["lost"] is False
    assert [c["to_stage"] for c in contact["stage_history"]] == ["New Lead", "Hot Lead"]
