"""With a signing secret, only bodies signed with it are accepted; nothing else is stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_service.delivery.signature import sign
from tests.conftest import ADMIN, CHANNEL, message

SECRET = "inbound-secret-0123456789"


def stored_messages(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "agent_service.db") as db:
        return int(db.execute("select count(*) from messages").fetchone()[0])


@pytest.fixture
def signed_client(client: TestClient) -> TestClient:
    url = "/v1/workspaces/current/delivery"
    assert client.put(url, json={"signing_secret": SECRET}, headers=ADMIN).status_code == 200
    return client


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "deadbeef", sign("another-secret-0123456789", b"{}")],
    ids=["missing", "empty", "wrong-digest", "no-prefix", "other-secret"],
)
def test_unsigned_or_badly_signed_requests_get_401_and_nothing_is_stored(
    signed_client: TestClient, data_dir: Path, signature: str | None
) -> None:
    raw = json.dumps(message("How much is the facial?")).encode()
    headers = {**CHANNEL, "Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature-256"] = signature
    answer = signed_client.post("/v1/messages", content=raw, headers=headers)
    assert answer.status_code == 401
    assert "X-Signature-256" in answer.json()["detail"]
    assert stored_messages(data_dir) == 0


def test_a_signature_of_other_bytes_is_refused(signed_client: TestClient, data_dir: Path) -> None:
    signed = json.dumps(message("How much is the facial?", message_id="m-1")).encode()
    tampered = signed.replace(b"facial", b"massage")
    headers = {
        **CHANNEL,
        "Content-Type": "application/json",
        "X-Signature-256": sign(SECRET, signed),
    }
    assert signed_client.post("/v1/messages", content=tampered, headers=headers).status_code == 401
    assert stored_messages(data_dir) == 0


def test_a_correctly_signed_request_is_answered(signed_client: TestClient) -> None:
    raw = json.dumps(message("How much is the facial?")).encode()
    headers = {**CHANNEL, "Content-Type": "application/json", "X-Signature-256": sign(SECRET, raw)}
    answer = signed_client.post("/v1/messages", content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "replied"


def test_without_a_secret_signatures_are_not_required(client: TestClient) -> None:
    answer = client.post("/v1/messages", json=message("How much is the facial?"), headers=CHANNEL)
    assert answer.status_code == 200
