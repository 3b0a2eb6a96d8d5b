"""Workspaces and keys: bootstrap, keys shown once, revocation, roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL, QA, message

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_bootstrap_key_creates_workspace_with_defaults_and_first_admin_key(
    client: TestClient,
) -> None:
    created = client.post("/v1/workspaces", json={"name": "Saigon Smile"}, headers=BOOTSTRAP)
    assert created.status_code == 201, created.text
    body = created.json()
    admin = _bearer(body["admin_key"]["key"])
    assert body["name"] == "Saigon Smile" and body["admin_key"]["roles"] == ["admin"]
    stages = client.get("/v1/stages", headers=admin).json()
    assert [s["name"] for s in stages][:4] == ["New Lead", "Hot Lead", "Payment", "Customer"]
    assert client.get("/v1/knowledge/entries", headers=admin).json()["total"] == 0
    prompts = client.get("/v1/prompts", headers=admin).json()
    assert {p["name"] for p in prompts} == {"system", "phrases"}


def test_a_workspace_language_must_be_one_the_service_answers_in(client: TestClient) -> None:
    body = {"name": "Klingon Spa", "default_language": "klingon"}
    refused = client.post("/v1/workspaces", json=body, headers=BOOTSTRAP)
    assert refused.status_code == 422 and "default_language" in refused.text
    assert "use one of en (English), vi (Vietnamese)" in refused.text
    body["default_language"] = "th-TH"
    assert client.post("/v1/workspaces", json=body, headers=BOOTSTRAP).status_code == 201


def test_key_is_shown_once_and_works_for_its_role_until_revoked(client: TestClient) -> None:
    ws = client.post("/v1/workspaces", json={"name": "Shop"}, headers=BOOTSTRAP).json()
    admin = _bearer(ws["admin_key"]["key"])
    made = client.post(
        f"/v1/workspaces/{ws['id']}/keys", json={"roles": ["channel"]}, headers=admin
    )
    assert made.status_code == 201
    key = made.json()
    assert set(key) >= {"id", "key"} and key["key"].startswith("ask_")
    listed = client.get(f"/v1/workspaces/{ws['id']}/keys", headers=admin).json()
    assert key["id"] in {k["id"] for k in listed}
    assert all("key" not in k for k in listed), "the plain key must never be shown again"
    channel = _bearer(key["key"])
    assert client.post("/v1/messages", json=message("hello"), headers=channel).status_code == 200
    revoked = client.delete(f"/v1/workspaces/{ws['id']}/keys/{key['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    again = client.post("/v1/messages", json=message("hello again"), headers=channel)
    assert again.status_code == 401


def test_workspace_creation_is_a_platform_operation(client: TestClient) -> None:
    assert client.post("/v1/workspaces", json={"name": "x"}).status_code == 401
    bad = _bearer("not-a-key")
    assert client.post("/v1/workspaces", json={"name": "x"}, headers=bad).status_code == 401
    for role in (CHANNEL, QA):
        assert client.post("/v1/workspaces", json={"name": "x"}, headers=role).status_code == 403
    # A workspace's admin manages that workspace, not the platform.
    refused = client.post("/v1/workspaces", json={"name": "x"}, headers=ADMIN)
    assert refused.status_code == 403 and "bootstrap key" in refused.json()["detail"]
    assert client.post("/v1/workspaces", json={"name": "x"}, headers=BOOTSTRAP).status_code == 201


def test_admin_of_one_workspace_cannot_manage_another_workspaces_keys(client: TestClient) -> None:
    other = client.post("/v1/workspaces", json={"name": "Other"}, headers=BOOTSTRAP).json()
    for method, path, body in (
        ("POST", f"/v1/workspaces/{other['id']}/keys", {"roles": ["admin"]}),
        ("GET", f"/v1/workspaces/{other['id']}/keys", None),
        ("DELETE", f"/v1/workspaces/{other['id']}/keys/{other['admin_key']['id']}", None),
        ("GET", f"/v1/workspaces/{other['id']}", None),
    ):
        response = client.request(method, path, json=body, headers=ADMIN)
        assert response.status_code == 404, (method, path, response.text)
    # and the other workspace's admin key still works
    assert (
        client.get(
            f"/v1/workspaces/{other['id']}", headers=_bearer(other["admin_key"]["key"])
        ).status_code
        == 200
    )


def test_unknown_role_is_refused_with_a_message(client: TestClient) -> None:
    response = client.post("/v1/workspaces/ws_demo/keys", json={"roles": ["root"]}, headers=ADMIN)
    assert response.status_code == 422
    assert "root" in response.text or "channel" in response.text


def test_the_last_admin_key_cannot_be_revoked(client: TestClient) -> None:
    ws = client.post("/v1/workspaces", json={"name": "Solo"}, headers=BOOTSTRAP).json()
    admin = _bearer(ws["admin_key"]["key"])
    url = f"/v1/workspaces/{ws['id']}/keys"
    refused = client.delete(f"{url}/{ws['admin_key']['id']}", headers=admin)
    assert refused.status_code == 409 and "last active admin key" in refused.json()["detail"]
    client.post(url, json={"roles": ["admin"]}, headers=admin)
    assert client.delete(f"{url}/{ws['admin_key']['id']}", headers=admin).status_code == 200
