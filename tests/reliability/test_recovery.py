"""Messages stored but never answered are answered at start-up, once, by the same queue."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent_service import conversations
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
            await conversations.receive(
                service.deps.sessions, "ws_demo", inbound, service.deps.clock()
            )
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
