"""Workspace isolation: workspace B's keys never read or change anything of workspace A."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, message, send

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}
SECRET_ANSWER = "The staff password for the Bangkok wifi is ORCHID-7731."


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _setup_workspace_a(client: TestClient) -> dict[str, Any]:
    """Something of every kind in the demo workspace (A), and its ids."""
    entry = client.post(
        "/v1/knowledge/entries",
        json={
            "question": "What is the wifi password in Bangkok?",
            "answer": SECRET_ANSWER,
            "language": "en",
        },
        headers=ADMIN,
    ).json()
    stages = {s["name"]: s for s in client.get("/v1/stages", headers=ADMIN).json()}
    client.patch(
        f"/v1/stages/{stages['Hot Lead']['id']}", json={"requires_approval": True}, headers=ADMIN
    )
    send(client, "I want to book a facial appointment now", contact="a-contact")
    approvals = client.get("/v1/approvals", headers=ADMIN).json()
    assert approvals, "the offline planner should have asked to move the contact to Hot Lead"
    client.post(
        "/v1/prompts/system/versions", json={"body": "A-ONLY {business_name}"}, headers=ADMIN
    )
    qualification = client.get("/v1/qualification", headers=ADMIN).json()
    teams = client.get("/v1/teams", headers=ADMIN).json()
    keys = client.get("/v1/workspaces/ws_demo/keys", headers=ADMIN).json()
    return {
        "entry": entry["id"],
        "stage": stages["Cold Lead"]["id"],
        "stage_ids": [s["id"] for s in stages.values()],
        "approval": approvals[0]["id"],
        "field": qualification["fields"][0]["id"],
        "team": teams[0]["id"],
        "key": keys[0]["id"],
    }


def test_workspace_b_cannot_read_or_change_anything_of_workspace_a(client: TestClient) -> None:
    a = _setup_workspace_a(client)
    b = client.post("/v1/workspaces", json={"name": "B"}, headers=BOOTSTRAP).json()
    b_admin = _bearer(b["admin_key"]["key"])
    made = client.post(
        f"/v1/workspaces/{b['id']}/keys", json={"roles": ["channel", "qa"]}, headers=b_admin
    ).json()
    b_other = _bearer(made["key"])

    not_found: list[tuple[str, str, Any, dict[str, str]]] = [
        ("GET", f"/v1/knowledge/entries/{a['entry']}", None, b_admin),
        ("GET", f"/v1/knowledge/entries/{a['entry']}", None, b_other),
        ("PUT", f"/v1/knowledge/entries/{a['entry']}", {"answer": "hijacked"}, b_admin),
        ("DELETE", f"/v1/knowledge/entries/{a['entry']}", None, b_admin),
        ("GET", "/v1/contacts/a-contact", None, b_admin),
        (
            "POST",
            "/v1/contacts/a-contact/events",
            {"type": "human_assigned", "event_id": "ev-iso-1"},
            b_other,
        ),
        ("PATCH", f"/v1/stages/{a['stage']}", {"name": "hijacked"}, b_admin),
        ("DELETE", f"/v1/stages/{a['stage']}", None, b_admin),
        ("POST", f"/v1/approvals/{a['approval']}/approve", None, b_admin),
        ("POST", f"/v1/approvals/{a['approval']}/reject", None, b_admin),
        ("PATCH", f"/v1/qualification/fields/{a['field']}", {"required": False}, b_admin),
        ("DELETE", f"/v1/qualification/fields/{a['field']}", None, b_admin),
        ("GET", f"/v1/teams/{a['team']}", None, b_admin),
        ("PATCH", f"/v1/teams/{a['team']}", {"name": "hijacked"}, b_admin),
        ("DELETE", f"/v1/teams/{a['team']}", None, b_admin),
        ("POST", f"/v1/teams/{a['team']}/availability", {"online_agents": 0}, b_other),
        ("GET", "/v1/prompts/system/versions/2", None, b_admin),
        ("POST", "/v1/prompts/system/versions/2/activate", None, b_admin),
        ("GET", "/v1/prompts/system/diff?from=1&to=2", None, b_admin),
        ("GET", "/v1/workspaces/ws_demo", None, b_admin),
        ("GET", "/v1/workspaces/ws_demo/keys", None, b_admin),
        ("POST", "/v1/workspaces/ws_demo/keys", {"roles": ["admin"]}, b_admin),
        ("DELETE", f"/v1/workspaces/ws_demo/keys/{a['key']}", None, b_admin),
        ("DELETE", f"/v1/workspaces/{b['id']}/keys/{a['key']}", None, b_admin),
    ]
    for method, path, body, headers in not_found:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "ORCHID" not in response.text

    reorder = client.put("/v1/stages/order", json={"ids": a["stage_ids"]}, headers=b_admin)
    assert reorder.status_code == 409 and "Cold Lead" not in reorder.text

    # Lists and retrieval show B's own things only.
    assert client.get("/v1/knowledge/entries", headers=b_admin).json()["total"] == 0
    assert client.get("/v1/knowledge/export", headers=b_admin).json() == []
    for headers in (b_admin, b_other):
        found = client.post(
            "/v1/knowledge/search", json={"query": "wifi password Bangkok", "k": 5}, headers=headers
        ).json()
        assert found == {"results": []}
    assert client.get("/v1/approvals", headers=b_admin).json() == []
    assert client.get("/v1/teams", headers=b_admin).json() == []
    assert client.get("/v1/qualification", headers=b_admin).json()["fields"] == []
    assert [
        v["version"] for v in client.get("/v1/prompts/system/versions", headers=b_admin).json()
    ] == [1]
    audit = client.get("/v1/audit", headers=b_admin).json()["items"]
    assert all(e["target_id"] != a["entry"] for e in audit)
    assert client.post("/v1/knowledge/reindex", headers=b_admin).json() == {"indexed": 0}
    preview = client.post(
        "/v1/prompts/preview",
        json={"messages": ["What is the wifi password in Bangkok?"]},
        headers=b_admin,
    ).json()
    assert preview["turns"][0]["retrieved"] == [] and "ORCHID" not in str(preview)

    # B's agent never retrieves A's entries, and B's contact is not A's contact.
    reply = client.post(
        "/v1/messages",
        json=message("What is the wifi password in Bangkok?", contact="a-contact"),
        headers=b_other,
    )
    assert reply.status_code == 200 and "ORCHID" not in reply.text
    assert reply.json()["contact"]["lifecycle_stage"] == "New Lead"

    # Nothing of A changed.
    entry = client.get(f"/v1/knowledge/entries/{a['entry']}", headers=ADMIN).json()
    assert entry["answer"] == SECRET_ANSWER
    assert client.get(f"/v1/teams/{a['team']}", headers=ADMIN).json()["name"] != "hijacked"
    names = [s["name"] for s in client.get("/v1/stages", headers=ADMIN).json()]
    assert "Cold Lead" in names and "hijacked" not in names
    assert client.get("/v1/approvals", headers=ADMIN).json()[0]["status"] == "pending"
    keys = client.get("/v1/workspaces/ws_demo/keys", headers=ADMIN).json()
    assert all(k["revoked_at"] is None for k in keys)
