"""Time every report on a large synthetic workspace.

    PYTHONPATH=. python bench/reports.py --contacts 100000 --messages-per-contact 10 --months 12

Generates the history into a fresh data directory (bulk core inserts), then calls each report
through the HTTP API (in-process ASGI) a few times and prints the timings as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.service import build_service
from agent_service.synthetic_history import HistoryShape, generate_history
from agent_service.workspace import load_workspace_config

ADMIN_KEY = "bench-admin-key-000000001"
REPORTS = [
    ("funnel", ""),
    ("funnel (csv)", "format=csv"),
    ("funnel (svg)", "format=svg"),
    ("lost", ""),
    ("lost (svg)", "format=svg"),
    ("ai-vs-human", ""),
    ("speed", ""),
    ("attribution", ""),
    ("segments", ""),
    ("segments (Hot Lead, csv)", "stage=Hot Lead&format=csv&limit=100000"),
    ("funnel, channel=whatsapp", "channel=whatsapp"),
    ("funnel, campaign + team", "campaign=ctwa-laser-promo&team=sales"),
]


def calibration_seconds() -> float:
    """A pure-Python yardstick, to read the figures against the machine's load."""
    started = time.perf_counter()
    sum(range(30_000_000))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-reports-"))
    settings = Settings(
        data_dir=data_dir, demo_admin_key=ADMIN_KEY, llm_model=None, followup_poll_seconds=0
    )
    service = build_service(settings)
    started = time.perf_counter()
    await service.start()  # on an existing data set this runs pending migrations and backfills
    print(f"service start (migrations included) took {time.perf_counter() - started:.1f} s")
    now = datetime.now(UTC)
    async with service.deps.sessions() as session:
        lifecycle = (await load_workspace_config(session, "ws_demo")).lifecycle
    if not args.skip_generate:
        print(f"calibration: sum(range(3e7)) took {calibration_seconds():.2f} s")
        shape = HistoryShape(args.contacts, args.months, args.messages_per_contact, args.seed)
        started = time.perf_counter()
        written = await generate_history(service.deps.sessions, "ws_demo", lifecycle, shape, now)
        seconds = time.perf_counter() - started
        print(f"generated in {seconds:.1f} s: {written}")
    if args.no_reports:
        await service.stop()
        return
    app = create_app(settings, service=service)
    app.state.service, app.state.agent_deps = service, service.deps
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    period = f"from={(now.replace(year=now.year - 2)).date()}&to={now.date()}"
    print(f"\ncalibration: sum(range(3e7)) took {calibration_seconds():.2f} s")
    print(f"\n| report | first call (ms) | median of {args.repeat} (ms) | bytes |")
    print("|---|---:|---:|---:|")
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, extra in REPORTS:
            path = name.split(" ")[0].rstrip(",")
            url = f"/v1/reports/{path}?{period}" + (f"&{extra}" if extra else "")
            times, size = [], 0
            for _ in range(args.repeat + 1):
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                size = len(response.content)
            print(f"| {name} | {times[0]:.0f} | {statistics.median(times[1:]):.0f} | {size:,} |")
    await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--messages-per-contact", type=float, default=10.0)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--no-reports", action="store_true", help="Only time the generation.")
    asyncio.run(main(parser.parse_args()))
