"""Intent examples are editable per workspace and used by the offline planner."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, send


def test_edit_intent_examples(client: TestClient) -> None:
    intents = client.get("/v1/intents", headers=ADMIN).json()["intents"]
    assert intents.get("wants_human")
    phrase = "beam me up to the captain of this ship"
    assert send(client, phrase, contact="i-1")["contact"]["owner"] == "ai"
    updated = client.put(
        "/v1/intents/wants_human",
        json={"examples": [*intents["wants_human"], phrase]},
        headers=ADMIN,
    )
    assert updated.status_code == 200 and phrase in updated.json()["intents"]["wants_human"]
    assert send(client, phrase, contact="i-2")["contact"]["owner"] == "human"


def test_unknown_intent_or_no_examples_is_refused(client: TestClient) -> None:
    unknown = client.put("/v1/intents/dance", json={"examples": ["x"]}, headers=ADMIN)
    assert unknown.status_code == 422 and "dance" in unknown.json()["detail"]
    empty = client.put("/v1/intents/spam", json={"examples": [" "]}, headers=ADMIN)
    assert empty.status_code == 422 and "at least one" in empty.json()["detail"]
