"""A messaging platform's outbound API on a real socket, and the helpers the channel tests
share: a live service with a connection, signed webhook deliveries, reads of the database."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent_service.testing.scripted_chat_model import reply
from tests.conftest import ADMIN
from tests.reliability.database import rows
from tests.reliability.harness import HeldModel, LiveServer, live_server, wait_until


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class FakePlatform:
    """Records every request (path, headers, JSON body) and answers from ``script`` in order,
    each a status or (status, JSON body); then 200 with ``{"ok": true}``."""

    script: list[int | tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def running(self) -> Iterator[str]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    step = owner.script.pop(0) if owner.script else 200
                    status, answer = step if isinstance(step, tuple) else (step, {"ok": True})
                    owner.requests.append(
                        Request(self.path, dict(self.headers.items()), json.loads(raw), status)
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if 200 <= r.status < 300]


def replying(text: str) -> HeldModel:
    """A model that answers every turn with ``text`` (open gate), counting its calls."""

    def answer(messages: list[BaseMessage]) -> AIMessage:
        return reply(text)

    model = HeldModel(reply_for=answer)
    model.gate.set()
    return model


@contextmanager
def service(data_dir: Path, model: HeldModel, **overrides: Any) -> Iterator[LiveServer]:
    """The service on a real socket; callbacks retried fast so a test sees several attempts."""
    settings: dict[str, Any] = {
        "callback_retry_base_seconds": 0.05,
        "callback_retry_max_seconds": 0.2,
        "callback_poll_seconds": 0.02,
        **overrides,
    }
    with live_server(data_dir, chat_model=model, **settings) as server:
        yield server


def connect(http: httpx.Client, server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    created = http.post(f"{server.url}/v1/channels", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return dict(created.json())


def outbox(data_dir: Path) -> list[tuple[Any, ...]]:
    """(status, attempts, parts_sent, last_error) of every platform reply, oldest first."""
    return rows(
        data_dir,
        "select status, attempts, parts_sent, last_error from callback_outbox "
        "where connection_id is not null order by created_at, id",
    )


def inbound(data_dir: Path, channel: str) -> list[tuple[Any, ...]]:
    """(channel_message_id, contact external id, text) of the stored inbound messages."""
    return rows(
        data_dir,
        "select m.channel_message_id, c.external_id, m.text from messages m "
        "join contacts c on c.id = m.contact_id "
        "where m.direction = 'in' and m.channel = :channel order by m.created_at",
        channel=channel,
    )


def settled(data_dir: Path, count: int) -> bool:
    """``count`` platform replies, none of them still owed."""
    found = outbox(data_dir)
    return len(found) == count and all(r[0] in ("delivered", "failed") for r in found)


__all__ = [
    "FakePlatform",
    "connect",
    "inbound",
    "outbox",
    "replying",
    "service",
    "settled",
    "wait_until",
]
