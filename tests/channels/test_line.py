"""LINE Messaging API through HTTP: signed webhook events in, reply or push out to a fake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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

SECRET = "line-channel-secret-0001"
USER = "U4af4980629e5f0d7a9d8b1ea0e6c8f2a"


def connection(api: str) -> dict[str, Any]:
    return {
        "type": "line",
        "name": "Clinic LINE",
        "channel_secret": SECRET,
        "channel_access_token": "line-access-token-0001",
        "api_base_url": api,
    }


def text_event(
    message_id: str, text: str, reply_token: str = "757913772c4646b784d4b7ce46d12671"
) -> dict[str, Any]:
    return {
        "destination": "Ub0c1f0a38b0d8b1e0f1c2d3e4f5a6b7c",
        "events": [
            {
                "type": "message",
                "message": {
                    "type": "text",
                    "id": message_id,
                    "quoteToken": "q3Plxr4AgKd",
                    "text": text,
                },
                "webhookEventId": f"01FZ74A0TDDPYRVKNK77XKC3{message_id[-2:]}",
                "deliveryContext": {"isRedelivery": False},
                "timestamp": int(time.time() * 1000),
                "source": {"type": "user", "userId": USER},
                "replyToken": reply_token,
                "mode": "active",
            }
        ],
    }


def follow_event() -> dict[str, Any]:
    return {
        "destination": "Ub0c1f0a38b0d8b1e0f1c2d3e4f5a6b7c",
        "events": [
            {
                "type": "follow",
                "timestamp": int(time.time() * 1000),
                "source": {"type": "user", "userId": USER},
                "replyToken": "85cbe770fa8b4f45bbe077b1d4be4a36",
                "mode": "active",
                "webhookEventId": "01FZ74A0TDDPYRVKNK77XKC3ZZ",
                "deliveryContext": {"isRedelivery": False},
            },
            {
                "type": "message",
                "message": {
                    "type": "sticker",
                    "id": "468789577898262530",
                    "packageId": "1",
                    "stickerId": "1",
                },
                "timestamp": int(time.time() * 1000),
                "source": {"type": "user", "userId": USER},
                "replyToken": "x",
                "mode": "active",
                "webhookEventId": "01FZ74A0TDDPYRVKNK77XKC3ZY",
                "deliveryContext": {"isRedelivery": False},
            },
        ],
    }


def post(
    http: httpx.Client, url: str, payload: dict[str, Any], secret: str = SECRET
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return http.post(
        url,
        content=raw,
        headers={"Content-Type": "application/json", "X-Line-Signature": signature},
    )


def test_signature_checked_and_the_reply_token_used(data_dir: Path) -> None:
    platform = FakePlatform()
    model = replying("สวัสดีค่ะ")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert (
            post(http, hook, text_event("444573844083572737", "Hi"), secret="wrong").status_code
            == 401
        )
        assert inbound(data_dir, "line") == []
        verify = post(http, hook, {"destination": "Ub0c", "events": []})  # LINE's "Verify"
        assert verify.json() == {"accepted": 0, "ignored": 0}
        for _ in range(2):  # redelivered: answered once
            assert (
                post(http, hook, text_event("444573844083572738", "ราคาเท่าไหร่")).status_code == 200
            )
        ignored = post(http, hook, follow_event())
        assert ignored.json() == {"accepted": 0, "ignored": 2}
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        time.sleep(0.5)
    assert inbound(data_dir, "line") == [("444573844083572738", USER, "ราคาเท่าไหร่")]
    (sent,) = platform.requests
    assert sent.path == "/v2/bot/message/reply"
    assert sent.headers["Authorization"] == "Bearer line-access-token-0001"
    assert sent.body == {
        "replyToken": "757913772c4646b784d4b7ce46d12671",
        "messages": [{"type": "text", "text": "สวัสดีค่ะ"}],
    }
    assert len(model.seen) == 1


def test_an_expired_reply_token_falls_back_to_push_and_5xx_is_retried(data_dir: Path) -> None:
    # The reply token is refused (400, as LINE answers an invalid token): push instead, which
    # fails twice with 5xx and then goes through, with one retry key.
    refused = {"message": "Invalid reply token"}
    platform = FakePlatform(script=[(400, refused), 500, 503])
    with (
        platform.running() as api,
        service(data_dir, replying("Hello!")) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert post(http, hook, text_event("444573844083572799", "Hi")).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    paths = [(r.path, r.status) for r in platform.requests]
    assert paths == [
        ("/v2/bot/message/reply", 400),
        ("/v2/bot/message/push", 500),
        ("/v2/bot/message/push", 503),
        ("/v2/bot/message/push", 200),
    ]
    pushes = platform.requests[1:]
    assert {r.headers["X-Line-Retry-Key"] for r in pushes} == {
        pushes[0].headers["X-Line-Retry-Key"]
    }
    assert pushes[-1].body == {"to": USER, "messages": [{"type": "text", "text": "Hello!"}]}
    assert outbox(data_dir) == [("delivered", 3, 1, None)]
