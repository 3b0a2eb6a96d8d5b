"""WhatsApp Cloud API through HTTP: Meta's payloads in, replies out to a fake Graph API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
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
from tests.conftest import ADMIN
from tests.reliability.database import rows

APP_SECRET = "meta-app-secret-0001"
VERIFY = "verify-token-0123456789"
NUMBER = "106540352242922"
WA_ID = "60123456789"


def connection(api: str) -> dict[str, Any]:
    return {
        "type": "whatsapp",
        "name": "Clinic WhatsApp",
        "phone_number_id": NUMBER,
        "access_token": "EAAG-access-token-0001",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY,
        "api_base_url": api,
    }


def text_payload(wamid: str, text: str, timestamp: int | None = None) -> dict[str, Any]:
    """A text message as Meta's webhook sends it (Cloud API, field "messages")."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": NUMBER,
                            },
                            "contacts": [{"profile": {"name": "Siti"}, "wa_id": WA_ID}],
                            "messages": [
                                {
                                    "from": WA_ID,
                                    "id": wamid,
                                    "timestamp": str(timestamp or int(time.time())),
                                    "text": {"body": text},
                                    "type": "text",
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def status_payload(wamid: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": NUMBER,
                            },
                            "statuses": [
                                {
                                    "id": wamid,
                                    "status": "delivered",
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": WA_ID,
                                }
                            ],
                        },
                        "field": "messages",
                    },
                ],
            }
        ],
    }


def image_payload(wamid: str) -> dict[str, Any]:
    payload = text_payload(wamid, "x")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message["type"] = "image"
    message["image"] = {"mime_type": "image/jpeg", "sha256": "abc", "id": "1234"}
    return payload


def post(
    http: httpx.Client, url: str, payload: dict[str, Any], secret: str = APP_SECRET
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return http.post(
        url,
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )


def test_verification_echoes_the_challenge_only_with_the_verify_token(data_dir: Path) -> None:
    platform = FakePlatform()
    with (
        platform.running() as api,
        service(data_dir, replying("hi")) as server,
        httpx.Client(timeout=30) as http,
    ):
        created = connect(http, server, connection(api))
        hook = f"{server.url}{created['webhook_path']}"
        good = http.get(
            hook,
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY,
                "hub.challenge": "1158201444",
            },
        )
        assert good.status_code == 200 and good.text == "1158201444"
        assert good.headers["content-type"].startswith("text/plain")
        wrong = http.get(
            hook, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
        )
        assert wrong.status_code == 403 and "verify_token" in wrong.json()["detail"]
        unknown = http.get(
            f"{server.url}/channels/whatsapp/chn_unknown", params={"hub.challenge": "1"}
        )
        assert unknown.status_code == 404


def test_a_text_message_is_answered_through_the_graph_api(data_dir: Path) -> None:
    platform = FakePlatform()
    model = replying("The facial is 600,000 VND.")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        created = connect(http, server, connection(api))
        hook = f"{server.url}{created['webhook_path']}"
        bad = post(http, hook, text_payload("wamid.BAD1", "How much?"), secret="not-the-app-secret")
        assert bad.status_code == 401 and "X-Hub-Signature-256" in bad.json()["detail"]
        unsigned = http.post(hook, json=text_payload("wamid.BAD2", "How much?"))
        assert unsigned.status_code == 401
        assert inbound(data_dir, "whatsapp") == []  # nothing stored for a wrong signature
        ok = post(http, hook, text_payload("wamid.HBgL1", "How much is the facial?"))
        assert ok.status_code == 200 and ok.json() == {"accepted": 1, "ignored": 0}
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    assert inbound(data_dir, "whatsapp") == [("wamid.HBgL1", WA_ID, "How much is the facial?")]
    (sent,) = platform.requests
    assert sent.path == f"/v21.0/{NUMBER}/messages"
    assert sent.headers["Authorization"] == "Bearer EAAG-access-token-0001"
    assert sent.body["messaging_product"] == "whatsapp" and sent.body["to"] == WA_ID
    assert sent.body["type"] == "text"
    assert sent.body["text"]["body"] == "The facial is 600,000 VND."
    assert outbox(data_dir) == [("delivered", 1, 1, None)]
    name = rows(data_dir, "select name, phone from contacts where external_id = :id", id=WA_ID)
    assert name == [("Siti", f"+{WA_ID}")]


def test_a_redelivered_webhook_is_answered_once(data_dir: Path) -> None:
    platform = FakePlatform()
    model = replying("Hello!")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        payload = text_payload("wamid.REPEAT1", "Hi there")
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: post(http, hook, payload), range(5)))
        answers += [post(http, hook, payload) for _ in range(3)]
        assert [a.status_code for a in answers] == [200] * 8
        wait_until(lambda: settled(data_dir, 1), timeout=60)
        time.sleep(0.5)  # a second reply, if any were owed, would be due by now
        again = post(http, hook, payload)
        assert again.status_code == 200
    assert len(platform.requests) == 1 and len(model.seen) == 1
    assert len(inbound(data_dir, "whatsapp")) == 1


def test_statuses_and_images_are_acknowledged_and_counted_not_answered(data_dir: Path) -> None:
    platform = FakePlatform()
    model = replying("Hello!")
    with (
        platform.running() as api,
        service(data_dir, model) as server,
        httpx.Client(timeout=30) as http,
    ):
        created = connect(http, server, connection(api))
        hook = f"{server.url}{created['webhook_path']}"
        status = post(http, hook, status_payload("wamid.OUT1"))
        image = post(http, hook, image_payload("wamid.IMG1"))
        assert status.json() == {"accepted": 0, "ignored": 1}
        assert image.json() == {"accepted": 0, "ignored": 1}
        shown = http.get(f"{server.url}/v1/channels/{created['id']}", headers=ADMIN).json()
    assert shown["events_ignored"] == 2 and shown["messages_accepted"] == 0
    assert shown["last_ignored"] == "whatsapp message of type 'image'"
    assert inbound(data_dir, "whatsapp") == [] and platform.requests == [] and model.seen == []


def test_a_graph_api_5xx_is_retried_until_delivered(data_dir: Path) -> None:
    platform = FakePlatform(script=[500, 503])
    with (
        platform.running() as api,
        service(data_dir, replying("Hello!")) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert post(http, hook, text_payload("wamid.RETRY1", "Hi")).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    assert [r.status for r in platform.requests] == [500, 503, 200]
    assert {json.dumps(r.body, sort_keys=True) for r in platform.requests} == {
        json.dumps(platform.requests[0].body, sort_keys=True)
    }
    assert outbox(data_dir) == [("delivered", 3, 1, None)]


def test_outside_the_24_hour_window_the_reply_is_recorded_as_not_sent(data_dir: Path) -> None:
    platform = FakePlatform()
    old = int(time.time()) - 25 * 3600  # Meta delivered it late: the window has closed
    with (
        platform.running() as api,
        service(data_dir, replying("Hello!")) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert post(http, hook, text_payload("wamid.OLD1", "Hi", timestamp=old)).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    assert platform.requests == []
    ((status, attempts, parts, error),) = outbox(data_dir)
    assert (status, attempts, parts) == ("failed", 1, 0)
    assert "24-hour customer-service window" in error


def test_meta_refusing_a_closed_window_is_not_retried(data_dir: Path) -> None:
    refusal = {
        "error": {"message": "Re-engagement message", "type": "OAuthException", "code": 131047}
    }
    platform = FakePlatform(script=[(400, refusal)])
    with (
        platform.running() as api,
        service(data_dir, replying("Hello!")) as server,
        httpx.Client(timeout=30) as http,
    ):
        hook = f"{server.url}{connect(http, server, connection(api))['webhook_path']}"
        assert post(http, hook, text_payload("wamid.CLOSED1", "Hi")).status_code == 200
        wait_until(lambda: settled(data_dir, 1), timeout=60)
    assert len(platform.requests) == 1
    ((status, attempts, _, error),) = outbox(data_dir)
    assert (status, attempts) == ("failed", 1) and "131047" in error
