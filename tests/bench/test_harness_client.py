"""The benchmarks' own HTTP client (bench/harness.py) reads what servers send: a body by its
Content-Length or in chunks, no body, a server that closes after answering, and a kept-alive
connection the server closed while it was idle (sent again on a fresh one). Over real sockets,
against the bench's own endpoints and a scripted asyncio server; no timing is asserted."""

from __future__ import annotations

import asyncio
import json

from bench.harness import Endpoints, Pool, request_bytes

CHUNKED = (
    b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
)
CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


async def scripted(answers: list[bytes]) -> tuple[asyncio.Server, int]:
    """Answers each request with the next of ``answers``; an answer ending in b"CLOSE" closes
    the connection after it."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while answers:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            answer = answers.pop(0)
            writer.write(answer.removesuffix(b"CLOSE"))
            await writer.drain()
            if answer.endswith(b"CLOSE"):
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_reads_the_endpoints_answers_and_records_callbacks() -> None:
    async with Endpoints(model_seconds=0) as endpoints:
        pool = Pool("127.0.0.1", endpoints.port, timeout=10)
        model = await pool.request("POST", "/v1/chat/completions", {"messages": []})
        assert model.status == 200
        assert json.loads(model.body)["choices"][0]["message"]["content"]
        hook = await pool.request("POST", "/hook", {"response": {"message_id": "m-1"}})
        assert (hook.status, hook.body) == (204, b"")
        assert list(endpoints.callbacks) == ["m-1"]
        assert len(pool.idle) == 1  # both went over one kept-alive connection
        assert await endpoints.wait_callbacks(1, within=1)
        pool.close()


async def test_chunked_bodies_closing_servers_and_stale_connections() -> None:
    answers = [CHUNKED, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nokCLOSE"]
    server, port = await scripted(answers)
    pool = Pool("127.0.0.1", port, timeout=10)
    data = request_bytes("POST", "/v1/messages", b"{}")
    first = await pool.send(data)
    assert (first.status, first.body) == (202, b'{"a": 1}')
    second = await pool.send(data)
    assert (second.status, second.body, len(pool.idle)) == (200, b"ok", 0)

    # The server closes a connection it kept alive (no "Connection: close"); the next request
    # on it meets its end and is sent again on a fresh connection.
    answers += [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nCLOSE", CREATED]
    assert ((await pool.send(data)).status, len(pool.idle)) == (200, 1)
    await asyncio.sleep(0.05)
    assert (await pool.send(data)).status == 201
    pool.close()
    server.close()


async def test_no_server_is_status_zero() -> None:
    server, port = await scripted([])
    server.close()
    await server.wait_closed()
    reply = await Pool("127.0.0.1", port, timeout=5).send(request_bytes("GET", "/healthz"))
    assert reply.status == 0
