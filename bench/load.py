"""Load benchmark: N concurrent conversations in async mode against a slow fake model.

Starts ``agent-service serve`` as its own process on a fresh data directory, with an
OpenAI-compatible fake model (asyncio, every call takes ``--model-seconds``) and a callback
receiver in this process. Every conversation posts one message with ``Prefer: respond-async``
at the same moment; the run ends when every callback has arrived (or the deadline passes).

Reports acknowledgement latency p50/p99, completed replies per second, the service's peak
resident memory, and the failure ratio (refused acks plus missing or failed callbacks).

    python bench/load.py --conversations 1000 --model-seconds 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from agent_service.testing.fake_openai_server import completion

REPO = Path(__file__).resolve().parents[1]
CHANNEL_KEY, ADMIN_KEY = "bench-channel-key-0001", "bench-admin-key-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fakes(
    model_seconds: float, callbacks: dict[str, float], expected: list[int], all_in: asyncio.Event
) -> FastAPI:
    """The slow model and the messaging layer's callback endpoint, both asyncio."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat() -> dict[str, Any]:
        await asyncio.sleep(model_seconds)
        return completion("Our hydrating facial is 600,000 VND; which branch suits you?")

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        callbacks.setdefault(body["response"]["message_id"], time.perf_counter())
        if len(callbacks) >= expected[0]:
            all_in.set()
        return Response(status_code=204)

    return app


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_service(fake_port: int, port: int, burst_window: float) -> subprocess.Popen[bytes]:
    """``agent-service serve`` on a fresh data directory, its model the fake one."""
    data_dir = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    env = {
        **os.environ,
        "AGENT_SERVICE_DATA_DIR": str(data_dir),
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": CHANNEL_KEY,
        "AGENT_SERVICE_DEMO_ADMIN_KEY": ADMIN_KEY,
        "AGENT_SERVICE_LLM_MODEL": "fake-model",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "OPENAI_API_KEY": "not-needed",
        "AGENT_SERVICE_LLM_TIMEOUT_SECONDS": "60",
        "AGENT_SERVICE_BURST_WINDOW_SECONDS": str(burst_window),
        "AGENT_SERVICE_CALLBACK_POLL_SECONDS": "0.2",
    }
    command = [sys.executable, "-c", "from agent_service.cli.main import app; app()", "serve"]
    with (data_dir / "service.log").open("wb") as log:
        return subprocess.Popen(
            [*command, "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=log
        )


async def run(
    args: argparse.Namespace, service: subprocess.Popen[bytes], fake_port: int, port: int
) -> dict[str, Any]:
    callbacks: dict[str, float] = {}
    all_in = asyncio.Event()
    expected = [args.conversations]  # lowered to the number acknowledged once acks are in
    fake = uvicorn.Server(
        uvicorn.Config(
            fakes(args.model_seconds, callbacks, expected, all_in),
            port=fake_port,
            log_level="warning",
        )
    )
    fake_task = asyncio.create_task(fake.serve())
    url = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=args.conversations + 10)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or service.poll() is not None:
                    raise SystemExit("the service did not start; see its service.log")
                await asyncio.sleep(0.2)
            await http.put(
                f"{url}/v1/workspaces/current/delivery",
                json={"callback_url": f"http://127.0.0.1:{fake_port}/hook"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            rss_idle = peak_rss_mb(service.pid)
            headers = {"Authorization": f"Bearer {CHANNEL_KEY}", "Prefer": "respond-async"}

            async def converse(i: int) -> tuple[int, float]:
                body = {
                    "message_id": f"bench-{i}",
                    "channel": "whatsapp",
                    "contact": {"id": f"bench-contact-{i}", "locale": "en"},
                    "text": "How much is the hydrating facial?",
                    "sent_at": datetime.now(UTC).isoformat(),  # live traffic, not a replay
                }
                sent = time.perf_counter()
                try:
                    answer = await http.post(f"{url}/v1/messages", json=body, headers=headers)
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                return status, time.perf_counter() - sent

            # One at a time first: the service's own work per acknowledgement, no queueing.
            alone = sorted([(await converse(-1 - i))[1] for i in range(args.probe)])
            await asyncio.sleep(args.model_seconds + args.burst_window + 2)  # let them finish
            started = time.perf_counter()
            acks = await asyncio.gather(*(converse(i) for i in range(args.conversations)))
            acked = time.perf_counter()
            print(f"acks in after {acked - started:.1f}s; waiting for replies", file=sys.stderr)
            expected[0] = sum(1 for status, _ in acks if status == 202) + args.probe
            if len(callbacks) >= expected[0]:
                all_in.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), args.deadline)
            finished = max(callbacks.values(), default=acked)
        rss_peak = peak_rss_mb(service.pid) if service.poll() is None else float("nan")
    finally:
        fake.should_exit = True
        await fake_task

    latencies = sorted(t for _, t in acks)
    load_1m = os.getloadavg()[0]
    refused = sum(1 for status, _ in acks if status != 202)
    missing = args.conversations + args.probe - len(callbacks)
    return {
        "conversations": args.conversations,
        "model_seconds": args.model_seconds,
        "burst_window_seconds": args.burst_window,
        "ack_alone_p50_ms": round(statistics.median(alone) * 1000, 1) if alone else None,
        "ack_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "ack_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "ack_max_ms": round(latencies[-1] * 1000, 1),
        "all_acked_after_s": round(acked - started, 2),
        "last_reply_after_s": round(finished - started, 2),
        "replies_per_second": round((len(callbacks) - args.probe) / (finished - started), 1),
        "peak_rss_mb": round(rss_peak, 1),
        "idle_rss_mb": round(rss_idle, 1),
        "refused_acks": refused,
        "missing_callbacks": missing,
        "failure_ratio": round((refused + missing) / args.conversations, 4),
        "machine_load_1m_at_end": round(load_1m, 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--model-seconds", type=float, default=2.0)
    parser.add_argument("--burst-window", type=float, default=2.0)
    parser.add_argument("--probe", type=int, default=50, help="Acks sent one by one first.")
    parser.add_argument(
        "--deadline", type=float, default=240.0, help="Seconds to wait for replies."
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    fake_port, port = free_port(), free_port()
    service = start_service(fake_port, port, args.burst_window)
    try:
        figures = asyncio.run(run(args, service, fake_port, port))
    finally:
        service.terminate()
        service.wait(timeout=60)
    print(json.dumps(figures, indent=2))
    if figures["failure_ratio"] >= 0.01:
        raise SystemExit("failure ratio is 1% or more")


if __name__ == "__main__":
    main()
