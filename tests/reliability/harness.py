"""Real sockets for the delivery tests: the service under uvicorn in a thread, a callback
receiver, a chat model that can be held mid-turn, and a read-only look at the database."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, Field

from agent_service.agent.deps import utc_now
from agent_service.api.main import create_app
from agent_service.service import Service, build_service
from tests.conftest import make_settings


@dataclass
class LiveServer:
    url: str
    service: Service
    db_path: Path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """A read-only query on the service's SQLite file, from the test's own thread."""
        with sqlite3.connect(self.db_path, timeout=30) as connection:
            return connection.execute(sql, params).fetchall()

    def count(self, sql: str, *params: Any) -> int:
        return int(self.rows(sql, *params)[0][0])


@contextmanager
def live_server(
    data_dir: Path,
    chat_model: BaseChatModel | None = None,
    clock: Callable[[], datetime] = utc_now,
    prepare: Callable[[Service], None] | None = None,
    **overrides: Any,
) -> Iterator[LiveServer]:
    """The full app on 127.0.0.1 at a free port, with its lifespan (recovery, dispatcher).
    ``prepare`` changes the service before it starts (a smaller pool, an injected fault)."""
    settings = make_settings(data_dir, **overrides)
    service = build_service(settings, chat_model=chat_model, clock=clock)
    if prepare is not None:
        prepare(service)
    config = uvicorn.Config(
        create_app(settings, service=service), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=60)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", service, data_dir / "agent_service.db")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class HeldModel(BaseChatModel):
    """Answers with ``reply_for(prompt)``; while ``gate`` is clear, each call waits on it.
    Records every prompt's last human text, and how many calls overlapped."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reply_for: Callable[[list[BaseMessage]], AIMessage]
    gate: threading.Event = Field(default_factory=threading.Event)
    seen: list[str] = Field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: Any = Field(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "held"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # type: ignore[return-value]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        import asyncio

        with self.lock:
            self.seen.append(str(messages[-1].content))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            # A threading.Event, so the test's thread can open it: waited on off the loop.
            await asyncio.to_thread(self.gate.wait, 60)  # bounded: a failed test never hangs
            return ChatResult(generations=[ChatGeneration(message=self.reply_for(messages))])
        finally:
            with self.lock:
                self.active -= 1


@dataclass
class CallbackReceiver:
    """A messaging layer's webhook on a real socket: answers statuses from ``script`` in order
    (then 200) and records each request's headers and raw body."""

    script: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    @contextmanager
    def running(self) -> Iterator[str]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = owner.script.pop(0) if owner.script else 200
                owner.received.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()
            server.server_close()

    def delivered(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, status in self.received if 200 <= status < 300]
