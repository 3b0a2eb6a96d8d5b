"""POST /v1/messages with a scripted chat model: grounded answers, tools, guardrails."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import BaseMessage

from agent_service.conversations import inbox
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import CHANNEL, ClientFactory, message, send


def test_grounded_faq_answer_uses_prefetched_knowledge_in_one_model_call(
    make_client: ClientFactory,
) -> None:
    def answer_from_context(messages: list[BaseMessage]) -> Any:
        system = str(messages[0].content)
        assert "<knowledge>" in system
        assert "600,000 VND" in system, "the facial price entry was not pre-fetched"
        return reply("Chăm sóc da mặt cơ bản giá 600,000 VND tại TP. Hồ Chí Minh ạ.")

    model = ScriptedChatModel(steps=[answer_from_context])
    with make_client(chat_model=model) as client:
        body = send(client, "Gói chăm sóc da mặt giá bao nhiêu?", locale="vi")
    model.assert_all_used()
    assert body["status"] == "replied"
    assert body["reply"] == {
        "text": "Chăm sóc da mặt cơ bản giá 600,000 VND tại TP. Hồ Chí Minh ạ.",
        "language": "vi",
    }
    assert body["usage"]["model_calls"] == 1
    assert body["usage"]["input_tokens"] == 120
    assert {t.name for t in model.bound_tools} == {
        "update_lifecycle_stage",
        "mark_lead_lost",
        "handoff_to_human",
        "update_contact_fields",
        "search_knowledge_base",
    }


def test_update_lifecycle_stage_moves_contact_and_records_evidence(
    make_client: ClientFactory,
) -> None:
    text = "I want to book the hydrating facial this Saturday"
    model = ScriptedChatModel(
        steps=[
            reply(
                "Lovely! Which branch would you like?",
                tool_call(
                    "update_lifecycle_stage",
                    stage="Hot Lead",
                    reason="wants to book",
                    evidence=text,
                    confidence=0.9,
                ),
            )
        ]
    )
    with make_client(chat_model=model) as client:
        body = send(client, text, contact="c-hot")
        contact = client.get("/v1/contacts/c-hot", headers=CHANNEL).json()
    assert body["actions"] == [
        {
            "type": "lifecycle_stage_changed",
            "from": "New Lead",
            "to": "Hot Lead",
            "reason": "wants to book",
            "evidence": text,
            "confidence": 0.9,
        }
    ]
    assert body["contact"]["lifecycle_stage"] == "Hot Lead"
    assert contact["lifecycle_stage"] == "Hot Lead"
    last = contact["stage_history"][-1]
    assert last["actor"] == "ai" and last["evidence"] == text and last["confidence"] == 0.9
    assert last["prompt_version"] == "phrases@1+system@1"
    assert last["model"] == "ScriptedChatModel"
    assert contact["stage_history"][0]["actor"] == "system"


def test_mark_lead_lost_and_fields_and_handoff(make_client: ClientFactory) -> None:
    model = ScriptedChatModel(
        steps=[
            reply(
                "Noted, thank you!",
                tool_call("update_contact_fields", fields={"service": "laser", "branch": "KL"}),
            ),
            reply(
                "Thanks for letting us know!",
                tool_call(
                    "mark_lead_lost",
                    lost_stage="Lost to Competitor",
                    reason="booked elsewhere",
                    evidence="I booked at another clinic",
                ),
            ),
        ]
    )
    with make_client(chat_model=model) as client:
        first = send(client, "laser hair removal in KL please", contact="c-x")
        second = send(client, "sorry, I booked at another clinic", contact="c-x")
    assert first["actions"] == [
        {
            "type": "fields_updated",
            "fields": {"service": "laser hair removal", "branch": "kuala lumpur"},
        }
    ]
    assert second["actions"][0]["type"] == "lead_lost"
    assert second["contact"]["lost"] is True
    assert second["contact"]["lifecycle_stage"] == "Lost to Competitor"


def test_handoff_ends_the_turn_and_silences_the_agent_until_released(
    make_client: ClientFactory,
) -> None:
    model = ScriptedChatModel(
        steps=[
            reply(
                "",
                tool_call(
                    "handoff_to_human",
                    reason="asked for a person",
                    summary="Lan wants to talk to staff about a facial",
                    team="sales",
                ),
            ),
            reply("Welcome back! How can I help?"),
        ]
    )
    with make_client(chat_model=model) as client:
        handed = send(client, "can I talk to a real person?", contact="c-h")
        silent = send(client, "hello? anyone?", contact="c-h")
        released = client.post(
            "/v1/contacts/c-h/events",
            json={"type": "human_released", "event_id": "ev-1"},
            headers=CHANNEL,
        )
        again = send(client, "one more question", contact="c-h")
    model.assert_all_used()
    assert handed["actions"][0]["type"] == "handoff" and handed["actions"][0]["team"] == "sales"
    assert "Sales" in handed["reply"]["text"]  # the default handoff wording names the team
    assert handed["contact"]["owner"] == "human" and handed["contact"]["assigned_to"] == "sales"
    assert silent["status"] == "silent" and silent["reply"] is None and silent["actions"] == []
    assert len(model.calls) == 2  # no call while the human owned the conversation
    assert released.status_code == 200 and released.json()["owner"] == "ai"
    assert (
        again["status"] == "replied" and again["reply"]["text"] == "Welcome back! How can I help?"
    )


@pytest.mark.parametrize(
    ("call", "refusal"),
    [
        (
            tool_call(
                "update_lifecycle_stage",
                stage="Customer",
                reason="asked",
                evidence="mark me as Customer",
                confidence=1.0,
            ),
            "conversion event or a human",
        ),
        (
            tool_call(
                "update_lifecycle_stage",
                stage="Payment",
                reason="asked",
                evidence="mark me as Customer",
                confidence=1.0,
            ),
            "conversion event or a human",
        ),
        (
            tool_call(
                "update_lifecycle_stage",
                stage="VIP Platinum",
                reason="x",
                evidence="mark me as Customer",
                confidence=0.5,
            ),
            "unknown stage",
        ),
        (
            tool_call(
                "update_lifecycle_stage",
                stage="Cold Lead",
                reason="x",
                evidence="mark me as Customer",
                confidence=0.5,
            ),
            "use mark_lead_lost",
        ),
        (
            tool_call(
                "update_lifecycle_stage",
                stage="Hot Lead",
                reason="x",
                evidence="the customer loves us",
                confidence=0.5,
            ),
            "evidence must quote",
        ),
        (
            tool_call(
                "update_lifecycle_stage",
                stage="Hot Lead",
                reason="x",
                evidence="mark me as Customer",
                confidence=7,
            ),
            "between 0 and 1",
        ),
        (
            tool_call(
                "mark_lead_lost", lost_stage="Customer", reason="x", evidence="mark me as Customer"
            ),
            "not a lost stage",
        ),
        (tool_call("handoff_to_human", reason="x", summary="s", team="marketing"), "unknown team"),
        (tool_call("update_contact_fields", fields={"shoe_size": "42"}), "unknown field"),
        (tool_call("update_contact_fields", fields={"branch": "Paris"}), "must be one of"),
        (tool_call("delete_all_contacts"), "unknown tool"),
    ],
    ids=[
        "customer-not-ai-settable",
        "payment-not-ai-settable",
        "unknown-stage",
        "lost-stage-via-wrong-tool",
        "evidence-not-a-quote",
        "confidence-out-of-range",
        "lost-mark-on-active-stage",
        "unknown-team",
        "unknown-field",
        "choice-not-allowed",
        "unknown-tool",
    ],
)
def test_guardrails_refuse_and_report_back_to_the_model(
    make_client: ClientFactory, call: dict[str, Any], refusal: str
) -> None:
    seen: list[str] = []

    def after_refusal(messages: list[BaseMessage]) -> Any:
        seen.append(str(messages[-1].content))
        return reply("Sorry, I can't do that, but I can help you book.")

    model = ScriptedChatModel(steps=[reply("", call), after_refusal])
    with make_client(chat_model=model) as client:
        body = send(client, "mark me as Customer", contact="c-g")
        contact = client.get("/v1/contacts/c-g", headers=CHANNEL).json()
    model.assert_all_used()
    assert refusal in seen[0]
    assert body["actions"] == []
    assert contact["lifecycle_stage"] == "New Lead" and contact["lost"] is False
    assert contact["owner"] == "ai" and contact["fields"] == {}
    assert [c["actor"] for c in contact["stage_history"]] == ["system"]


def test_ai_never_moves_a_lost_lead_back(make_client: ClientFactory) -> None:
    model = ScriptedChatModel(
        steps=[
            reply(
                "ok",
                tool_call(
                    "mark_lead_lost", lost_stage="Cold Lead", reason="r", evidence="not interested"
                ),
            ),
            reply(
                "",
                tool_call(
                    "update_lifecycle_stage",
                    stage="Hot Lead",
                    reason="r",
                    evidence="actually I want to book",
                    confidence=0.9,
                ),
            ),
            reply("Happy to help you book."),
        ]
    )
    with make_client(chat_model=model) as client:
        send(client, "not interested", contact="c-l")
        body = send(client, "actually I want to book", contact="c-l")
    assert body["contact"]["lifecycle_stage"] == "Cold Lead" and body["contact"]["lost"] is True
    assert body["actions"] == []


def test_tool_arguments_naming_another_contact_are_ignored(make_client: ClientFactory) -> None:
    call = tool_call(
        "update_contact_fields", fields={"service": "facial"}, ctx={"contact": "c-victim"}
    )
    model = ScriptedChatModel(steps=[reply("Hello!"), reply("Noted!", call)])
    with make_client(chat_model=model) as client:
        send(client, "hi", contact="c-victim")
        body = send(client, "facial please", contact="c-attacker")
        victim = client.get("/v1/contacts/c-victim", headers=CHANNEL).json()
    assert body["contact"]["fields"] == {"service": "facial"}
    assert victim["fields"] == {}


def test_tool_iterations_are_bounded(make_client: ClientFactory) -> None:
    looping = reply("", tool_call("search_knowledge_base", query="price"))
    model = ScriptedChatModel(steps=[looping, looping])
    with make_client(chat_model=model, max_tool_iterations=2) as client:
        body = send(client, "what does it cost?", contact="c-loop")
    model.assert_all_used()
    assert body["usage"]["model_calls"] == 2
    assert body["reply"]["text"]  # the offline planner still answers the customer


def test_repeat_delivery_returns_the_original_response_without_a_second_run(
    make_client: ClientFactory,
) -> None:
    model = ScriptedChatModel(steps=[reply("Our KL branch opens at 10:00.")])
    with make_client(chat_model=model) as client:
        body = message("What time do you open in KL?", message_id="wamid.same")
        first = client.post("/v1/messages", json=body, headers=CHANNEL).json()
        repeats = [client.post("/v1/messages", json=body, headers=CHANNEL) for _ in range(5)]
    model.assert_all_used()
    assert all(r.status_code == 200 and r.json() == first for r in repeats)


def test_text_over_the_limit_is_413_and_nothing_is_stored(client: Any) -> None:
    response = client.post(
        "/v1/messages", json=message("a" * 5000, contact="c-big"), headers=CHANNEL
    )
    assert response.status_code == 413
    assert "limit is 4000" in response.json()["detail"]
    assert client.get("/v1/contacts/c-big", headers=CHANNEL).status_code == 404


def test_body_of_100kb_is_413(client: Any) -> None:
    response = client.post(
        "/v1/messages", json=message("x" * 100_000, contact="c-huge"), headers=CHANNEL
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({k: v for k, v in message("hi").items() if k != "message_id"}, "message_id"),
        ({**message("hi"), "text": "   "}, "non-space"),
        ({**message("hi"), "channel": "pigeon"}, "channel"),
        ({**message("hi"), "contact": {"name": "no id"}}, "id"),
        ({**message("hi"), "sent_at": "yesterday"}, "sent_at"),
        # Found by the schema fuzzer: no UTC time exists for it (it was a 500).
        ({**message("hi"), "sent_at": "0001-01-01T00:00:01+03:03"}, "1970-01-01"),
        ({**message("hi"), "sent_at": "9999-12-31T23:59:59-05:00"}, "1970-01-01"),
    ],
    ids=[
        "missing-message-id",
        "empty-text",
        "unknown-channel",
        "contact-without-id",
        "bad-date",
        "date-before-utc-year-1",
        "date-past-year-9999",
    ],
)
def test_bad_input_is_422_with_the_field_named(
    client: Any, body: dict[str, Any], fragment: str
) -> None:
    response = client.post("/v1/messages", json=body, headers=CHANNEL)
    assert response.status_code == 422
    assert fragment in response.text


def test_malformed_json_is_422(client: Any) -> None:
    response = client.post(
        "/v1/messages",
        content=b'{"message_id": ',
        headers={**CHANNEL, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.text


def test_missing_or_wrong_key(client: Any) -> None:
    assert client.post("/v1/messages", json=message("hi")).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/v1/messages", json=message("hi"), headers=bad).status_code == 401


def test_a_repeat_while_the_first_delivery_is_still_answered_gets_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = message("how much is the facial?", contact="c-inflight")
    first = client.post("/v1/messages", json=body, headers=CHANNEL)
    assert first.status_code == 200

    async def still_answering(*_: Any, **__: Any) -> None:
        return None  # as if another replica's turn were still on it (or had died on it)

    monkeypatch.setattr(inbox, "stored_response", still_answering)
    repeat = client.post("/v1/messages", json=body, headers=CHANNEL)
    assert repeat.status_code == 503, repeat.text
    assert repeat.headers["Retry-After"] == "5"
    assert "still being processed" in repeat.json()["detail"]
