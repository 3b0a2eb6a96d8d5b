"""What the report roll-ups cost the message path: turns with the flush hook and without.

    PYTHONPATH=. python bench/report_rollups_cost.py

Posts bursts of 60 messages (mostly new contacts, so each creates a contact, its first stage
and a first reply) through the HTTP API in-process on the offline planner, alternating bursts
with the roll-up hook installed and removed; prints the median latency of each burst.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session

from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.reports import rollups as report_rollups
from agent_service.service import build_service

KEY = "bench-channel-key-00000001"


async def main() -> None:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-rollups-")),
        demo_channel_key=KEY,
        llm_model=None,
        followup_poll_seconds=0,
    )
    service = build_service(settings)
    await service.start()
    app = create_app(settings, service=service)
    app.state.service, app.state.agent_deps = service, service.deps
    transport = httpx.ASGITransport(app=app)
    sent = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def burst(label: str) -> float:
            nonlocal sent
            times = []
            for i in range(60):
                sent += 1
                body = {
                    "message_id": f"wamid.{sent}",
                    "channel": "whatsapp",
                    "contact": {"id": f"c{sent % 97}-{label}", "name": "Lan"},
                    "text": "I want a facial" if i % 3 else "Hello",
                    "sent_at": "2026-11-22T06:00:00Z",
                }
                started = time.perf_counter()
                response = await client.post(
                    "/v1/messages", json=body, headers={"Authorization": f"Bearer {KEY}"}
                )
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            return statistics.median(times)

        await burst("warm-up")
        medians: dict[str, list[float]] = {"with the hook": [], "without": []}
        for n in range(4):
            medians["with the hook"].append(await burst(f"a{n}"))
            event.remove(Session, "after_flush", report_rollups._after_flush)
            medians["without"].append(await burst(f"b{n}"))
            report_rollups.keep_rollups_current()
    for name, values in medians.items():
        print(f"{name}: burst medians (ms) {', '.join(f'{v:.1f}' for v in values)}")
    await service.stop()


if __name__ == "__main__":
    asyncio.run(main())
