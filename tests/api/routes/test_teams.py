"""Teams: CRUD with hours, the online signal, and truthful fallback when nobody can answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL, QA, ClientFactory, TickingClock, send

QUALIFYING = "I'd like a facial in KL tomorrow"
# 23:00 in Kuala Lumpur on a Sunday: both demo teams are closed.
NIGHT = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def _team(client: TestClient, key: str) -> dict[str, Any]:
    teams = client.get("/v1/teams", headers=ADMIN).json()
    return next(t for t in teams if t["key"] == key)


def test_team_crud_and_validation(client: TestClient) -> None:
    team = {
        "key": "vip",
        "name": "VIP desk",
        "timezone": "Asia/Bangkok",
        "business_hours": {"mon": ["09:00", "17:00"]},
        "fallback": "handoff_anyway",
    }
    created = client.post("/v1/teams", json=team, headers=ADMIN)
    assert created.status_code == 201, created.text
    team_id = created.json()["id"]
    assert client.post("/v1/teams", json=team, headers=ADMIN).status_code == 409
    bad_zone = client.post(
        "/v1/teams", json={**team, "key": "x", "timezone": "Mars/Base"}, headers=ADMIN
    )
    assert bad_zone.status_code == 409 and "Mars/Base" in bad_zone.json()["detail"]
    bad_hours = client.post(
        "/v1/teams",
        json={**team, "key": "y", "business_hours": {"mon": ["18:00", "09:00"]}},
        headers=ADMIN,
    )
    assert bad_hours.status_code == 409 and "mon" in bad_hours.json()["detail"]
    patched = client.patch(f"/v1/teams/{team_id}", json={"name": "VIP"}, headers=ADMIN)
    assert patched.json()["name"] == "VIP" and patched.json()["timezone"] == "Asia/Bangkok"
    assert client.get(f"/v1/teams/{team_id}", headers=ADMIN).json()["name"] == "VIP"
    sales = _team(client, "sales")
    assert client.delete(f"/v1/teams/{sales['id']}", headers=ADMIN).status_code == 409
    assert client.delete(f"/v1/teams/{team_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/v1/teams/{team_id}", headers=ADMIN).status_code == 404


def test_availability_signal_from_the_channel(client: TestClient) -> None:
    sales = _team(client, "sales")
    assert sales["available_now"] is True and sales["online_agents"] is None
    url = f"/v1/teams/{sales['id']}/availability"
    assert client.post(url, json={"online_agents": 0}, headers=QA).status_code == 403
    signal = client.post(url, json={"online_agents": 0}, headers=CHANNEL)
    assert signal.status_code == 200
    assert signal.json()["open_now"] is True and signal.json()["available_now"] is False
    assert client.post(url, json={"online_agents": -1}, headers=CHANNEL).status_code == 422


def test_a_team_is_found_by_its_key_as_well_as_its_id(client: TestClient) -> None:
    """The docs' `$TEAM` is what people type: `sales` works like the `team_...` id."""
    sales = _team(client, "sales")
    by_key = client.post("/v1/teams/sales/availability", json={"online_agents": 2}, headers=CHANNEL)
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["id"] == sales["id"] and by_key.json()["online_agents"] == 2
    assert client.get("/v1/teams/sales", headers=ADMIN).json()["id"] == sales["id"]
    patched = client.patch("/v1/teams/sales", json={"name": "Sales desk"}, headers=ADMIN)
    assert patched.status_code == 200 and patched.json()["name"] == "Sales desk"
    missing = client.get("/v1/teams/salez", headers=ADMIN)
    assert missing.status_code == 404 and "GET /v1/teams" in missing.json()["detail"]


def test_handoff_to_a_closed_team_collects_contact_details_truthfully(
    make_client: ClientFactory,
) -> None:
    with make_client(clock=TickingClock(NIGHT)) as client:
        body = send(client, QUALIFYING, contact="n-1", locale="en")
    text = body["reply"]["text"]
    assert "isn't available right now" in text and "phone number or e-mail" in text
    assert "call you back during business hours" in text
    assert "Sun 10:00-18:00 (Asia/Kuala_Lumpur)" in text
    assert "shortly" not in text, "must not promise an immediate reply"
    handoff = next(a for a in body["actions"] if a["type"] == "handoff")
    assert handoff["team"] == "sales" and "outside business hours" in handoff["reason"]


def test_handoff_anyway_says_when_the_team_is_back(make_client: ClientFactory) -> None:
    with make_client(clock=TickingClock(NIGHT)) as client:
        sales = _team(client, "sales")
        client.patch(f"/v1/teams/{sales['id']}", json={"fallback": "handoff_anyway"}, headers=ADMIN)
        body = send(
            client, "Mình muốn làm chăm sóc da mặt ở Sài Gòn ngày mai", contact="n-2", locale="vi"
        )
    text = body["reply"]["text"]
    assert "chưa có người trực" in text and "Mình đã chuyển cuộc trò chuyện" in text
    assert body["contact"]["owner"] == "human"


def test_nobody_online_in_business_hours_follows_the_fallback(client: TestClient) -> None:
    sales = _team(client, "sales")
    client.post(f"/v1/teams/{sales['id']}/availability", json={"online_agents": 0}, headers=CHANNEL)
    body = send(client, QUALIFYING, contact="n-3", locale="en")
    assert "isn't available right now" in body["reply"]["text"]
    handoff = next(a for a in body["actions"] if a["type"] == "handoff")
    assert "nobody online" in handoff["reason"]
    client.post(f"/v1/teams/{sales['id']}/availability", json={"online_agents": 3}, headers=CHANNEL)
    body = send(client, QUALIFYING, contact="n-4", locale="en")
    assert "passing you to our Sales team" in body["reply"]["text"]


def test_model_written_handoff_reply_is_replaced_when_the_team_is_closed(
    make_client: ClientFactory,
) -> None:
    from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call

    handoff = tool_call(
        "handoff_to_human", reason="asks for a person", summary="Lan wants a human", team="sales"
    )
    model = ScriptedChatModel(steps=[reply("A colleague will answer you right away!", handoff)])
    with make_client(chat_model=model, clock=TickingClock(NIGHT)) as client:
        body = send(client, "can I talk to a real person please", contact="n-5", locale="en")
    model.assert_all_used()
    assert "right away" not in body["reply"]["text"]
    assert "phone number or e-mail" in body["reply"]["text"]


def test_default_team_receives_handoffs_that_name_no_team(client: TestClient) -> None:
    team = {"key": "night", "name": "Night desk", "default": True}
    created = client.post("/v1/teams", json=team, headers=ADMIN)
    assert created.status_code == 201 and created.json()["default"] is True
    defaults = [t["key"] for t in client.get("/v1/teams", headers=ADMIN).json() if t["default"]]
    assert defaults == ["night"]
    body = send(client, "I want to talk to a real person", contact="d-1", locale="en")
    assert [a["team"] for a in body["actions"] if a["type"] == "handoff"] == ["night"]
    refused = client.delete(f"/v1/teams/{created.json()['id']}", headers=ADMIN)
    assert refused.status_code == 409 and "default_handoff_team" in refused.json()["detail"]
    audit = client.get("/v1/audit?action=team.default", headers=ADMIN).json()["items"]
    assert audit[0]["before"] == {"default_handoff_team": "support"}
