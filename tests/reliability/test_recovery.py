"""Messages stored but never answered are answered at start-up, once, by the same queue."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent_service.conversations import inbox
from agent_service.schemas.messages import InboundMessage
from agent_service.service import build_service
from tests.conftest import CHANNEL, ClientFactory, make_settings, message
from tests.reliability.harness import wait_until


def store_without_answering(data_dir: Path, *bodies: dict[str, object]) -> None:
    """What a crash between storing and answering leaves behind."""
    service = build_service(make_settings(data_dir))

    async def store() -> None:
        await service.start()
        for body in bodies:
            inbound = InboundMessage.model_validate(body)
            await inbox.receive(service.deps.sessions, "ws_demo", inbound, service.deps.clock())
        await service.stop()

    asyncio.run(store())


def rows(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "agent_service.db") as db:
        return db.execute(sql).fetchall()


def test_unanswered_messages_are_answered_at_start_up_in_sent_at_order(
    data_dir: Path, make_client: ClientFactory
) -> None:
    later = message("and in Hanoi?", contact="c-rec", sent_at="2026-11-22T06:00:05Z")
    earlier = message("How much is the facial?", contact="c-rec", sent_at="2026-11-22T06:00:00Z")
    store_without_answering(data_dir, later, earlier)
    assert rows(data_dir, "select count(*) from messages where status = 'received'") == [(2,)]

    with make_client() as client:
        wait_until(
            lambda: (
                rows(data_dir, "select count(*) from messages where status = 'received'") == [(0,)]
            )
        )
        repeat = client.post("/v1/messages", json=earlier, headers=CHANNEL)
        assert repeat.status_code == 200 and repeat.json()["status"] == "replied"
    answered = rows(
        data_dir,
        "select m.channel_message_id from turns t join messages m on m.id = t.inbound_message_id"
        " order by t.created_at",
    )
    assert answered == [(earlier["message_id"],), (later["message_id"],)]
    assert rows(data_dir, "select count(*) from messages where direction = 'out'") == [(2,)]


def test_a_turn_that_failed_is_retried_by_the_sweep_without_a_restart(data_dir: Path) -> None:
    """The first turn dies (the knowledge base is down); the message stays stored and is
    tried again after its back-off (no longer a 500 for the caller, who gets that answer);
    the platform's retry then gets the same answer."""
    import httpx

    from tests.reliability.harness import live_server

    body = message("How much is the facial?", contact="c-sweep")
    with live_server(data_dir, unanswered_sweep_seconds=0.2) as server:
        knowledge = server.service.deps.knowledge
        real_search = knowledge.search
        failures = [RuntimeError("knowledge base unavailable")]

        async def flaky_search(*args: object, **kwargs: object) -> object:
            if failures:
                raise failures.pop()
            return await real_search(*args, **kwargs)  # type: ignore[arg-type]

        knowledge.search = flaky_search  # type: ignore[method-assign]
        with httpx.Client(timeout=60) as http:
            first = http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL)
            assert first.status_code == 200 and first.json()["status"] == "replied"
            wait_until(
                lambda: (
                    server.rows("select status from messages where direction = 'in'")
                    == [("processed",)]
                )
            )
            retry = http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL)
        assert retry.status_code == 200 and retry.json() == first.json()
        assert server.count("select count(*) from turns") == 1
