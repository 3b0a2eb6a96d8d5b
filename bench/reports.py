"""Time every report on a large synthetic workspace.

    PYTHONPATH=. python bench/reports.py --contacts 100000 --messages-per-contact 10 --months 12

Generates the history into a fresh data directory (bulk core inserts), then calls each report
through the HTTP API (in-process ASGI) a few times and prints the timings as a Markdown table.

Baselines measured in the same run, next to each figure: an indexed ``count(*)`` of the rows the
report reads (what merely touching them costs on this machine right now), and the funnel and
speed reports computed the old way (``reports_before.py``: self-joins, percentiles in Python).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.funnel import funnel_report
from agent_service.reports.query import ReportQuery
from agent_service.reports.speed import speed_report
from agent_service.reports.synthetic_history import HistoryShape, generate_history
from agent_service.schemas.reports import ReportMeta
from agent_service.service import Service, build_service
from agent_service.workspaces.config import load_workspace_config
from bench.reports_before import funnel_before, speed_before

ADMIN_KEY = "bench-admin-key-000000001"
REPORTS = [  # name, query, the table whose rows in the period are counted as the yardstick
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
    ("lost, channel=whatsapp", "channel=whatsapp"),
    ("ai-vs-human, team=sales", "team=sales"),
    ("speed, channel=whatsapp", "channel=whatsapp"),
    ("speed, team=sales", "team=sales"),
    ("attribution, campaign", "campaign=ctwa-laser-promo"),
]

YARDSTICK = {
    "funnel": "stage_changes",
    "lost": "stage_changes",
    "ai-vs-human": "stage_changes",
    "speed": "turns",
    "attribution": "conversions",
    "segments": "contacts",
}


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
    start, end = now.replace(year=now.year - 2), now
    query = ReportQuery("ws_demo", start, end)
    print(
        f"\n| report | first call (ms) | median of {args.repeat} (ms) "
        "| yardstick: indexed count(*) of the rows it reads (ms) | bytes |"
    )
    print("|---|---:|---:|---:|---:|")
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
            yardstick = await _median_ms(args.repeat, partial(_count, service, path, query))
            print(
                f"| {name} | {times[0]:.0f} | {statistics.median(times[1:]):.0f} "
                f"| {yardstick:.0f} | {size:,} |"
            )
    await _before_and_after(service, lifecycle, query, args.repeat)
    await service.stop()


async def _median_ms(repeat: int, call: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _count(service: Service, report: str, query: ReportQuery) -> int:
    """The yardstick: count the rows of the report's main table in the period (an index range)."""
    table = models.Base.metadata.tables[YARDSTICK[report]]
    created = table.c.occurred_at if "occurred_at" in table.c else table.c.created_at
    async with service.deps.sessions() as session:
        statement = select(func.count()).where(
            table.c.workspace_id == query.workspace_id, *query.in_period(created)
        )
        return int(await session.scalar(statement) or 0)


async def _before_and_after(
    service: Service, lifecycle: Lifecycle, query: ReportQuery, repeat: int
) -> None:
    """The funnel and speed computed the old way and the new, called directly (no HTTP)."""
    meta = ReportMeta(start=query.start, end=query.end, channel=None, campaign=None, team=None)
    pairs = [
        ("funnel", funnel_before, funnel_report),
        ("speed", speed_before, speed_report),
    ]
    print("\n| report, called directly | before: old queries (ms) | now (ms) | same figures |")
    print("|---|---:|---:|---|")
    for name, before, after in pairs:
        results: dict[str, Any] = {}
        call = partial(_run_report, service, name, query, lifecycle, meta, results)
        old_ms = await _median_ms(repeat, partial(call, "before", before))
        new_ms = await _median_ms(repeat, partial(call, "after", after))
        same = results["before"] == results["after"]
        print(f"| {name} | {old_ms:.0f} | {new_ms:.0f} | {'yes' if same else 'NO'} |")


async def _run_report(
    service: Service,
    name: str,
    query: ReportQuery,
    lifecycle: Lifecycle,
    meta: ReportMeta,
    results: dict[str, Any],
    label: str,
    report: Any,
) -> None:
    async with service.deps.sessions() as session:
        args = (session, query, lifecycle, meta) if name == "funnel" else (session, query, meta)
        results[label] = (await report(*args)).model_dump()


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
