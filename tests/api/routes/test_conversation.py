"""GET /v1/contacts/{id}/conversation over a real socket: the transcript and each turn's trace.

Real turns: the scripted chat model calls tools (one applied, one refused by a guardrail, a
handoff), retrieval runs against the demo knowledge base, and the turns are saved as in
production; the test reads them back through HTTP only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import ADMIN, CHANNEL, QA, TickingClock, message
from tests.reliability.harness import live_server

BOOKING = "How much is teeth whitening? I want to book it on Saturday"
PERSON = "Can I talk to a person please?"


def post(http: httpx.Client, text: str, contact: str) -> dict[str, Any]:
    response = http.post("/v1/messages", json=message(text, contact=contact), headers=CHANNEL)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_each_reply_carries_the_trace_of_the_turn_that_wrote_it(data_dir: Path) -> None:
    applied = tool_call(
        "update_lifecycle_stage",
        stage="Hot Lead",
        reason="wants to book",
        evidence="I want to book it on Saturday",
        confidence=0.9,
    )
    refused = tool_call(
        "mark_lead_lost",
        lost_stage="Cold Lead",
        reason="not interested",
        evidence="I am not interested any more",  # the customer never wrote this
    )
    script = [
        reply("", applied, refused, tokens=(300, 40)),
        reply("Whitening is on our price list; Saturday works.", tokens=(420, 25)),
    ]
    model = ScriptedChatModel(steps=script)
    with (
        live_server(data_dir, chat_model=model, clock=TickingClock()) as server,
        httpx.Client(base_url=server.url, timeout=120) as http,
    ):
        first = post(http, BOOKING, "t-1")
        teams = http.get("/v1/teams", headers=ADMIN).json()
        team = teams[0]["key"]
        handoff = tool_call(
            "handoff_to_human", reason="asks for a person", summary="Lan wants a human", team=team
        )
        model.steps.append(reply("A colleague will answer you here.", handoff, tokens=(200, 15)))
        second = post(http, PERSON, "t-1")
        response = http.get("/v1/contacts/t-1/conversation", headers=ADMIN)
        assert response.status_code == 200, response.text
        body = response.json()
        assert http.get("/v1/contacts/t-1/conversation", headers=QA).json() == body
        messages = http.get("/v1/contacts/t-1/messages", headers=ADMIN).json()
        contact = http.get("/v1/contacts/t-1", headers=ADMIN).json()
        entries_exist = {
            hit["entry_id"]: http.get(f"/v1/knowledge/entries/{hit['entry_id']}", headers=ADMIN)
            for entry in body["entries"]
            if entry["turn"]
            for hit in entry["turn"]["retrieved"]
        }
    model.assert_all_used()

    entries = body["entries"]
    assert [(e["direction"], e["text"]) for e in entries] == [
        ("in", BOOKING),
        ("out", first["reply"]["text"]),
        ("in", PERSON),
        ("out", second["reply"]["text"]),
    ]
    assert [e["message_id"] for e in entries] == [m["message_id"] for m in messages]
    assert [e["at"] for e in entries] == [m["created_at"] for m in messages]
    assert all(e["turn"] is None for e in entries if e["direction"] == "in")
    assert all(e["status"] == "processed" and e["channel"] == "whatsapp" for e in entries)
    booking, person = entries[1]["turn"], entries[3]["turn"]
    assert booking["turn_id"] == messages[1]["turn_id"] == first["turn_id"]
    assert person["turn_id"] == messages[3]["turn_id"] == second["turn_id"]

    # The first turn: what it retrieved, the two tool calls and what the guardrails decided.
    assert booking["brain"] == "llm" and booking["retrieval"] == "ok" and booking["error"] is None
    assert booking["retrieved"], "the demo knowledge base answers a price question"
    for hit in booking["retrieved"]:
        stored = entries_exist[hit["entry_id"]]
        assert stored.status_code == 200 and stored.json()["question"] == hit["question"]
        assert 0 < hit["score"] <= 1
    [stage_call, lost_call] = booking["tool_calls"]
    assert stage_call["name"] == "update_lifecycle_stage"
    assert stage_call["args"] == applied["args"]
    assert stage_call["decision"] == "applied" and "Hot Lead" in stage_call["reason"]
    assert lost_call["name"] == "mark_lead_lost" and lost_call["args"] == refused["args"]
    assert lost_call["decision"] == "refused"
    assert "evidence must quote the customer's own words" in lost_call["reason"]
    assert not lost_call["reason"].startswith("refused:")
    assert booking["handoff"] is None
    assert booking["model_calls"] == 2
    assert booking["input_tokens"] == 300 + 420 and booking["output_tokens"] == 40 + 25
    assert booking["latency_ms"] > 0
    # The same turn's stage change names the same model and prompt versions.
    [move] = [c for c in contact["stage_history"] if c["turn_id"] == booking["turn_id"]]
    assert move["to_stage"] == "Hot Lead" and move["model"] == booking["model"]
    label = "+".join(f"{name}@{v}" for name, v in sorted(booking["prompt_versions"].items()))
    assert label == move["prompt_version"] and {"system", "phrases"} <= set(
        booking["prompt_versions"]
    )

    # The second turn handed the conversation to a team.
    assert person["handoff"] == {"team": team, "summary": "Lan wants a human"}
    [call] = person["tool_calls"]
    assert call["name"] == "handoff_to_human" and call["decision"] == "applied"
    assert person["model_calls"] == 1
    assert (person["input_tokens"], person["output_tokens"]) == (200, 15)

    # The header is the contact as the list shows it.
    header = body["contact"]
    assert header["id"] == "t-1" and header["lifecycle_stage"] == "Hot Lead"
    assert header["owner"] == "human" and header["team"] == team
    assert header["last_message_text"] == second["reply"]["text"][:200]


def test_another_workspace_s_contact_is_404(data_dir: Path) -> None:
    with (
        live_server(data_dir, clock=TickingClock()) as server,
        httpx.Client(base_url=server.url, timeout=120) as http,
    ):
        post(http, "Hello", "w-1")
        bootstrap = {"Authorization": "Bearer test-bootstrap-key-0001"}
        other = http.post("/v1/workspaces", json={"name": "B"}, headers=bootstrap).json()
        b_admin = {"Authorization": f"Bearer {other['admin_key']['key']}"}
        assert http.get("/v1/contacts/w-1/conversation", headers=b_admin).status_code == 404
        assert http.get("/v1/contacts/w-1/conversation", headers=ADMIN).status_code == 200
        missing = http.get("/v1/contacts/nobody/conversation", headers=ADMIN)
        assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
