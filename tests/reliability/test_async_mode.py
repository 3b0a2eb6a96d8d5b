"""`Prefer: respond-async`: 202 at once, the response later by a signed, retried callback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent_service.delivery.signature import is_valid
from agent_service.testing.scripted_chat_model import reply
from tests.conftest import ADMIN, CHANNEL, message
from tests.reliability.harness import CallbackReceiver, HeldModel, live_server, wait_until

ASYNC = {**CHANNEL, "Prefer": "respond-async"}
SECRET = "callback-secret-0123456789"


def hello(messages: list[BaseMessage]) -> AIMessage:
    return reply("Hello! The facial is 600,000 VND.")


def configure(http: httpx.Client, url: str, callback: str) -> None:
    change = {"callback_url": callback, "callback_secret": SECRET}
    saved = http.put(f"{url}/v1/workspaces/current/delivery", json=change, headers=ADMIN)
    assert saved.status_code == 200, saved.text


def test_the_ack_comes_before_the_model_and_the_reply_by_signed_callback(data_dir: Path) -> None:
    model = HeldModel(reply_for=hello)  # held: the model has not answered when the ack comes
    receiver = CallbackReceiver()
    body = message("How much is the facial?", contact="c-async")
    with (
        receiver.running() as hook,
        live_server(data_dir, chat_model=model) as server,
        httpx.Client(timeout=60) as http,
    ):
        configure(http, server.url, hook)
        ack = http.post(f"{server.url}/v1/messages", json=body, headers=ASYNC)
        assert ack.status_code == 202, ack.text
        assert ack.headers["Preference-Applied"] == "respond-async"
        assert ack.json() == {
            "message_id": body["message_id"],
            "status": "accepted",
            "idempotency_key": f"whatsapp:{body['message_id']}",
        }
        assert receiver.received == []
        stored = server.rows(
            "select status from messages where channel_message_id = ?", body["message_id"]
        )
        assert stored == [("received",)]  # stored before any processing
        model.gate.set()
        wait_until(lambda: len(receiver.received) == 1)
        sync_repeat = http.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL).json()
        wait_until(lambda: server.rows("select status from callback_outbox") == [("delivered",)])
        overview = http.get(f"{server.url}/v1/workspaces/current/delivery", headers=ADMIN).json()
        assert overview["callbacks"] == {"delivered": 1}
    headers, raw, _ = receiver.received[0]
    assert is_valid(SECRET, raw, headers["X-Signature-256"])
    assert headers["Idempotency-Key"] == f"whatsapp:{body['message_id']}"
    delivered = json.loads(raw)
    assert delivered["type"] == "message.response" and delivered["workspace_id"] == "ws_demo"
    assert delivered["response"]["reply"]["text"] == "Hello! The facial is 600,000 VND."
    assert delivered["response"] == sync_repeat


def test_a_refused_callback_is_retried_with_backoff_until_acknowledged(data_dir: Path) -> None:
    model = HeldModel(reply_for=hello)
    model.gate.set()
    receiver = CallbackReceiver(script=[500, 503, 404])
    body = message("How much is the facial?", contact="c-retry")
    with (
        receiver.running() as hook,
        live_server(
            data_dir,
            chat_model=model,
            callback_retry_base_seconds=0.05,
            callback_poll_seconds=0.02,
        ) as server,
        httpx.Client(timeout=60) as http,
    ):
        configure(http, server.url, hook)
        assert http.post(f"{server.url}/v1/messages", json=body, headers=ASYNC).status_code == 202
        wait_until(lambda: len(receiver.received) == 4)
        wait_until(
            lambda: (
                server.rows("select status, attempts from callback_outbox") == [("delivered", 4)]
            )
        )
    statuses = [status for _, _, status in receiver.received]
    assert statuses == [500, 503, 404, 200]
    assert len({raw for _, raw, _ in receiver.received}) == 1  # the same bytes every time
    assert [h["X-Callback-Attempt"] for h, _, _ in receiver.received] == ["1", "2", "3", "4"]
    assert {h["Idempotency-Key"] for h, _, _ in receiver.received} == {
        f"whatsapp:{body['message_id']}"
    }


def test_ten_concurrent_async_repeats_give_one_turn_and_one_callback(data_dir: Path) -> None:
    model = HeldModel(reply_for=hello)
    model.gate.set()
    receiver = CallbackReceiver()
    body = message("How much is the facial?", contact="c-async-dup")

    async def deliver(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            return list(
                await asyncio.gather(
                    *(http.post(f"{url}/v1/messages", json=body, headers=ASYNC) for _ in range(10))
                )
            )

    with (
        receiver.running() as hook,
        live_server(data_dir, chat_model=model, callback_poll_seconds=0.05) as server,
        httpx.Client(timeout=60) as http,
    ):
        configure(http, server.url, hook)
        answers = asyncio.run(deliver(server.url))
        wait_until(lambda: len(receiver.received) >= 1)
        wait_until(lambda: server.rows("select status from callback_outbox") == [("delivered",)])
        assert [a.status_code for a in answers] == [202] * 10
        assert len(model.seen) == 1
        assert server.count("select count(*) from turns") == 1
    assert len(receiver.received) == 1


def test_async_without_a_callback_url_is_409_and_nothing_is_stored(data_dir: Path) -> None:
    with live_server(data_dir) as server, httpx.Client(timeout=60) as http:
        answer = http.post(f"{server.url}/v1/messages", json=message("hi"), headers=ASYNC)
        assert answer.status_code == 409
        assert "PUT /v1/workspaces/current/delivery" in answer.json()["detail"]
        assert server.count("select count(*) from messages") == 0
