"""Telegram Bot API through HTTP: updates in, sendMessage out to a fake Bot API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.channels.platform import (
    FakePlatform,
    connect,
    inbound,
    outbox,
    replying,
    service,
    settled,
    wait_until,
)

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-xw"
SECRET = "telegram-secret-token-0001"
USER = 987654321


def connection(api: str) -> dict[str, Any]:
    return {
        "type": "telegram",
        "name": "Clinic bot",
        "bot_token": TOKEN,
        "secret_token": SECRET,
        "api_base_url": api,
    }


def update(update_id: int, message_id: int, text: str | None = "Hi") -> dict[str, Any]:
    """An Update with a private-chat Message, as the Bot API posts it."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {
            "id": USER,
            "is_bot": False,
            "first_name": "Somchai",
            "last_name": "K",
            "language_code": "th",
        },
        "chat": {"id": USER, "first_name": "Somchai", "type": "private"},
        "date": int(time.time()),
    }
    if text is not None:
        message["text"] = text
    else:
        message["sticker"] = {"file_id": "CAACAgIAAxk", "emoji": "👍", "width": 512, "height": 512}
    return {"update_id": update_id, "message": message}


def post(
    http: httpx.Client, url: str, payload: dict[str, Any], secret: str | None = SECRET
) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return http.post(url, json=payload, headers=headers)


def test_secret_token_checked_and_a_long_reply_sent_in_parts(data_dir: Path) -> None:
    platform = FakePlatform()
    long_reply = " ".join(f"Sentence number {i} about our facial treatments." for i in range(200))
    assert len(long_reply) > 4096
    with (
        platform.running() as api,
        service(data_dir, replying(long_reply)) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        wrong = post(http, hook, update(1, 10), secret="wrong-secret-token-000")
        missing = post(http, hook, update(1, 10), secret=None)
        assert wrong.status_code == missing.status_code == 401
        assert inbound(data_dir, "telegram") == []
        assert post(http, hook, update(1, 10, "Bao nhiêu tiền?")).json() == {
            "accepted": 1,
            "ignored": 0,
        }
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    assert inbound(data_dir, "telegram") == [(f"123456789:{USER}:10", str(USER), "Bao nhiêu tiền?")]
    parts = [r.body["text"] for r in platform.requests]
    assert all(r.path == f"/bot{TOKEN}/sendMessage" for r in platform.requests)
    assert all(r.body["chat_id"] == USER for r in platform.requests)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)  # 9,8xx characters
    assert " ".join(parts) == long_reply  # split between sentences, nothing lost
    assert all(p.endswith(".") for p in parts)
    assert outbox(data_dir) == [("delivered", 1, 3, None)]


def test_redelivery_once_stickers_ignored_and_5xx_retried(data_dir: Path) -> None:
    platform = FakePlatform(script=[502, 500])
    model = replying("Hello!")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        sticker = post(http, hook, update(5, 50, text=None))
        assert sticker.json() == {"accepted": 0, "ignored": 1}
        for _ in range(3):
            assert post(http, hook, update(6, 51, "Hello")).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        time.sleep(0.5)
    assert [r.status for r in platform.requests] == [502, 500, 200]
    assert len(model.seen) == 1
    assert outbox(data_dir) == [("delivered", 3, 1, None)]
