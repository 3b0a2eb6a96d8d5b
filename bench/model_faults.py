"""Time to answer under model-provider faults, through HTTP and the real OpenAI client.

Run: python -m bench.model_faults  (about a minute; prints a markdown table for docs/security.md)
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agent_service.agent.model_brain import endpoint_key
from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.service import build_service
from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion

KEY = "bench-channel-key-0001"
SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    # Not printed: the first fallback embeds the intent examples once (about 2 s).
    ("warm-up", {"status": 401}),
    ("circuit open (provider down)", {"status": 500, "open_circuit": True}),
    ("healthy", {"status": 200, "message": completion("We open at 10:00.")}),
    ("429 Retry-After: 1", {"status": 429, "headers": {"Retry-After": "1"}}),
    ("429 insufficient_quota", {"status": 429, "body": {"error": {"code": "insufficient_quota"}}}),
    ("500", {"status": 500}),
    ("dropped connection", {"drop": True}),
    ("invalid JSON body", {"status": 200, "raw": "{not json"}),
    ("slow (10 s per call)", {"delay": 10.0, "status": 200, "message": completion("late")}),
    (
        "invalid tool arguments",
        {"status": 200, "message": completion("", [{"name": "mark_lead_lost", "arguments": "{"}])},
    ),
]


def main() -> None:
    data = Path(tempfile.mkdtemp()) / "data"
    print("| scenario | upstream calls | seconds to answer | brain | recorded error |")
    print("|---|---|---|---|---|")
    with FakeOpenAIServer() as server:
        settings = Settings(
            data_dir=data,
            demo_channel_key=KEY,
            llm_model="fake-model",
            OPENAI_BASE_URL=server.url,
            llm_timeout_seconds=2.0,
            llm_retry_budget_seconds=4.0,
            turn_deadline_seconds=6.0,
            breaker_failure_threshold=100,
            log_level="WARNING",
        )
        service = build_service(settings)
        with TestClient(create_app(settings, service)) as client:
            for i, (name, spec) in enumerate(SCENARIOS):
                server.default, server.requests = spec, []
                if spec.get("open_circuit"):
                    breaker = service.deps.breakers.for_endpoint(endpoint_key(service.deps))
                    breaker.opened_at = service.deps.clock()
                else:
                    service.deps.breakers.breakers.clear()
                body = {
                    "message_id": f"bench.{i}",
                    "channel": "whatsapp",
                    "contact": {"id": f"bench-{i}"},
                    "text": "What time do you open in KL?",
                    "sent_at": "2026-11-22T06:00:00Z",
                }
                started = time.perf_counter()
                response = client.post(
                    "/v1/messages", json=body, headers={"Authorization": f"Bearer {KEY}"}
                )
                seconds = time.perf_counter() - started
                answer = response.json()
                error = asyncio.run(_error(service, answer.get("turn_id")))
                if name == "warm-up":
                    continue
                print(
                    f"| {name} | {len(server.requests)} | {seconds:.2f} | "
                    f"{answer['usage']['brain']} | {(error or '-')[:70]} |"
                )


async def _error(service: Any, turn_id: str | None) -> str | None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from agent_service.db import models
    from agent_service.db.session import create_engine

    engine = create_engine(service.settings.resolved_database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            turn = await session.get(models.Turn, turn_id)
            return turn.error if turn else None
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main()
