"""Intent examples are editable per workspace and used by the offline planner."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient

from agent_service.core.config import get_settings
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


def test_examples_come_back_in_the_order_given(client: TestClient) -> None:
    given = [f"talk to a person, variant {n}" for n in (7, 2, 9, 1, 5, 3, 8, 0, 6, 4)]
    updated = client.put("/v1/intents/wants_human", json={"examples": given}, headers=ADMIN)
    assert updated.status_code == 200, updated.text
    assert updated.json()["intents"]["wants_human"] == given
    listed = client.get("/v1/intents", headers=ADMIN).json()["intents"]
    assert listed["wants_human"] == given
    # The seeded examples keep the template's order too (the same ordered ids in both writers).
    template = yaml.safe_load((get_settings().demo_dir / "intents.yaml").read_text("utf-8"))
    for intent in ("greeting", "not_interested", "spam"):
        assert listed[intent] == list(dict.fromkeys(template[intent])), intent
