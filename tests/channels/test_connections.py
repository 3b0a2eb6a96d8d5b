"""`/v1/channels` through HTTP: admin only, per workspace, audited, secrets never returned;
and the channel list of `POST /v1/messages` takes Zalo and Viber."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.channels.platform import replying, service
from tests.conftest import ADMIN, CHANNEL, message

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}
SECRETS = {
    "whatsapp": {
        "phone_number_id": "106540352242922",
        "access_token": "EAAG-secret-access-token",
        "app_secret": "secret-app-secret-value",
        "verify_token": "secret-verify-token-value",
    },
    "telegram": {
        "bot_token": "123456789:AAEsecretbottokenvalue",
        "secret_token": "secret-telegram-token",
    },
    "line": {"channel_secret": "secret-line-channel", "channel_access_token": "secret-line-access"},
    "chatwoot": {
        "api_access_token": "secret-chatwoot-access",
        "account_id": "3",
        "webhook_token": "secret-chatwoot-webhook",
    },
}
DEFAULTS = {
    "whatsapp": "https://graph.facebook.com",
    "telegram": "https://api.telegram.org",
    "line": "https://api.line.me",
    "chatwoot": "https://app.chatwoot.com",
}
SHOWN = {"phone_number_id", "account_id"}


def test_connections_are_created_read_changed_deleted_and_audited_without_secrets(
    data_dir: Path,
) -> None:
    with (
        service(data_dir, replying("hi")) as server,
        httpx.Client(timeout=30, base_url=server.url) as http,
    ):
        ids = {}
        for kind, credentials in SECRETS.items():
            created = http.post(
                "/v1/channels",
                json={"type": kind, "name": f"My {kind}", **credentials},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            body = created.json()
            assert body["webhook_path"] == f"/channels/{kind}/{body['id']}"
            ids[kind] = body["id"]
        listed = http.get("/v1/channels", headers=ADMIN)
        assert [c["type"] for c in listed.json()] == list(SECRETS)
        for shown in listed.json():
            assert shown["api_base_url"].rstrip("/") == DEFAULTS[shown["type"]]
            expected = {k: (v if k in SHOWN else "set") for k, v in SECRETS[shown["type"]].items()}
            assert shown["credentials"] == expected
        # Replace a secret, rename, point elsewhere.
        changed = http.patch(
            f"/v1/channels/{ids['whatsapp']}",
            json={
                "name": "Clinic KL",
                "access_token": "EAAG-rotated-secret",
                "api_base_url": "http://127.0.0.1:9",
            },
            headers=ADMIN,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Clinic KL"
        assert changed.json()["credentials"]["access_token"] == "set"
        assert changed.json()["api_base_url"] == "http://127.0.0.1:9/"
        foreign = http.patch(
            f"/v1/channels/{ids['whatsapp']}", json={"bot_token": "1:abcdefghijk"}, headers=ADMIN
        )
        assert foreign.status_code == 422 and "bot_token" in foreign.text
        missing = http.post(
            "/v1/channels",
            json={"type": "whatsapp", "name": "x", "access_token": "a"},
            headers=ADMIN,
        )
        assert missing.status_code == 422 and "app_secret" in missing.text
        unknown_type = http.post("/v1/channels", json={"type": "icq", "name": "x"}, headers=ADMIN)
        assert unknown_type.status_code == 422
        assert http.get("/v1/channels", headers=CHANNEL).status_code == 403
        assert http.get("/v1/channels").status_code == 401
        # Deleted: gone, and its webhook answers 404.
        assert http.delete(f"/v1/channels/{ids['line']}", headers=ADMIN).status_code == 204
        assert http.get(f"/v1/channels/{ids['line']}", headers=ADMIN).status_code == 404
        assert http.post(f"/channels/line/{ids['line']}", json={"events": []}).status_code == 404
        # A webhook of the wrong type for the id is unknown too.
        assert http.post(f"/channels/telegram/{ids['whatsapp']}", json={}).status_code == 404
        audit = http.get("/v1/audit", headers=ADMIN, params={"limit": 100}).json()["items"]
        everything = json.dumps(audit) + json.dumps(http.get("/v1/channels", headers=ADMIN).json())
    actions = sorted(a["action"] for a in audit if a["target_type"] == "channel")
    assert actions == ["channel.create"] * 4 + ["channel.delete", "channel.update"]
    for credentials in SECRETS.values():
        for name, value in credentials.items():
            if name not in SHOWN:
                assert value not in everything, name
    assert "EAAG-rotated-secret" not in everything


def test_another_workspace_sees_none_of_the_connections(data_dir: Path) -> None:
    with (
        service(data_dir, replying("hi")) as server,
        httpx.Client(timeout=30, base_url=server.url) as http,
    ):
        mine = http.post(
            "/v1/channels", json={"type": "line", "name": "A", **SECRETS["line"]}, headers=ADMIN
        ).json()
        other = http.post("/v1/workspaces", json={"name": "B"}, headers=BOOTSTRAP).json()
        b_admin = {"Authorization": f"Bearer {other['admin_key']['key']}"}
        assert http.get("/v1/channels", headers=b_admin).json() == []
        assert http.get(f"/v1/channels/{mine['id']}", headers=b_admin).status_code == 404
        assert (
            http.patch(
                f"/v1/channels/{mine['id']}", json={"name": "x"}, headers=b_admin
            ).status_code
            == 404
        )
        assert http.delete(f"/v1/channels/{mine['id']}", headers=b_admin).status_code == 404
        assert http.get(f"/v1/channels/{mine['id']}", headers=ADMIN).json()["name"] == "A"


@pytest.mark.parametrize("channel", ["zalo", "viber"])
def test_zalo_and_viber_are_channels_of_post_messages(data_dir: Path, channel: str) -> None:
    with (
        service(data_dir, replying("Xin chào!")) as server,
        httpx.Client(timeout=30, base_url=server.url) as http,
    ):
        body = message("Xin chào", contact=f"c-{channel}", channel=channel)
        answered = http.post("/v1/messages", json=body, headers=CHANNEL)
    assert answered.status_code == 200, answered.text
    assert answered.json()["reply"]["text"] == "Xin chào!"
