"""Text both databases can store, or a 422 that names the field: checked once, at the door.

PostgreSQL refuses a NUL character in text and JSON; neither database can encode a lone
UTF-16 surrogate (``"\\ud800"`` in JSON) as UTF-8; and ``NaN``/``Infinity`` are not JSON,
though Python's parser accepts them (PostgreSQL's JSON type then refuses them). SQLite stored
some of these, so the same request behaved differently by database and failed late with a 500.
Every JSON body and query string is checked here, whatever the route, and the request is
refused with the path of the first offending value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not valid Unicode text)"
    return None


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(name)


def _walk(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _problem(key)
            if problem:
                yield (*path, key), f"has a key that {problem}"
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _refusal(location: tuple[str | int, ...], message: str) -> bytes:
    where = ".".join(str(part) for part in location[1:]) or location[0]
    detail = [{"type": "value_error", "loc": list(location), "msg": f"{where} {message}"}]
    return json.dumps({"detail": detail}, ensure_ascii=True).encode()


class InputGuard:
    """Refuse JSON bodies and query strings that hold text no database can store as sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            problem = _problem(name) or _problem(value)
            if problem:
                await _send_422(send, _refusal(("query", name), problem))
                return
        # Read the whole body here, then replay it: the size limit outside this guard bounds it,
        # and a chunked body over the limit is refused with 413 before any route parses it.
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        headers = dict(scope.get("headers") or [])
        is_json = b"json" in headers.get(b"content-type", b"")
        refusal = _check_json(body) if is_json and body else None
        if refusal is not None:
            await _send_422(send, refusal)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _check_json(body: bytes) -> bytes | None:
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except _NotJsonNumber as exc:
        return _refusal(("body",), f"holds {exc}, which is not a JSON number")
    except ValueError:
        return None  # not JSON at all: the route's own validation says so
    for path, problem in _walk(data, ("body",)):
        return _refusal(path, problem)
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _send_422(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
