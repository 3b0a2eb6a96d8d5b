"""Benchmark: POST /v1/messages over HTTP with a zero-latency model and 1,000+ knowledge entries.

Prints messages per second and p50/p99 latency of the service's own work (retrieval, tools,
storage), beside a bare FastAPI endpoint measured the same way in the same run.
Run: `python -m bench.turn_latency [--messages 400] [--concurrency 4]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.serve_fake_model import BENCH_KEY

QUESTIONS = [
    "How much is the hydrating facial in KL?",
    "Gói chăm sóc da mặt giá bao nhiêu?",
    "ทำเลเซอร์กำจัดขนราคาเท่าไหร่คะ",
    "Do you have parking at the Bangkok branch?",
    "Mình muốn đặt lịch thứ 7 này",
    "What payment methods do you accept?",
]


def start(kind: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "bench/serve_fake_model.py", kind, str(port), str(data_dir)],
        env={"PYTHONPATH": ".", **dict(__import__("os").environ)},
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/messages", json={}, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def drive(port: int, messages: int, concurrency: int, run: str) -> tuple[list[float], float, int]:
    url = f"http://127.0.0.1:{port}/v1/messages"
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    client = httpx.Client(timeout=30, headers=headers)

    def one(i: int) -> tuple[float, bool]:
        body = {
            "message_id": f"{run}-{i}",
            "channel": "whatsapp",
            "contact": {"id": f"{run}-contact-{i % 200}"},
            "text": QUESTIONS[i % len(QUESTIONS)],
            "sent_at": "2026-11-22T06:00:00Z",
        }
        started = time.perf_counter()
        response = client.post(url, json=body)
        return (time.perf_counter() - started) * 1000, response.status_code == 200

    for i in range(20):  # warm-up, not measured
        one(-1 - i)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(messages)))
    elapsed = time.perf_counter() - started
    return [r[0] for r in results], messages / elapsed, sum(not r[1] for r in results)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, port in (("bare", 8765), ("agent", 8766)):
            server = start(kind, port, Path(tmp) / kind)
            try:
                sequential, _, failed_seq = drive(port, args.messages // 2, 1, f"{kind}-seq")
                _, throughput, failed = drive(port, args.messages, args.concurrency, f"{kind}-par")
            finally:
                server.terminate()
                server.wait()
            rows.append(
                (
                    kind,
                    percentile(sequential, 50),
                    percentile(sequential, 99),
                    throughput,
                    failed + failed_seq,
                )
            )
    print(f"\n{'endpoint':<10}{'p50 ms':>10}{'p99 ms':>10}{'msg/s':>10}{'failed':>8}")
    for kind, p50, p99, rate, failed in rows:
        print(f"{kind:<10}{p50:>10.1f}{p99:>10.1f}{rate:>10.1f}{failed:>8}")
    agent = rows[1]
    print(
        f"\ntargets: p50 <= 30 ms {'OK' if agent[1] <= 30 else 'MISSED'}, "
        f"p99 <= 80 ms {'OK' if agent[2] <= 80 else 'MISSED'}, "
        f">= 25 msg/s {'OK' if agent[3] >= 25 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
