"""Quick successive messages of one contact get one reply that considers all of them."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent_service.testing.scripted_chat_model import reply
from tests.conftest import CHANNEL, START, ClientFactory, message, send
from tests.reliability.harness import HeldModel, live_server, wait_until

BURST = ["hi", "how much is the facial?", "and do you have a branch in Hanoi?"]


def test_a_burst_is_answered_by_one_reply_and_the_rest_point_to_it(data_dir: Path) -> None:
    def answer(messages: list[BaseMessage]) -> AIMessage:
        return reply(f"one answer to: {messages[-1].content!s}")

    model = HeldModel(reply_for=answer)
    model.gate.set()
    now = datetime.now(UTC)  # the live server runs on the real clock
    bodies = [
        message(text, contact="c-burst", sent_at=(now + timedelta(seconds=i)).isoformat())
        for i, text in enumerate(BURST)
    ]
    window_closed = threading.Event()

    async def sleep(seconds: float) -> None:
        """The burst window, closed by the test once every message is stored."""
        await asyncio.to_thread(window_closed.wait, 30)

    async def deliver(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            # Sent at once, in reverse: the reply still reads them in the customer's order.
            posts = [
                asyncio.create_task(http.post(f"{url}/v1/messages", json=b, headers=CHANNEL))
                for b in reversed(bodies)
            ]
            await asyncio.to_thread(
                wait_until,
                lambda: server.count("select count(*) from messages where direction = 'in'") == 3,
            )
            window_closed.set()
            return list(await asyncio.gather(*posts))

    with live_server(data_dir, chat_model=model, burst_window_seconds=2) as server:
        server.service.deps.sleep = sleep
        answers = [a.json() for a in reversed(asyncio.run(deliver(server.url)))]
        turns = server.count("select count(*) from turns")
        replies = server.count("select count(*) from messages where direction = 'out'")
    assert model.seen == ["\n".join(BURST)]
    assert (turns, replies) == (1, 1)
    last_id = bodies[-1]["message_id"]
    assert answers[-1]["status"] == "replied" and answers[-1]["message_id"] == last_id
    assert answers[-1]["reply"]["text"] == "one answer to: " + "\n".join(BURST)
    for merged, body in zip(answers[:-1], bodies[:-1], strict=True):
        assert merged["status"] == "merged" and merged["reply"] is None
        assert merged["message_id"] == body["message_id"]
        assert merged["answered_by"] == last_id
        assert merged["turn_id"] == answers[-1]["turn_id"]


def test_the_window_waits_through_the_injected_sleep(make_client: ClientFactory) -> None:
    """With the window on, a lone message is answered after one quiet window, no real wait."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with make_client(clock=lambda: START, burst_window_seconds=2.0) as client:
        client.app_state.deps.sleep = sleep
        body = send(client, "How much is the facial?", contact="c-window")
    assert body["status"] == "replied" and body["answered_by"] is None
    assert slept == [2.0]


def test_a_message_sent_long_ago_is_not_held_for_a_burst(make_client: ClientFactory) -> None:
    """A replay, or a message recovered after a restart: its burst closed long ago."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with make_client(clock=lambda: START + timedelta(hours=1), burst_window_seconds=2.0) as client:
        client.app_state.deps.sleep = sleep
        body = send(client, "How much is the facial?", contact="c-replay")
    assert body["status"] == "replied"
    assert slept == []


def test_with_the_window_off_each_message_gets_its_own_reply(make_client: ClientFactory) -> None:
    with make_client(burst_window_seconds=0) as client:
        first = send(client, "hi", contact="c-nowindow")
        second = send(client, "how much is the facial?", contact="c-nowindow")
    assert first["status"] == second["status"] == "replied"
    assert first["turn_id"] != second["turn_id"]
