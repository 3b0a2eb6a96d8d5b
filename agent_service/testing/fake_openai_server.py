"""A local OpenAI-compatible chat server on a real socket, scripted per request.

Each queued response is a dict: {"status": 200, "message": {...}} for a normal completion,
{"status": 429, "headers": {"Retry-After": "0"}}, {"delay": 5.0} to stall, {"drop": True} to
close the connection, {"raw": "not json"} for a malformed body. ``requests`` records bodies.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str = "", tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A chat.completion body with optional tool calls given as {"name", "arguments"}."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": c["name"],
                    "arguments": c["arguments"]
                    if isinstance(c["arguments"], str)
                    else json.dumps(c["arguments"]),
                },
            }
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
    }


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout, dropped connection) is the scenario, not a bug


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:``; point ``base_url`` at ``server.url``."""

    def __init__(self) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.default: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    owner.requests.append(json.loads(body or b"{}"))
                except ValueError:
                    owner.requests.append({"raw": body.decode("utf-8", "replace")})
                spec = owner.queue.popleft() if owner.queue else owner.default
                if spec is None:
                    spec = {"status": 500, "body": {"error": {"message": "no scripted response"}}}
                owner._respond(self, spec)

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def push(self, *specs: dict[str, Any]) -> None:
        self.queue.extend(specs)

    def _respond(self, handler: BaseHTTPRequestHandler, spec: dict[str, Any]) -> None:
        if spec.get("delay"):
            time.sleep(float(spec["delay"]))
        if spec.get("drop"):
            handler.close_connection = True
            handler.connection.close()
            return
        status = int(spec.get("status", 200))
        if "raw" in spec:
            payload = str(spec["raw"]).encode()
        elif "message" in spec:
            payload = json.dumps(spec["message"]).encode()
        else:
            payload = json.dumps(spec.get("body", {"error": {"message": "scripted"}})).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in spec.get("headers", {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
