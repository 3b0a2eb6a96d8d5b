"""What the intake and throughput benchmarks share: servers, a cheap client, the bench's own
endpoints, CPU and memory readings, the options and the table.

The benchmark client shares the machine's 2 cores with the server it measures, so it has to be
cheap: httpx costs about a millisecond of CPU per request, as much as the work it would
measure. `Pool` is a minimal HTTP/1.1 client over keep-alive connections (requests serialised
once, responses read by status line and Content-Length), and `Endpoints` a minimal server in
the bench process for what the service calls: the callback URL and, when asked, a fake
OpenAI-compatible model that takes a fixed time per call.

Every figure is measured twice in the same run, on the service (`agent-service serve` on a
fresh data directory, embedded defaults, offline planner unless a fake model is given) and on
a baseline (bench/baseline_app.py: a bare FastAPI endpoint of the same shape served by uvicorn
with the same number of workers), driven by the same client in the same way, one after the
other so that they never compete. Beside every column the table prints the machine's load
average before and after, and the CPU other processes used during the measurement (in cores,
from /proc: the machine's busy time minus the bench's, the server's and its PostgreSQL
backends'); a measurement during which others used more than half a core is repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from agent_service.cli.main import app; app()"]
CHANNEL_KEY, ADMIN_KEY = "bench-channel-key-0001", "bench-admin-key-0001"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres:postgres@127.0.0.1/postgres"
POSTGRES_ENV = "AGENT_SERVICE_BENCH_POSTGRES_URL"
BUSY_CORES = 0.5  # others' CPU during a measurement above which it is repeated
HZ = os.sysconf("SC_CLK_TCK")
KEEP = bool(os.environ.get("BENCH_KEEP"))  # keep every server's data directory and log


# ---------------------------------------------------------------- the client


def request_bytes(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request, serialised once so sending it costs a socket write."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    if not chunked:
        return status, (await reader.readexactly(length) if length else b""), close
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        del body[-2:]
        if size == 0:  # no trailers: the servers measured here send none
            return status, bytes(body), close


@dataclass
class Reply:
    status: int  # 0: no response (connection error or timeout)
    body: bytes
    sent: float  # perf_counter at the first write
    done: float  # perf_counter once the whole response was read

    @property
    def seconds(self) -> float:
        return self.done - self.sent


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections to one server; a request takes an idle one (oldest first, so
    none idles past the server's keep-alive timeout while others work) or opens one."""

    def __init__(self, host: str, port: int, timeout: float = 120) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.idle: deque[Connection] = deque()

    async def fill(self, n: int) -> None:
        """Open ``n`` connections now (so that opening them is not measured)."""
        for start in range(0, n, 200):
            batch = range(start, min(n, start + 200))
            self.idle.extend(
                await asyncio.gather(*(Connection.open(self.host, self.port) for _ in batch))
            )

    def close(self) -> None:
        while self.idle:
            self.idle.popleft().close()

    async def send(self, data: bytes) -> Reply:
        sent = time.perf_counter()
        try:
            return await asyncio.wait_for(self._send(data, sent), self.timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            return Reply(0, b"", sent, time.perf_counter())

    async def _send(self, data: bytes, sent: float) -> Reply:
        for attempt in range(2):
            reused = bool(self.idle)
            connection = self.idle.popleft() if reused else await self._open()
            try:
                connection.writer.write(data)
                status, body, close = await read_response(connection.reader)
            except (OSError, asyncio.IncompleteReadError) as error:
                connection.close()
                # A kept-alive connection the server closed while idle: once more, fresh.
                if reused and attempt == 0 and _nothing_read(error):
                    continue
                raise
            if close:
                connection.close()
            else:
                self.idle.append(connection)
            return Reply(status, body, sent, time.perf_counter())
        raise AssertionError("unreachable")

    async def _open(self) -> Connection:
        return await Connection.open(self.host, self.port)

    async def request(
        self, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        return await self.send(request_bytes(method, path, body, headers))


def _nothing_read(error: BaseException) -> bool:
    return not isinstance(error, asyncio.IncompleteReadError) or not error.partial


# ---------------------------------------------------------------- the bench's own endpoints


class Endpoints:
    """The callback URL (``/hook``: records each answered message's id and arrival time) and a
    fake OpenAI-compatible model (``/v1/chat/completions``: answers after ``model_seconds``)."""

    def __init__(self, model_seconds: float = 2.0, reply: str = "") -> None:
        from agent_service.testing.fake_openai_server import completion

        self.model_seconds = model_seconds
        text = reply or "Our hydrating facial is 600,000 VND; which branch suits you?"
        body = json.dumps(completion(text)).encode()
        self._completion = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.callbacks: dict[str, float] = {}
        self.model_calls = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._waiting: tuple[int, asyncio.Event] | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Endpoints:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:  # each handler ends on its connection's end, not cancelled
            writer.transport.abort()
        await asyncio.sleep(0.1)

    def reset(self) -> None:
        self.callbacks.clear()
        self.model_calls = 0

    async def wait_callbacks(self, count: int, within: float) -> bool:
        """Wait until ``count`` distinct messages were called back; False after ``within`` s."""
        if len(self.callbacks) >= count:
            return True
        event = asyncio.Event()
        self._waiting = (count, event)
        try:
            await asyncio.wait_for(event.wait(), within)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"POST /v1/chat/completions"):
                    self.model_calls += 1
                    await asyncio.sleep(self.model_seconds)
                    writer.write(self._completion)
                    continue
                if head.startswith(b"POST /hook"):
                    self._record(body)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        self._writers.discard(writer)
        writer.close()

    def _record(self, body: bytes) -> None:
        message_id = json.loads(body)["response"]["message_id"]
        self.callbacks.setdefault(message_id, time.perf_counter())
        if self._waiting and len(self.callbacks) >= self._waiting[0]:
            self._waiting[1].set()


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Config:
    workers: int
    database: str  # sqlite | postgres
    turn_workers: int = 0  # serve --turn-workers: HTTP workers that run no turns, and these

    @property
    def label(self) -> str:
        split = f"+{self.turn_workers}t" if self.turn_workers else ""
        return f"{self.workers}w{split} {self.database}"


@dataclass
class Server:
    kind: str  # service | baseline
    port: int
    process: asyncio.subprocess.Process
    log: Path
    database: str | None = None  # the PostgreSQL database's name, whose backends count as ours
    answers: bool = True  # calls back with an answer (the baseline only with a model)

    @property
    def pool(self) -> Pool:
        return Pool("127.0.0.1", self.port)

    def pids(self) -> list[int]:
        """The server and its worker processes (and its PostgreSQL backends)."""
        return descendants(self.process.pid) + (postgres_backends(self.database) or [])

    def rss_mb(self) -> float:
        """Resident memory of the server and all its worker processes, summed."""
        return sum(_status_kb(pid, "VmRSS:") for pid in descendants(self.process.pid)) / 1024


def workers_supported() -> bool:
    """Whether this checkout's ``agent-service serve`` takes ``--workers``."""
    help_text = subprocess.run(
        [*CLI, "serve", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout
    return "--workers" in help_text


def turn_workers_supported() -> bool:
    """Whether this checkout's ``agent-service serve`` takes ``--turn-workers``."""
    help_text = subprocess.run(
        [*CLI, "serve", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout
    return "--turn-workers" in help_text


@contextlib.asynccontextmanager
async def service(
    config: Config, args: argparse.Namespace, model_url: str | None = None
) -> AsyncIterator[Server]:
    """``agent-service serve --host 127.0.0.1 --port P [--workers N]`` on a fresh data
    directory (and a fresh PostgreSQL database), the demo workspace's callback URL pointing at
    ``args.endpoints``; the offline planner unless ``model_url`` names a model server."""
    data_dir = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SERVICE_")}
    env.update(
        AGENT_SERVICE_DATA_DIR=str(data_dir),
        AGENT_SERVICE_DEMO_CHANNEL_KEY=CHANNEL_KEY,
        AGENT_SERVICE_DEMO_ADMIN_KEY=ADMIN_KEY,
    )
    if model_url:
        env.update(
            AGENT_SERVICE_LLM_MODEL="fake-model",
            OPENAI_BASE_URL=f"{model_url}/v1",
            OPENAI_API_KEY="not-needed",
            AGENT_SERVICE_LLM_TIMEOUT_SECONDS="60",
        )
    env.update(dict(item.split("=", 1) for item in args.env))
    database = None
    if config.database == "postgres":
        database = f"agent_bench_{uuid.uuid4().hex[:12]}"
        await _postgres(args.postgres_url, f'CREATE DATABASE "{database}"')
        env["AGENT_SERVICE_DATABASE_URL"] = args.postgres_url.rsplit("/", 1)[0] + "/" + database
    port = free_port()
    command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if config.workers > 1 or args.workers_supported:
        command += ["--workers", str(config.workers)]
    if config.turn_workers:
        command += ["--turn-workers", str(config.turn_workers)]
    try:
        async with _started("service", command, env, port, data_dir, database) as server:
            reply = await server.pool.request(
                "PUT",
                "/v1/workspaces/current/delivery",
                {"callback_url": f"{args.endpoints.url}/hook"},
                {"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            if reply.status != 200:
                raise RuntimeError(f"setting the callback URL: {reply.status} {reply.body!r}")
            yield server
    finally:
        if database:
            await _postgres(args.postgres_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def baseline(
    config: Config, args: argparse.Namespace, model_url: str | None = None
) -> AsyncIterator[Server]:
    """bench/baseline_app.py under uvicorn with ``config.workers`` workers; with ``model_url``
    it also calls the model and then the callback URL after each acknowledgement."""
    data_dir = Path(tempfile.mkdtemp(prefix="agent-bench-baseline-"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if model_url:
        env.update(
            BENCH_BASELINE_MODEL_URL=f"{model_url}/v1/chat/completions",
            BENCH_BASELINE_CALLBACK_URL=f"{args.endpoints.url}/hook",
        )
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(config.workers), "--log-level", "warning"]
    async with _started("baseline", command, env, port, data_dir, None) as server:
        server.answers = bool(model_url)
        yield server


@contextlib.asynccontextmanager
async def _started(
    kind: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    data_dir: Path,
    database: str | None,
) -> AsyncIterator[Server]:
    log = data_dir / f"{kind}.log"
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdout=out, stderr=out
        )
    finally:
        os.close(out)
    server = Server(kind, port, process, log, database)
    failed = True
    try:
        await _wait_healthy(server)
        yield server
        failed = False
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
        if failed or KEEP:
            print(f"  ({kind} log kept: {log})", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _wait_healthy(server: Server, within: float = 300) -> None:
    pool = server.pool
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise RuntimeError(f"the {server.kind} exited; see {server.log}")
            pool.timeout = 5
            if (await pool.request("GET", "/healthz")).status == 200:
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(f"the {server.kind} did not answer /healthz; see {server.log}")
    finally:
        pool.close()


async def _postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- what the service is sent


def message(
    message_id: str, contact: str, text: str = "How much is the hydrating facial?"
) -> bytes:
    """``POST /v1/messages`` with ``Prefer: respond-async``, sent now (live traffic, so the
    burst window applies as in production)."""
    body = {
        "message_id": message_id,
        "channel": "whatsapp",
        "contact": {"id": contact, "locale": "en"},
        "text": text,
        "sent_at": datetime.now(UTC).isoformat(),
    }
    headers = {"Authorization": f"Bearer {CHANNEL_KEY}", "Prefer": "respond-async"}
    return request_bytes("POST", "/v1/messages", json.dumps(body).encode(), headers)


async def warm_up(server: Server, endpoints: Endpoints, run: str, count: int = 8) -> None:
    """A few messages one at a time, their answers awaited: models loaded, caches filled."""
    pool = server.pool
    try:
        for i in range(count):
            await pool.send(message(f"{run}-warm-{i}", f"{run}-warm-contact-{i}"))
        if server.answers:
            await endpoints.wait_callbacks(count, 60)
    finally:
        pool.close()
    endpoints.reset()


async def open_loop(pool: Pool, rate: int, seconds: int, run: str) -> list[tuple[Reply, float]]:
    """``rate`` new messages a second for ``seconds``, open loop: message i is sent at
    start + i/rate whatever the answers to earlier ones. Contacts each send one message a
    second for three seconds. Returns each reply with its planned send time (perf_counter)."""
    replies: list[tuple[Reply, float]] = []

    async def send(i: int, planned: float) -> None:
        second, slot = divmod(i, rate)
        contact = f"{run}-contact-{second // 3}-{slot}"
        replies.append((await pool.send(message(f"{run}-{i}", contact)), planned))

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(rate * seconds):
        planned = start + i / rate
        if (delay := planned - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, planned)))
    await asyncio.gather(*tasks)
    return replies


# ---------------------------------------------------------------- machine readings


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def postgres_backends(database: str | None) -> list[int]:
    if not database:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if database.encode() in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _cpu_ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _machine_busy_ticks() -> int:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


@dataclass
class Usage:
    """The machine during one measurement."""

    load_before: float
    load_after: float = 0.0
    others_cores: float = 0.0  # CPU used by processes that are neither the bench nor the server
    server_cpu_s: float = 0.0

    @property
    def text(self) -> str:
        return f"{self.load_before:.1f}>{self.load_after:.1f} o{self.others_cores:.1f}"


class Watch:
    """Load average, the server's CPU time and everyone else's, over one measurement."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> Watch:
        self.usage = Usage(os.getloadavg()[0])
        self._pids = self.server.pids()
        self._started = time.monotonic()
        self._machine = _machine_busy_ticks()
        self._server = _cpu_ticks(self._pids)
        self._bench = _cpu_ticks([os.getpid()])
        return self

    def __exit__(self, *exc: object) -> None:
        pids = sorted(set(self._pids) | set(self.server.pids()))
        server = _cpu_ticks(pids) - self._server
        bench = _cpu_ticks([os.getpid()]) - self._bench
        machine = _machine_busy_ticks() - self._machine
        elapsed = max(time.monotonic() - self._started, 1e-3)
        self.usage.load_after = os.getloadavg()[0]
        self.usage.server_cpu_s = server / HZ
        self.usage.others_cores = max(0, machine - server - bench) / HZ / elapsed


def statuses(replies: Sequence[Reply], expected: int = 202) -> str:
    """The answers other than ``expected``, by status (0: no answer), e.g. "429 x536"."""
    counts: dict[int, int] = {}
    for reply in replies:
        if reply.status != expected:
            counts[reply.status] = counts.get(reply.status, 0) + 1
    return ", ".join(f"{status} x{n}" for status, n in sorted(counts.items()))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ---------------------------------------------------------------- options, runs and the table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="default: 1 2")
    parser.add_argument(
        "--turn-workers",
        type=int,
        nargs="+",
        default=[0],
        help="serve --turn-workers M: each value is run beside the others (e.g. 0 1); "
        "default: 0 (the HTTP workers answer their own messages)",
    )
    parser.add_argument(
        "--database",
        nargs="+",
        choices=["sqlite", "postgres"],
        default=None,
        help=f"default: sqlite, plus postgres when {POSTGRES_ENV} is set",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES),
        help="a server URL; each run creates a fresh database on it and drops it after",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service (e.g. AGENT_SERVICE_BURST_WINDOW_SECONDS=0)",
    )
    parser.add_argument(
        "--retry-busy",
        type=int,
        default=1,
        help=f"repeat a measurement up to this often when others used > {BUSY_CORES} core",
    )


def configurations(args: argparse.Namespace) -> list[Config]:
    databases = args.database or (
        ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]
    )
    return [Config(w, d, t) for d in databases for w in args.workers for t in args.turn_workers]


Result = dict[str, Any]
Measure = Callable[[Server, str], Awaitable[Result]]


async def measure_quietly(
    start: Callable[[], contextlib.AbstractAsyncContextManager[Server]],
    measure: Measure,
    run: str,
    retries: int,
) -> Result:
    """``measure`` (which fills "usage") on a freshly started server, repeated on another when
    others kept the machine busy; the quietest measurement is kept."""
    results = []
    for attempt in range(retries + 1):
        async with start() as server:
            result = await measure(server, f"{run}-{attempt}")
        results.append(result)
        if result["usage"].others_cores <= BUSY_CORES:
            break
        print(
            f"  {server.kind}: others used {result['usage'].others_cores:.1f} cores"
            + ("; measuring again" if attempt < retries else ""),
            file=sys.stderr,
        )
    return min(results, key=lambda r: r["usage"].others_cores)


async def compare(
    args: argparse.Namespace, measure: Measure, model_url: str | None = None
) -> list[tuple[Config, Result | None, Result | None]]:
    """Each configuration: the baseline measured, then the service, each on its own."""
    args.workers_supported = await asyncio.to_thread(workers_supported)
    if not args.workers_supported:
        print(
            "`agent-service serve` has no --workers in this checkout: 1 worker only",
            file=sys.stderr,
        )
    split_supported = await asyncio.to_thread(turn_workers_supported)
    results: list[tuple[Config, Result | None, Result | None]] = []
    baselines: dict[tuple[int, str], Result] = {}  # one per worker count and database
    for config in configurations(args):
        run = f"{config.workers}w{config.turn_workers}t-{config.database}-{uuid.uuid4().hex[:6]}"
        base = baselines.get((config.workers, config.database))
        if base is None:
            print(f"{config.label}: baseline...", file=sys.stderr)
            base = await measure_quietly(
                lambda c=config: baseline(c, args, model_url), measure, f"b{run}", args.retry_busy
            )
            baselines[(config.workers, config.database)] = base
        found: Result | None = None
        if config.workers > 1 and not args.workers_supported:
            print(f"{config.label}: service not run (no --workers)", file=sys.stderr)
        elif config.turn_workers and not split_supported:
            print(f"{config.label}: service not run (no --turn-workers)", file=sys.stderr)
        else:
            print(f"{config.label}: service...", file=sys.stderr)
            try:
                found = await measure_quietly(
                    lambda c=config: service(c, args, model_url),
                    measure,
                    f"s{run}",
                    args.retry_busy,
                )
            except RuntimeError as error:
                print(f"{config.label}: service failed: {error}", file=sys.stderr)
        results.append((config, base, found))
    return results


@dataclass
class Figure:
    name: str
    key: str
    target: str = ""
    met: Callable[[float], bool] | None = None
    digits: int = 1


@dataclass
class Table:
    title: str
    settings: str
    figures: list[Figure] = field(default_factory=list)

    def print(self, results: list[tuple[Config, Result | None, Result | None]]) -> bool:
        """Prints the table; True when the service met every target in every configuration."""
        columns = [
            (f"{config.label} {name}", result, name == "svc")
            for config, base, found in results
            for name, result in (("base", base), ("svc", found))
        ]
        width = max(12, *(len(c[0]) + 1 for c in columns))
        machine_row = "load 1m before>after, others' cores"
        name_width = max(len(machine_row), *(len(f.name) for f in self.figures)) + 2
        print(f"\n{self.title}\n{self.settings}")
        print(
            f"{'figure':<{name_width}}{'target':>10}" + "".join(f"{c[0]:>{width}}" for c in columns)
        )
        met = all(found is not None for _, _, found in results)
        for figure in self.figures:
            cells = []
            for _, result, is_service in columns:
                if result is None:
                    cells.append("not run")
                    continue
                value = result[figure.key]
                text = f"{value:.{figure.digits}f}" if isinstance(value, float) else str(value)
                if is_service and figure.met is not None and not figure.met(value):
                    text += " MISS"
                    met = False
                cells.append(text)
            print(
                f"{figure.name:<{name_width}}{figure.target:>10}"
                + "".join(f"{c:>{width}}" for c in cells)
            )
        machine = ["not run" if r is None else r["usage"].text for _, r, _ in columns]
        print(f"{machine_row:<{name_width}}{'':>10}", end="")
        print("".join(f"{c:>{width}}" for c in machine))
        for label, result, _ in columns:
            if result is not None and result.get("note"):
                print(f"{label}: {result['note']}")
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; targets apply to svc")
        print("TARGETS MET" if met else "TARGET MISSED (or a configuration did not run)")
        return met


def main(run: Callable[[], Awaitable[bool]]) -> None:
    """Runs ``run`` on uvloop when installed (a cheaper client); exit 1 unless it returns True."""
    try:
        import uvloop

        met = uvloop.run(run())
    except ImportError:
        met = asyncio.run(run())
    sys.exit(0 if met else 1)
