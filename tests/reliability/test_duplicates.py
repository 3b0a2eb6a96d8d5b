"""The same message delivered 10 times, in a row and at once, and after a restart: one turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import CHANNEL, message
from tests.reliability.harness import LiveServer, live_server

TEXT = "I want to book the hydrating facial this Saturday"


def booking_model() -> ScriptedChatModel:
    """One scripted step: a second agent run would find the script empty and fail loudly."""
    return ScriptedChatModel(
        steps=[
            reply(
                "Lovely! Which branch would you like?",
                tool_call(
                    "update_lifecycle_stage",
                    stage="Hot Lead",
                    reason="wants to book",
                    evidence=TEXT,
                    confidence=0.9,
                ),
            )
        ]
    )


def assert_one_turn(server: LiveServer, contact: str) -> None:
    contact_row = "(select id from contacts where external_id = ?)"
    assert (
        server.count(f"select count(*) from turns where contact_id = {contact_row}", contact) == 1
    )
    assert (
        server.count(
            f"select count(*) from messages where direction = 'out' and contact_id = {contact_row}",
            contact,
        )
        == 1
    )
    assert (
        server.count(
            f"select count(*) from stage_changes where actor = 'ai' and contact_id = {contact_row}",
            contact,
        )
        == 1
    )


def test_ten_sequential_deliveries_get_the_original_response(data_dir: Path) -> None:
    model = booking_model()
    body = message(TEXT, contact="c-seq")
    with live_server(data_dir, chat_model=model) as server, httpx.Client() as http:
        answers = [
            http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL) for _ in range(10)
        ]
        assert [a.status_code for a in answers] == [200] * 10
        assert all(a.json() == answers[0].json() for a in answers)
        assert answers[0].json()["contact"]["lifecycle_stage"] == "Hot Lead"
        assert len(model.calls) == 1
        assert_one_turn(server, "c-seq")


def test_ten_concurrent_deliveries_make_one_agent_run(data_dir: Path) -> None:
    model = booking_model()
    body = message(TEXT, contact="c-conc")

    async def deliver(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            return await asyncio.gather(
                *(http.post(f"{url}/v1/messages", json=body, headers=CHANNEL) for _ in range(10))
            )

    with live_server(data_dir, chat_model=model) as server:
        answers = asyncio.run(deliver(server.url))
        assert [a.status_code for a in answers] == [200] * 10
        first: dict[str, Any] = answers[0].json()
        assert all(a.json() == first for a in answers)
        assert first["status"] == "replied" and first["reply"]["text"].startswith("Lovely")
        assert len(model.calls) == 1
        assert_one_turn(server, "c-conc")


def test_a_delivery_after_a_restart_is_answered_from_the_database(data_dir: Path) -> None:
    body = message(TEXT, contact="c-restart")
    with live_server(data_dir, chat_model=booking_model()) as server, httpx.Client() as http:
        original = http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL).json()
    untouched = ScriptedChatModel(steps=[])  # any call fails the test
    with live_server(data_dir, chat_model=untouched) as server, httpx.Client() as http:
        repeat = http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL)
        assert repeat.status_code == 200
        assert repeat.json() == original
        assert untouched.calls == []
        assert_one_turn(server, "c-restart")
