"""Prompt versions: create (never overwrite), validation, diff, activate, roll back, preview."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from langchain_core.messages import BaseMessage

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import ADMIN, CHANNEL, ClientFactory, send

NEW_SYSTEM = (
    "You answer for {business_name} in {language_name}. CANARY-v2.\n"
    "<knowledge>\n{knowledge}\n</knowledge>"
)


def _versions(client: TestClient, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/prompts/{name}/versions", headers=ADMIN)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_new_version_never_overwrites_and_activation_changes_what_turns_use(
    make_client: ClientFactory,
) -> None:
    def check_prompt(messages: list[BaseMessage]) -> Any:
        assert "CANARY-v2" in str(messages[0].content)
        return reply("Hello from v2")

    model = ScriptedChatModel(steps=[reply("Hello from v1"), check_prompt])
    with make_client(chat_model=model) as client:
        created = client.post(
            "/v1/prompts/system/versions", json={"body": NEW_SYSTEM}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 2 and created.json()["active"] is False
        versions = _versions(client, "system")
        assert [(v["version"], v["active"]) for v in versions] == [(1, True), (2, False)]
        assert "CANARY" not in versions[0]["body"]
        assert send(client, "hi", contact="v1")["usage"]["prompt_version"] == "phrases@1+system@1"

        activated = client.post("/v1/prompts/system/versions/2/activate", headers=ADMIN)
        assert activated.status_code == 200 and activated.json()["active"] is True
        body = send(client, "hi", contact="v2")
        assert body["reply"]["text"] == "Hello from v2"
        assert body["usage"]["prompt_version"] == "phrases@1+system@2"
        listed = {p["name"]: p for p in client.get("/v1/prompts", headers=ADMIN).json()}
        assert listed["system"]["active_version"] == 2 and listed["system"]["versions"] == 2
    model.assert_all_used()


def test_rollback_returns_to_the_previously_active_version(client: TestClient) -> None:
    for n in range(3):
        client.post(
            "/v1/prompts/system/versions",
            json={"body": NEW_SYSTEM.replace("v2", f"v{n + 2}")},
            headers=ADMIN,
        )
    client.post("/v1/prompts/system/versions/4/activate", headers=ADMIN)
    client.post("/v1/prompts/system/versions/2/activate", headers=ADMIN)
    rolled = client.post("/v1/prompts/system/rollback", headers=ADMIN)
    assert rolled.status_code == 200 and rolled.json()["version"] == 4
    rolled = client.post("/v1/prompts/system/rollback", headers=ADMIN)
    assert rolled.json()["version"] == 1
    again = client.post("/v1/prompts/system/rollback", headers=ADMIN)
    assert again.status_code == 409 and "nothing to roll back" in again.json()["detail"]


def test_diff_between_two_versions(client: TestClient) -> None:
    client.post("/v1/prompts/system/versions", json={"body": NEW_SYSTEM}, headers=ADMIN)
    diff = client.get("/v1/prompts/system/diff?from=1&to=2", headers=ADMIN)
    assert diff.status_code == 200
    text = diff.json()["diff"]
    assert text.startswith("--- system@1\n+++ system@2\n")
    assert "+You answer for {business_name} in {language_name}. CANARY-v2." in text
    assert client.get("/v1/prompts/system/diff?from=1&to=9", headers=ADMIN).status_code == 404


def test_invalid_prompts_are_refused_with_a_message_naming_the_problem(
    client: TestClient,
) -> None:
    empty = client.post("/v1/prompts/system/versions", json={"body": "  "}, headers=ADMIN)
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    unknown = client.post(
        "/v1/prompts/system/versions", json={"body": "Hi {customer_secret}"}, headers=ADMIN
    )
    assert unknown.status_code == 422 and "customer_secret" in unknown.json()["detail"]
    phrases = client.post(
        "/v1/prompts/phrases/versions", json={"body": "greeting:\n  en: hi\n"}, headers=ADMIN
    )
    assert phrases.status_code == 422 and "lacks" in phrases.json()["detail"]
    assert [v["version"] for v in _versions(client, "system")] == [1]
    assert client.get("/v1/prompts/nope/versions", headers=ADMIN).status_code == 422


def test_preview_runs_a_conversation_on_a_draft_and_stores_nothing(
    make_client: ClientFactory,
) -> None:
    def grounded(messages: list[BaseMessage]) -> Any:
        assert "DRAFT-MARKER" in str(messages[0].content)
        return reply(
            "Facial is 600,000 VND.",
            tool_call(
                "update_lifecycle_stage",
                stage="Customer",
                reason="customer asked",
                evidence="How much is a facial in HCMC?",
                confidence=0.9,
            ),
        )

    # The refusal goes back to the model, which answers on its second call.
    model = ScriptedChatModel(
        steps=[grounded, reply("Facial is 600,000 VND."), reply("Sure, noted.")]
    )
    draft = "DRAFT-MARKER for {business_name}.\n{knowledge}"
    with make_client(chat_model=model) as client:
        response = client.post(
            "/v1/prompts/preview",
            json={"drafts": {"system": draft}, "messages": ["How much is a facial in HCMC?", "ok"]},
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["prompt_version"] == "phrases@1+system@0"
        assert body["brain"] == "llm" and body["prompts_read"] == ["system", "phrases"]
        assert body["notes"] == []
        first = body["turns"][0]
        assert first["reply"].startswith("Facial is 600,000 VND.")
        assert first["retrieved"] and "600,000 VND" in " ".join(
            r["answer"] for r in first["retrieved"]
        )
        assert first["refused"][0]["name"] == "update_lifecycle_stage"
        assert "conversion event or a human" in first["refused"][0]["result"]
        assert first["contact"]["lifecycle_stage"] == "New Lead"
        assert body["turns"][1]["reply"] == "Sure, noted."
        # nothing stored: no contact, no new prompt version
        assert client.get("/v1/contacts/preview", headers=CHANNEL).status_code == 404
        assert [v["version"] for v in _versions(client, "system")] == [1]
    model.assert_all_used()


def test_preview_says_the_offline_planner_does_not_read_a_system_draft(
    client: TestClient,
) -> None:
    """With no model configured, a `system` draft cannot change the turns: the preview says so
    instead of showing identical turns without a word."""
    response = client.post(
        "/v1/prompts/preview",
        json={"drafts": {"system": "Be terse. {business_name} {knowledge}"}, "messages": ["hi"]},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["brain"] == "offline-planner" and body["prompts_read"] == ["phrases"]
    assert len(body["notes"]) == 1 and "'system'" in body["notes"][0]
    assert "AGENT_SERVICE_LLM_MODEL" in body["notes"][0]


def test_preview_refuses_a_draft_with_unknown_variables(client: TestClient) -> None:
    response = client.post(
        "/v1/prompts/preview",
        json={"drafts": {"system": "{oops}"}, "messages": ["hi"]},
        headers=ADMIN,
    )
    assert response.status_code == 422 and "oops" in response.json()["detail"]


def test_preview_continues_from_a_copy_of_an_existing_contact(client: TestClient) -> None:
    send(client, "I'd like a facial please", contact="pv-1", locale="en")
    before = client.get("/v1/contacts/pv-1", headers=CHANNEL).json()
    assert before["fields"] == {"service": "facial"}
    response = client.post(
        "/v1/prompts/preview",
        json={"contact_id": "pv-1", "messages": ["in KL tomorrow"]},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    turn = response.json()["turns"][0]
    assert turn["contact"]["fields"]["service"] == "facial", "starts from the contact's state"
    assert any(a["type"] == "handoff" for a in turn["actions"]), "qualified in the preview"
    assert client.get("/v1/contacts/pv-1", headers=CHANNEL).json() == before
    missing = client.post(
        "/v1/prompts/preview", json={"contact_id": "nobody", "messages": ["hi"]}, headers=ADMIN
    )
    assert missing.status_code == 404
