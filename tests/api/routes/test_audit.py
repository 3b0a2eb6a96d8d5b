"""Every configuration change is in the audit log with who, what, when and the previous value."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, send


def test_changes_are_audited_with_key_and_previous_value(client: TestClient) -> None:
    entry = client.post(
        "/v1/knowledge/entries",
        json={"question": "Wifi?", "answer": "Yes", "language": "en"},
        headers=ADMIN,
    ).json()
    client.put(f"/v1/knowledge/entries/{entry['id']}", json={"answer": "Yes, free"}, headers=ADMIN)
    client.delete(f"/v1/knowledge/entries/{entry['id']}", headers=ADMIN)
    client.post(
        "/v1/prompts/system/versions",
        json={"body": "Hi {business_name}", "activate": True},
        headers=ADMIN,
    )
    stage = client.get("/v1/stages", headers=ADMIN).json()[0]
    client.patch(f"/v1/stages/{stage['id']}", json={"name": "Fresh"}, headers=ADMIN)
    team = client.get("/v1/teams", headers=ADMIN).json()[0]
    client.patch(f"/v1/teams/{team['id']}", json={"fallback": "handoff_anyway"}, headers=ADMIN)
    client.post("/v1/workspaces/ws_demo/keys", json={"roles": ["qa"]}, headers=ADMIN)
    send(client, "hello", contact="audit-1")  # a conversation is not a configuration change

    log = client.get("/v1/audit?limit=50", headers=ADMIN).json()
    actions = [e["action"] for e in log["items"]]
    assert actions == [
        "key.create",
        "team.update",
        "stage.update",
        "prompt.activate",
        "prompt.create_version",
        "knowledge.delete",
        "knowledge.update",
        "knowledge.create",
    ]
    admin_key_id = log["items"][0]["key_id"]
    assert admin_key_id.startswith("key_") and {e["key_id"] for e in log["items"]} == {admin_key_id}
    by_action = {e["action"]: e for e in log["items"]}
    assert by_action["knowledge.update"]["before"]["answer"] == "Yes"
    assert by_action["knowledge.update"]["after"]["answer"] == "Yes, free"
    assert by_action["knowledge.delete"]["before"]["answer"] == "Yes, free"
    assert by_action["stage.update"]["before"]["name"] == "New Lead"
    assert by_action["team.update"]["before"]["fallback"] == "collect_contact"
    assert by_action["prompt.activate"]["before"] == {"active_version": 1}
    only_prompts = client.get("/v1/audit?target_type=prompt", headers=ADMIN).json()
    assert {e["target_type"] for e in only_prompts["items"]} == {"prompt"}
