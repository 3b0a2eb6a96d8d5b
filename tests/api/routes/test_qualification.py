"""Qualification fields and rule: CRUD, validation, and a qualified lead moving and handed off."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL, send

QUALIFYING = "I'd like a facial in KL tomorrow"


def test_qualified_lead_moves_to_the_configured_stage_and_team(client: TestClient) -> None:
    body = send(client, QUALIFYING, contact="q-1", locale="en")
    assert body["contact"]["lifecycle_stage"] == "Hot Lead"
    handoff = [a for a in body["actions"] if a["type"] == "handoff"]
    assert handoff and handoff[0]["team"] == "sales"
    assert body["contact"]["owner"] == "human"


def test_rule_with_a_minimum_budget(client: TestClient) -> None:
    rule = {
        "qualified_when": ["service", "branch", "preferred_date"],
        "qualified_at_least": {"budget": 500},
        "qualified_stage": "Hot Lead",
        "handoff_team": "support",
    }
    assert client.put("/v1/qualification/rule", json=rule, headers=ADMIN).status_code == 200
    body = send(client, QUALIFYING, contact="q-2", locale="en")
    assert body["contact"]["owner"] == "ai", "budget unknown: not qualified yet"
    assert not [a for a in body["actions"] if a["type"] == "handoff"]
    low = send(client, "about 200", contact="q-2", locale="en")
    assert low["contact"]["fields"]["budget"] == "about 200"
    assert low["contact"]["owner"] == "ai"
    stored = client.get("/v1/qualification", headers=ADMIN).json()
    assert stored["rule"] == rule


def test_budget_at_least_met_hands_off_to_the_rule_team(client: TestClient) -> None:
    rule = {
        "qualified_when": ["service", "branch", "preferred_date", "budget"],
        "qualified_at_least": {"budget": 500},
        "qualified_stage": "Hot Lead",
        "handoff_team": "support",
    }
    client.put("/v1/qualification/rule", json=rule, headers=ADMIN)
    send(client, QUALIFYING, contact="q-3", locale="en")
    body = send(client, "around 2,000", contact="q-3", locale="en")
    assert body["contact"]["lifecycle_stage"] == "Hot Lead"
    assert [a["team"] for a in body["actions"] if a["type"] == "handoff"] == ["support"]


def test_rule_must_name_existing_fields_stage_and_team(client: TestClient) -> None:
    for rule, word in (
        ({"qualified_when": ["shoe_size"]}, "shoe_size"),
        ({"qualified_when": [], "qualified_stage": "Cold Lead"}, "Cold Lead"),
        ({"qualified_when": [], "handoff_team": "ghosts"}, "ghosts"),
    ):
        response = client.put("/v1/qualification/rule", json=rule, headers=ADMIN)
        assert response.status_code == 409 and word in response.json()["detail"]


def test_field_crud_and_the_agent_asks_the_new_question(client: TestClient) -> None:
    fields = client.get("/v1/qualification", headers=ADMIN).json()["fields"]
    assert [f["name"] for f in fields] == ["service", "branch", "preferred_date", "budget"]
    created = client.post(
        "/v1/qualification/fields",
        json={
            "name": "skin_type",
            "type": "choice",
            "choices": ["oily", "dry"],
            "question": {"en": "Is your skin oily or dry?"},
            "position": 0,
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    body = send(client, "hello there", contact="q-4", locale="en")
    assert "Is your skin oily or dry?" in body["reply"]["text"]
    no_choices = client.post(
        "/v1/qualification/fields", json={"name": "x", "type": "choice"}, headers=ADMIN
    )
    assert no_choices.status_code == 409 and "choices" in no_choices.json()["detail"]
    service = fields[0]
    refused = client.delete(f"/v1/qualification/fields/{service['id']}", headers=ADMIN)
    assert refused.status_code == 409 and "rule" in refused.json()["detail"]
    field_id = created.json()["id"]
    patched = client.patch(
        f"/v1/qualification/fields/{field_id}",
        json={"required": False, "position": 4},
        headers=ADMIN,
    )
    assert patched.json()["required"] is False
    names = [f["name"] for f in client.get("/v1/qualification", headers=ADMIN).json()["fields"]]
    assert names[-1] == "skin_type"
    assert client.delete(f"/v1/qualification/fields/{field_id}", headers=ADMIN).status_code == 204
    assert client.get("/v1/contacts/q-4", headers=CHANNEL).status_code == 200


def test_a_rename_onto_another_fields_name_is_a_conflict(client: TestClient) -> None:
    """Found by the schemathesis coverage phase: a rename skipped the uniqueness check that a
    create makes, and reached the database's unique index as a 500."""
    new = {"name": "budget_max", "question": {"en": "Your top budget?"}, "type": "number"}
    created = client.post("/v1/qualification/fields", json=new, headers=ADMIN).json()
    clash = client.patch(
        f"/v1/qualification/fields/{created['id']}", json={"name": "budget"}, headers=ADMIN
    )
    assert clash.status_code == 409, clash.text
    assert "a field named 'budget' already exists" in clash.json()["detail"]
    names = [f["name"] for f in client.get("/v1/qualification", headers=ADMIN).json()["fields"]]
    assert names.count("budget") == 1 and "budget_max" in names
