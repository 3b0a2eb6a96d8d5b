"""Stages: create, rename (contacts follow), reorder, delete rules, approval of guarded moves."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import ADMIN, CHANNEL, ClientFactory, send


def _stages(client: TestClient) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in client.get("/v1/stages", headers=ADMIN).json()}


def test_create_rename_and_reorder(client: TestClient) -> None:
    send(client, "hello", contact="r-1")
    created = client.post("/v1/stages", json={"name": "Consulted", "position": 1}, headers=ADMIN)
    assert created.status_code == 201, created.text
    names = [s["name"] for s in client.get("/v1/stages", headers=ADMIN).json()]
    assert names[:3] == ["New Lead", "Consulted", "Hot Lead"]
    assert client.post("/v1/stages", json={"name": "hot lead"}, headers=ADMIN).status_code == 409

    new_lead = _stages(client)["New Lead"]
    assert new_lead["contacts"] == 1
    renamed = client.patch(f"/v1/stages/{new_lead['id']}", json={"name": "Fresh"}, headers=ADMIN)
    assert renamed.status_code == 200 and renamed.json()["contacts"] == 1
    assert client.get("/v1/contacts/r-1", headers=CHANNEL).json()["lifecycle_stage"] == "Fresh"
    assert send(client, "hi again", contact="r-2")["contact"]["lifecycle_stage"] == "Fresh"

    ids = [s["id"] for s in client.get("/v1/stages", headers=ADMIN).json()]
    reordered = client.put(
        "/v1/stages/order", json={"ids": [ids[1], ids[0], *ids[2:]]}, headers=ADMIN
    )
    assert reordered.status_code == 200
    assert [s["name"] for s in reordered.json()][:2] == ["Consulted", "Fresh"]
    partial = client.put("/v1/stages/order", json={"ids": ids[:2]}, headers=ADMIN)
    assert partial.status_code == 409 and "missing" in partial.json()["detail"]


def test_delete_is_refused_while_contacts_are_in_it_unless_a_target_is_given(
    client: TestClient,
) -> None:
    send(client, "hello", contact="d-1")
    stage = client.post("/v1/stages", json={"name": "Temp", "position": 0}, headers=ADMIN).json()
    assert send(client, "hello", contact="d-2")["contact"]["lifecycle_stage"] == "Temp"
    refused = client.delete(f"/v1/stages/{stage['id']}", headers=ADMIN)
    assert refused.status_code == 409 and "move_to" in refused.json()["detail"]
    wrong = client.delete(f"/v1/stages/{stage['id']}?move_to=Nowhere", headers=ADMIN)
    assert wrong.status_code == 409
    moved = client.delete(f"/v1/stages/{stage['id']}?move_to=Cold%20Lead", headers=ADMIN)
    assert moved.status_code == 200 and moved.json() == {"deleted": "Temp", "moved_contacts": 1}
    contact = client.get("/v1/contacts/d-2", headers=CHANNEL).json()
    assert contact["lifecycle_stage"] == "Cold Lead" and contact["lost"] is True
    assert contact["stage_history"][-1]["actor"] == "human"
    hot = _stages(client)["Hot Lead"]
    assert (
        client.delete(f"/v1/stages/{hot['id']}", headers=ADMIN).status_code == 409
    )  # qualified stage
    unused = _stages(client)["Lost to Competitor"]
    assert client.delete(f"/v1/stages/{unused['id']}", headers=ADMIN).status_code == 200
    assert "Lost to Competitor" not in _stages(client)


def test_flags_ai_settable_and_lost(make_client: ClientFactory) -> None:
    text = "I want to book a facial"
    move = tool_call(
        "update_lifecycle_stage", stage="Hot Lead", reason="r", evidence=text, confidence=0.9
    )
    model = ScriptedChatModel(steps=[reply("ok", move), reply("Sure!")])
    with make_client(chat_model=model) as client:
        hot = _stages(client)["Hot Lead"]
        client.patch(f"/v1/stages/{hot['id']}", json={"ai_settable": False}, headers=ADMIN)
        body = send(client, text, contact="f-1")
    assert body["contact"]["lifecycle_stage"] == "New Lead"


def test_move_into_stage_needing_approval_waits_for_an_admin(make_client: ClientFactory) -> None:
    text = "I want to book the hydrating facial this Saturday"
    move = tool_call(
        "update_lifecycle_stage",
        stage="Hot Lead",
        reason="wants to book",
        evidence=text,
        confidence=0.8,
    )
    model = ScriptedChatModel(steps=[reply("Lovely! Which branch?", move)])
    with make_client(chat_model=model) as client:
        hot = _stages(client)["Hot Lead"]
        flagged = client.patch(
            f"/v1/stages/{hot['id']}", json={"requires_approval": True}, headers=ADMIN
        )
        assert flagged.json()["requires_approval"] is True
        body = send(client, text, contact="a-1")
        assert body["contact"]["lifecycle_stage"] == "New Lead", "not applied before approval"
        pending = client.get("/v1/approvals", headers=ADMIN).json()
        assert len(pending) == 1
        request = pending[0]
        assert request["contact_id"] == "a-1" and request["to_stage"] == "Hot Lead"
        assert request["evidence"] == text and request["status"] == "pending"
        approved = client.post(f"/v1/approvals/{request['id']}/approve", headers=ADMIN)
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        contact = client.get("/v1/contacts/a-1", headers=CHANNEL).json()
        assert contact["lifecycle_stage"] == "Hot Lead"
        assert contact["stage_history"][-1]["evidence"] == text
        assert "approved by key" in contact["stage_history"][-1]["reason"]
        again = client.post(f"/v1/approvals/{request['id']}/reject", headers=ADMIN)
        assert again.status_code == 409
        assert client.get("/v1/approvals", headers=ADMIN).json() == []
    model.assert_all_used()


def test_rejected_lost_mark_leaves_the_contact_unchanged(make_client: ClientFactory) -> None:
    text = "not interested anymore, thanks"
    mark = tool_call("mark_lead_lost", lost_stage="Cold Lead", reason="no interest", evidence=text)
    model = ScriptedChatModel(steps=[reply("No problem!", mark)])
    with make_client(chat_model=model) as client:
        cold = _stages(client)["Cold Lead"]
        client.patch(f"/v1/stages/{cold['id']}", json={"requires_approval": True}, headers=ADMIN)
        body = send(client, text, contact="a-2")
        assert body["contact"]["lost"] is False
        request = client.get("/v1/approvals", headers=ADMIN).json()[0]
        assert request["kind"] == "lost"
        rejected = client.post(f"/v1/approvals/{request['id']}/reject", headers=ADMIN)
        assert rejected.json()["status"] == "rejected"
        contact = client.get("/v1/contacts/a-2", headers=CHANNEL).json()
        assert contact["lost"] is False and contact["lifecycle_stage"] == "New Lead"


def test_renaming_the_qualified_stage_updates_the_rule(client: TestClient) -> None:
    hot = _stages(client)["Hot Lead"]
    client.patch(f"/v1/stages/{hot['id']}", json={"name": "Ready"}, headers=ADMIN)
    rule = client.get("/v1/qualification", headers=ADMIN).json()["rule"]
    assert rule["qualified_stage"] == "Ready"
    body = send(client, "I'd like a facial in KL tomorrow", contact="rq-1", locale="en")
    assert body["contact"]["lifecycle_stage"] == "Ready"


def test_a_stage_is_found_by_its_name_as_well_as_its_id(client: TestClient) -> None:
    """`PATCH /v1/stages/Hot%20Lead` works like the `stg_...` id; a wrong one names the fix."""
    hot = _stages(client)["Hot Lead"]
    patched = client.patch("/v1/stages/Hot Lead", json={"requires_approval": True}, headers=ADMIN)
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == hot["id"] and patched.json()["requires_approval"] is True
    missing = client.patch("/v1/stages/Warm Lead", json={"name": "x"}, headers=ADMIN)
    assert missing.status_code == 404 and "GET /v1/stages" in missing.json()["detail"]
