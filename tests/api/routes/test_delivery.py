"""PUT/GET /v1/workspaces/current/delivery: callback URL and secrets, admin only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL

URL = "/v1/workspaces/current/delivery"


def test_admin_sets_the_callback_and_secrets_which_are_never_returned(client: TestClient) -> None:
    assert client.get(URL, headers=ADMIN).json()["callback_url"] is None
    change = {
        "callback_url": "https://inbox.example.com/hooks/agent",
        "callback_secret": "cb-secret-0123456789",
        "signing_secret": "in-secret-0123456789",
    }
    saved = client.put(URL, json=change, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    body = client.get(URL, headers=ADMIN).json()
    assert body["callback_url"] == "https://inbox.example.com/hooks/agent"
    assert body["callback_secret_set"] is True and body["signing_secret_set"] is True
    assert "0123456789" not in saved.text + str(body)
    # Fields left out stay; null clears.
    body = client.put(URL, json={"signing_secret": None}, headers=ADMIN).json()
    assert body["signing_secret_set"] is False and body["callback_secret_set"] is True


def test_delivery_settings_need_an_admin_key(client: TestClient) -> None:
    assert client.put(URL, json={}, headers=CHANNEL).status_code == 403
    assert client.get(URL).status_code == 401


def test_short_secrets_and_bad_urls_are_refused(client: TestClient) -> None:
    short = client.put(URL, json={"signing_secret": "short"}, headers=ADMIN)
    assert short.status_code == 422
    assert client.put(URL, json={"callback_url": "not a url"}, headers=ADMIN).status_code == 422
