"""Serve the real app with a zero-latency scripted model, or a bare FastAPI endpoint.

Used by bench/turn_latency.py as a subprocess:
`python bench/serve_fake_model.py agent|bare PORT DATA_DIR`.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.knowledge_base.store import EntryData
from agent_service.service import build_service
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply
from agent_service.workspaces.setup import DEMO_WORKSPACE_ID

BENCH_KEY = "bench-channel-key-000001"
TOPICS = ["facial", "laser", "peel", "botox", "membership", "parking", "voucher", "refund"]


def filler_entries(n: int) -> list[EntryData]:
    """Distinct, plausible FAQ entries so the index holds ``n`` more documents."""
    return [
        EntryData(
            question=f"Question {i} about {TOPICS[i % len(TOPICS)]} option {i // len(TOPICS)}?",
            answer=f"Answer {i}: the {TOPICS[i % len(TOPICS)]} option {i} costs RM {100 + i}.",
            language="en",
        )
        for i in range(n)
    ]


def agent_app(data_dir: Path) -> FastAPI:
    # The service's own work per message: no rate limits or burst waits in the way.
    settings = Settings(
        data_dir=data_dir,
        demo_channel_key=BENCH_KEY,
        llm_model=None,
        workspace_rate_per_second=100_000,
        workspace_burst=100_000,
        contact_rate_per_second=100_000,
        contact_burst=100_000,
        burst_window_seconds=0,
    )
    model = ScriptedChatModel(steps=[reply("Thanks! Which branch suits you?")], loop=True)
    service = build_service(settings, chat_model=model)

    async def load() -> None:
        await service.start()
        if await service.deps.knowledge.index_size(DEMO_WORKSPACE_ID) < 1000:
            await service.deps.knowledge.add_many(
                DEMO_WORKSPACE_ID, filler_entries(1000), datetime.now(UTC)
            )
        await service.stop()

    asyncio.run(load())
    return create_app(settings, service=build_service(settings, chat_model=model))


class Echo(BaseModel):
    message_id: str
    text: str


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/messages")
    async def echo(body: Echo) -> dict[str, str]:
        return {"message_id": body.message_id, "status": "replied", "reply": body.text}

    return app


if __name__ == "__main__":
    kind, port, data = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = agent_app(data) if kind == "agent" else bare_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
