"""Model provider faults on a real socket, through the real langchain-openai client.

Each scenario: HTTP 200, exactly one reply stored, bounded upstream calls, a reply (the LLM's
or the offline planner's) or a truthful fallback within the turn deadline, the failure recorded
on the turn, and the inbound message processed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_service.db import models
from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import CHANNEL, ClientFactory, message
from tests.records import rows

PRICE_QUESTION = "How much is the basic facial?"
DEADLINE = 3.0


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def wire_client(make_client: ClientFactory, server: FakeOpenAIServer, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "llm_model": "fake-model",
        "OPENAI_BASE_URL": server.url,
        "llm_timeout_seconds": 0.5,
        "llm_max_attempts": 3,
        "llm_retry_budget_seconds": 1.0,
        "llm_backoff_base_seconds": 0.05,
        "turn_deadline_seconds": DEADLINE,
    }
    settings.update(overrides)
    return make_client(**settings)


def ask(client: TestClient, text: str, contact: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = client.post("/v1/messages", json=message(text, contact=contact), headers=CHANNEL)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, elapsed


def assert_one_reply_and_recorded(client: TestClient, contact: str, error: str | None) -> Any:
    (row,) = rows(client, models.Contact, external_id=contact)
    inbound = rows(client, models.Message, contact_id=row.id, direction="in")
    outbound = rows(client, models.Message, contact_id=row.id, direction="out")
    turns = rows(client, models.Turn, contact_id=row.id)
    assert len(inbound) == 1 and inbound[0].status == "processed" and inbound[0].response
    assert len(outbound) == 1 and outbound[0].text, "exactly one reply is stored"
    assert len(turns) == 1
    if error is None:
        assert turns[0].error is None
    else:
        assert turns[0].error and error in turns[0].error, turns[0].error
    return turns[0]


FAULTS = [
    pytest.param(
        {"status": 429, "headers": {"Retry-After": "0"}}, 3, "RateLimitError", id="429-persistent"
    ),
    pytest.param(
        {"status": 429, "headers": {"Retry-After": "60"}},
        1,
        "retry budget",
        id="429-retry-after-beyond-budget",
    ),
    pytest.param(
        {"status": 429, "body": {"error": {"code": "insufficient_quota", "message": "quota"}}},
        1,
        "RateLimitError",
        id="429-quota-exhausted-not-retried",
    ),
    pytest.param({"status": 500}, 3, "Error code: 500", id="500"),
    pytest.param({"status": 401}, 1, "AuthenticationError", id="401-not-retried"),
    pytest.param({"drop": True}, 3, "onnection", id="dropped-connection"),
    pytest.param({"status": 200, "raw": "{not json"}, 1, "JSONDecodeError", id="invalid-json"),
]


@pytest.mark.parametrize(("spec", "max_calls", "error"), FAULTS)
def test_provider_fault_falls_back_to_the_offline_planner(
    make_client: ClientFactory,
    server: FakeOpenAIServer,
    spec: dict[str, Any],
    max_calls: int,
    error: str,
) -> None:
    server.default = spec
    with wire_client(make_client, server) as client:
        body, elapsed = ask(client, PRICE_QUESTION, "c-fault")
        turn = assert_one_reply_and_recorded(client, "c-fault", error)
    assert 1 <= len(server.requests) <= max_calls
    # Every request made is counted, and charged, though none was answered.
    assert turn.model_calls == body["usage"]["model_calls"] == len(server.requests)
    assert body["status"] == "replied" and body["reply"]["text"]
    assert body["usage"]["brain"] == "llm+offline-planner" and turn.brain == "llm+offline-planner"
    assert elapsed < DEADLINE + 5  # a bound for the customer, not a performance figure


def test_slow_model_past_the_deadline_gets_the_fallback_within_the_bound(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    server.default = {"delay": 1.5, "status": 200, "message": completion("too late")}
    with wire_client(
        make_client, server, llm_timeout_seconds=5.0, turn_deadline_seconds=0.7
    ) as client:
        body, elapsed = ask(client, PRICE_QUESTION, "c-slow")
        assert_one_reply_and_recorded(client, "c-slow", "deadline of 0.7s exceeded")
    assert len(server.requests) == 1
    assert body["reply"]["text"] != "too late"
    assert elapsed < 0.7 + 5


def test_slow_model_past_the_http_timeout_is_retried_within_the_budget(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    server.default = {"delay": 1.0, "status": 200, "message": completion("too late")}
    with wire_client(make_client, server, llm_timeout_seconds=0.3) as client:
        body, _ = ask(client, PRICE_QUESTION, "c-timeout")
        assert_one_reply_and_recorded(client, "c-timeout", "model unavailable")
    assert 1 <= len(server.requests) <= 3
    assert body["reply"]["text"] != "too late"


def test_a_429_with_retry_after_is_retried_once_then_the_model_answers(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    server.push(
        {"status": 429, "headers": {"Retry-After": "0.1"}},
        {"status": 200, "message": completion("The basic facial is 600,000 VND.")},
    )
    with wire_client(make_client, server) as client:
        body, _ = ask(client, PRICE_QUESTION, "c-429")
        assert_one_reply_and_recorded(client, "c-429", None)
    assert len(server.requests) == 2 and body["usage"]["model_calls"] == 2
    assert body["reply"]["text"] == "The basic facial is 600,000 VND."
    assert body["usage"]["brain"] == "llm" and body["usage"]["input_tokens"] == 200


def test_invalid_tool_arguments_go_back_to_the_model_and_change_nothing(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    bad = completion("", [{"name": "update_lifecycle_stage", "arguments": '{"stage": "Hot'}])
    server.push(
        {"status": 200, "message": bad},
        {"status": 200, "message": completion("Which branch would you like?")},
    )
    with wire_client(make_client, server) as client:
        body, _ = ask(client, "I want to book a facial", "c-badargs")
        turn = assert_one_reply_and_recorded(client, "c-badargs", None)
    assert len(server.requests) == 2
    second_prompt = server.requests[1]["messages"]
    assert any(m["role"] == "tool" and "not valid JSON" in m["content"] for m in second_prompt), (
        "the parse error is reported back to the model"
    )
    assert body["reply"]["text"] == "Which branch would you like?"
    assert body["contact"]["lifecycle_stage"] == "New Lead" and body["actions"] == []
    assert [t["status"] for t in turn.tool_calls] == ["error"]


def test_invalid_tool_arguments_forever_are_bounded_by_the_tool_iterations(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    bad = completion("", [{"name": "mark_lead_lost", "arguments": "{{{"}])
    server.default = {"status": 200, "message": bad}
    with wire_client(make_client, server, max_tool_iterations=3) as client:
        body, _ = ask(client, PRICE_QUESTION, "c-badloop")
        assert_one_reply_and_recorded(client, "c-badloop", None)
    assert len(server.requests) == 3
    assert body["reply"]["text"] and body["contact"]["lost"] is False


def test_wire_level_tool_call_is_applied(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    text = "I want to book the hydrating facial this Saturday"
    move = {
        "name": "update_lifecycle_stage",
        "arguments": {
            "stage": "Hot Lead",
            "reason": "wants to book",
            "evidence": text,
            "confidence": 0.9,
        },
    }
    server.push({"status": 200, "message": completion("Lovely! Which branch?", [move])})
    with wire_client(make_client, server) as client:
        body, _ = ask(client, text, "c-wire")
        assert_one_reply_and_recorded(client, "c-wire", None)
    assert len(server.requests) == 1
    assert server.requests[0]["model"] == "fake-model"
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} >= {
        "update_lifecycle_stage"
    }
    assert body["contact"]["lifecycle_stage"] == "Hot Lead"
    assert body["actions"][0]["type"] == "lifecycle_stage_changed"
    assert body["reply"]["text"] == "Lovely! Which branch?"


def test_repeat_delivery_after_a_fault_is_answered_from_the_record(
    make_client: ClientFactory, server: FakeOpenAIServer
) -> None:
    server.default = {"status": 500}
    body = message(PRICE_QUESTION, contact="c-repeat", message_id="wamid.fault-repeat")
    with wire_client(make_client, server) as client:
        first = client.post("/v1/messages", json=body, headers=CHANNEL)
        calls = len(server.requests)
        again = client.post("/v1/messages", json=body, headers=CHANNEL)
        assert_one_reply_and_recorded(client, "c-repeat", "Error code: 500")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len(server.requests) == calls


def test_a_failure_after_a_tool_call_rolls_the_attempt_back(make_client: ClientFactory) -> None:
    text = "I want to book the hydrating facial this Saturday"
    move = tool_call(
        "update_lifecycle_stage",
        stage="Hot Lead",
        reason="wants to book",
        evidence=text,
        confidence=0.9,
    )
    look = tool_call("search_knowledge_base", query="hydrating facial")
    model = ScriptedChatModel(steps=[reply("", move, look), RuntimeError("provider fell over")])
    with make_client(chat_model=model) as client:
        body, _ = ask(client, text, "c-rollback")
        turn = assert_one_reply_and_recorded(client, "c-rollback", "provider fell over")
        changes = rows(client, models.StageChange, contact_id=turn.contact_id)
    model.assert_all_used()
    assert turn.tool_calls[0]["status"] == "discarded"
    assert body["usage"]["brain"] == "llm+offline-planner"
    # The offline planner decided afresh; only its own decisions were stored.
    assert [a for a in body["actions"] if a["type"] == "lifecycle_stage_changed"] == [
        a for a in body["actions"] if a.get("reason") == "the customer wants to book"
    ]
    assert all(c.actor in ("system", "ai") for c in changes)
    assert not [c for c in changes if c.reason == "wants to book"]
