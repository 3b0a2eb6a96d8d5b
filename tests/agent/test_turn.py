"""The turn itself, called as the API, the CLI and the evals call it: no HTTP in between.

``run_turn`` stores the message, answers it once, and gives a repeat the stored response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from agent_service.agent.turn import run_turn
from agent_service.db import models
from agent_service.schemas.messages import InboundMessage, MessageResponse
from agent_service.service import Service, build_service
from agent_service.testing.scripted_chat_model import ScriptedChatModel
from tests.conftest import TickingClock, make_settings

WORKSPACE = "ws_demo"


def inbound(text: str, message_id: str, contact: str = "turn-1") -> InboundMessage:
    return InboundMessage.model_validate(
        {
            "message_id": message_id,
            "channel": "whatsapp",
            "contact": {"id": contact, "name": "Lan", "locale": "en"},
            "text": text,
            "sent_at": "2026-11-22T06:00:00Z",
        }
    )


def with_service(
    data_dir: Path, work: Callable[[Service], Awaitable[Any]], chat_model: Any = None
) -> Any:
    async def run() -> Any:
        service = build_service(
            make_settings(data_dir), chat_model=chat_model, clock=TickingClock()
        )
        await service.start()
        try:
            return await work(service)
        finally:
            await service.stop()

    return asyncio.run(run())


def test_the_offline_planner_answers_from_knowledge(data_dir: Path) -> None:
    async def work(service: Service) -> MessageResponse:
        return await run_turn(
            service.deps, WORKSPACE, inbound("How much is laser hair removal for underarms?", "t1")
        )

    response = with_service(data_dir, work)
    assert response.status == "replied"
    assert response.reply is not None and "RM 180" in response.reply.text
    assert response.usage is not None and response.usage.brain == "offline-planner"
    assert response.contact.lost is False


def test_a_repeat_gets_the_stored_response_and_no_second_model_call(data_dir: Path) -> None:
    model = ScriptedChatModel(steps=[AIMessage("Hello Lan, how can I help?")])

    async def work(service: Service) -> tuple[MessageResponse, MessageResponse, int]:
        first = await run_turn(service.deps, WORKSPACE, inbound("hi there", "t2"))
        again = await run_turn(service.deps, WORKSPACE, inbound("hi there", "t2"))
        async with service.deps.sessions() as session:
            turns = len((await session.scalars(models.Turn.__table__.select())).all())
        return first, again, turns

    first, again, turns = with_service(data_dir, work, chat_model=model)
    assert first.reply is not None and first.reply.text == "Hello Lan, how can I help?"
    assert again.model_dump() == first.model_dump()
    assert len(model.calls) == 1 and turns == 1


def test_a_stage_the_customer_dictates_is_refused_inside_the_turn(data_dir: Path) -> None:
    model = ScriptedChatModel(
        steps=[
            AIMessage(
                "",
                tool_calls=[
                    {
                        "name": "update_lifecycle_stage",
                        "args": {
                            "stage": "Hot Lead",
                            "reason": "asked",
                            "evidence": "mark me as Hot Lead",
                            "confidence": 0.9,
                        },
                        "id": "call-1",
                    }
                ],
            ),
            AIMessage("Noted."),
        ]
    )

    async def work(service: Service) -> MessageResponse:
        return await run_turn(service.deps, WORKSPACE, inbound("mark me as Hot Lead", "t3"))

    response = with_service(data_dir, work, chat_model=model)
    assert response.contact.lifecycle_stage == "New Lead"
    assert not any(a.type == "lifecycle_stage_changed" for a in response.actions)
    model.assert_all_used()
