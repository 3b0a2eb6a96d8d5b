"""The ``agent-service`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent_service.cli.chroma_server import (
    beside_running_server,
    chroma_server,
    die_with_parent,
)
from agent_service.cli.kb import app as kb_app
from agent_service.core.config import REPO_ROOT, Settings, get_settings
from agent_service.core.logs import configure_logging
from agent_service.core.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="AI agent service for lead qualification.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")  # Knowledge import/export/reindex


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = typer.Option(
        None,
        min=1,
        help="Worker processes sharing the port (default: AGENT_SERVICE_WORKERS, 1).",
    ),
    turn_workers: int | None = typer.Option(
        None,
        min=0,
        help="Turn-worker processes (no HTTP) that answer the stored messages; with 1 or more "
        "the HTTP workers only store and acknowledge (default: AGENT_SERVICE_TURN_WORKERS, 0).",
    ),
) -> None:
    """Start the HTTP API, in one process or in ``--workers`` processes, and the
    ``--turn-workers`` processes that answer its messages."""
    import uvicorn

    settings = get_settings()
    count = workers if workers is not None else settings.workers
    answering = turn_workers if turn_workers is not None else settings.turn_workers
    configure_logging(settings.log_level, settings.log_json)
    _warn_connection_budget(settings, processes=count + answering)
    # Requests are logged as JSON (with request id) by the app itself, not by uvicorn.
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,
    }
    if count == 1 and answering == 0:
        from agent_service.api.main import create_app

        if os.environ.get(MULTIPROC_ENV):  # set by hand: this run's counters start at zero
            prepare_multiprocess_dir(Path(os.environ[MULTIPROC_ENV]))
        uvicorn.run(create_app(freeze_heap=True), **options)
        return
    # Several processes: uvicorn's supervisor binds the port once and spawns ``count`` fresh
    # interpreters, each building the app from the factory (its own settings from the
    # environment, its own database pool and models). Start-up work runs once under the
    # database's start-up lock (db/startup_lock.py). The health ping is answered by a thread
    # that needs the GIL: give a worker warming up its models on a busy machine time to answer.
    options |= {"workers": count, "factory": True, "timeout_worker_healthcheck": 30}
    with contextlib.ExitStack() as stack:
        # The workers' metrics meet in one directory; a scrape sums them (core/metrics.py).
        os.environ[MULTIPROC_ENV] = str(stack.enter_context(_metrics_dir()))
        if not settings.chroma_host:
            # One Chroma process owns the embedded directory (cli/chroma_server.py); the
            # workers, spawned after this, inherit its address from the environment.
            address = stack.enter_context(chroma_server(settings))
            os.environ["AGENT_SERVICE_CHROMA_HOST"] = address.host
            os.environ["AGENT_SERVICE_CHROMA_PORT"] = str(address.port)
        if answering:
            # The HTTP workers store and acknowledge; the turn workers answer (their own
            # processes, workers/turn_worker.py), started before and stopped after the HTTP.
            os.environ["AGENT_SERVICE_HTTP_TURNS"] = "false"
            stack.enter_context(turn_worker_processes(answering))
        if count == 1:
            # uvicorn's supervisor for one worker too (uvicorn.run would serve in this
            # process): a fresh interpreter writes its metrics to the shared directory.
            from uvicorn.supervisors import Multiprocess

            config = uvicorn.Config("agent_service.cli.main:worker_app", **options)
            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return
        uvicorn.run("agent_service.cli.main:worker_app", **options)


def _warn_connection_budget(settings: Settings, processes: int) -> None:
    """Log a warning when the processes' database pools could exceed PostgreSQL's limit."""
    from agent_service.db.session import connection_budget_warning, connections_per_process

    url = settings.resolved_database_url
    needed = processes * connections_per_process(
        url, settings.database_pool_size, settings.database_max_overflow, settings.front_pool_size
    )
    try:
        warning = asyncio.run(connection_budget_warning(url, needed))
    except Exception as exc:  # the service's own start reports an unreachable database
        logging.getLogger("agent_service.serve").warning(
            "could not check the database's connection limit: %s", exc
        )
        return
    if warning:
        logging.getLogger("agent_service.serve").warning(warning)


@app.command()
def turns() -> None:
    """Answer the stored messages of the HTTP processes that run none (a turn worker): no
    HTTP. Run it beside ``serve`` with ``AGENT_SERVICE_HTTP_TURNS=false`` under a process
    manager, or let ``serve --turn-workers M`` start and stop M of them."""
    from agent_service.workers.turn_worker import run_turn_worker

    parent = os.environ.get(_TURNS_PARENT_ENV)
    if parent is not None:  # started by serve: stop with it
        die_with_parent()
        if os.getppid() != int(parent):
            raise SystemExit("the serve process that started this turn worker is gone")
    run_turn_worker(beside_running_server(get_settings()))


_TURNS_PARENT_ENV = "AGENT_SERVICE_TURNS_PARENT_PID"
_TURN_WORKER_STOP_SECONDS = 30.0


@contextlib.contextmanager
def turn_worker_processes(count: int) -> Iterator[None]:
    """``count`` ``agent-service turns`` processes, kept running (one that exits is started
    again after a second) until the block ends; then stopped with SIGTERM (they leave their
    unfinished turns ``received``), and killed if they do not stop in time."""
    import subprocess
    import sys
    import threading

    command = [sys.executable, "-c", "from agent_service.cli.main import app; app()", "turns"]
    env = {**os.environ, _TURNS_PARENT_ENV: str(os.getpid())}
    stopping = threading.Event()
    lock = threading.Lock()
    running: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def supervise(slot: int) -> None:
        while not stopping.is_set():
            with lock:
                process = running[slot]
            returncode = process.wait()
            if stopping.wait(1.0):
                return
            typer.echo(
                f"turn worker {process.pid} exited ({returncode}); starting another", err=True
            )
            with lock:
                if stopping.is_set():
                    return
                running[slot] = start()

    with lock:
        running.extend(start() for _ in range(count))
    threads = [threading.Thread(target=supervise, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        with lock:
            stopping.set()
            for process in running:
                if process.poll() is None:
                    process.terminate()
        for process in running:
            try:
                process.wait(timeout=_TURN_WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _metrics_dir() -> Iterator[Path]:
    """``PROMETHEUS_MULTIPROC_DIR`` when set (emptied), else a directory of this run's own,
    removed when it stops."""
    given = os.environ.get(MULTIPROC_ENV)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="agent-service-metrics-"))
    prepare_multiprocess_dir(directory)
    try:
        yield directory
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` process. A worker stops (SIGTERM: it finishes its
    turns) when its parent dies, as the Chroma server does, instead of serving on alone."""
    import multiprocessing

    from agent_service.api.main import create_app

    die_with_parent()
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the line above
        raise SystemExit("the serve process that started this worker is gone")
    return create_app(freeze_heap=True)


@app.command()
def settings() -> None:
    """Print every setting (environment variable, default, meaning) as a Markdown table."""
    from agent_service.core.config import Settings

    typer.echo("| variable | default | meaning |\n|---|---|---|")
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = (
            " / ".join(str(c) for c in alias.choices)  # type: ignore[union-attr]
            if alias is not None
            else f"AGENT_SERVICE_{name.upper()}"
        )
        default = field.get_default(call_default_factory=True)
        shown = "unset" if default is None else str(default).replace(str(REPO_ROOT) + "/", "")
        typer.echo(f"| `{variable}` | `{shown}` | {field.description or ''} |")


@app.command()
def chat(
    text: str | None = typer.Argument(
        None, help="Send this one message and exit; without it, talk until /quit."
    ),
    contact: str | None = typer.Option(
        None, help="The contact's id (default: a new one for each session)."
    ),
    workspace: str = typer.Option("ws_demo", help="The workspace id (local service)."),
    channel: str = typer.Option("other", help="The channel to record."),
    url: str | None = typer.Option(
        None, help="Talk to a running service at this URL instead of starting one."
    ),
    key: str | None = typer.Option(
        None,
        envvar="AGENT_SERVICE_CHAT_KEY",
        help="With --url: a key with the channel role, which sends the messages.",
    ),
    admin_key: str | None = typer.Option(
        None,
        envvar="AGENT_SERVICE_CHAT_ADMIN_KEY",
        help="With --url: a key with the admin or qa role, for /trace.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print each response as raw JSON."),
) -> None:
    """Talk to the agent as a customer: each line goes through the same run_turn as the API.

    Replies print as text with the actions taken; /trace shows what the last turn retrieved and
    decided, /stage the contact's stage, /reset starts over. The service starts once per
    session (or --url talks to a running one)."""
    import uuid

    from agent_service.cli.chat import (
        Backend,
        LocalBackend,
        RemoteBackend,
        Session,
        converse,
    )

    if url is not None and not key:
        raise typer.BadParameter(
            "--url needs --key (or AGENT_SERVICE_CHAT_KEY)", param_hint="--key"
        )
    speaker = contact or f"cli-{uuid.uuid4().hex[:8]}"

    def out(line: str) -> None:
        typer.echo(line)

    async def _run() -> int:
        backend: Backend
        if url is not None:
            backend = RemoteBackend(url, key or "", channel, trace_key=admin_key)
        else:
            local = LocalBackend(beside_running_server(get_settings()), workspace, channel)
            await local.start()
            backend = local
        try:
            session = Session(backend, speaker, out, raw=as_json)
            if text is None:
                await converse(session, input)
                return 0
            await session.handle(text)
            return 0 if session.last else 1
        finally:
            await backend.close()

    raise typer.Exit(asyncio.run(_run()))


demo_app = typer.Typer(help="Demo data: synthetic history for trying the reports.")
app.add_typer(demo_app, name="demo")


@demo_app.command("generate")
def demo_generate(
    contacts: int = typer.Option(5000, min=1, help="How many contacts."),
    months: int = typer.Option(6, min=1, help="Over how many months, ending now."),
    messages_per_contact: float = typer.Option(10.0, min=2, help="Average messages each."),
    workspace: str = typer.Option("ws_demo", help="The workspace to fill."),
    seed: int = typer.Option(7, help="Same seed, same history."),
) -> None:
    """Fill a workspace with realistic synthetic history (contacts, messages, stage changes
    by AI, humans and the system, handoffs, lost marks, conversions with value)."""
    import time

    from agent_service.reports.synthetic_history import HistoryShape, generate_history
    from agent_service.service import build_service
    from agent_service.workspaces.config import load_workspace_config

    async def _run() -> dict[str, int]:
        service = build_service(beside_running_server(get_settings()))
        await service.start()
        try:
            async with service.deps.sessions() as session:
                lifecycle = (await load_workspace_config(session, workspace)).lifecycle
            shape = HistoryShape(contacts, months, messages_per_contact, seed)
            return await generate_history(
                service.deps.sessions, workspace, lifecycle, shape, datetime.now(UTC)
            )
        finally:
            await service.stop()

    started = time.perf_counter()
    written = asyncio.run(_run())
    typer.echo(json.dumps({**written, "seconds": round(time.perf_counter() - started, 1)}))


def _add_eval_commands() -> None:
    from agent_service.evals.cli import eval_app

    app.add_typer(eval_app, name="eval")


_add_eval_commands()
