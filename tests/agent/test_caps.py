"""Caps that bound cost (OWASP LLM10): turns per conversation, model tokens per workspace
per day. Message size and tool iterations are tested with the messages route."""

from __future__ import annotations

from datetime import timedelta

from agent_service.db import models
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply
from tests.conftest import ClientFactory, TickingClock, send
from tests.records import rows


def test_at_the_turn_cap_the_conversation_is_handed_to_a_human(
    make_client: ClientFactory,
) -> None:
    with make_client(max_turns_per_conversation=2) as client:
        send(client, "hello", contact="c-cap")
        second = send(client, "I am interested in a facial", contact="c-cap")
        assert second["contact"]["owner"] == "ai", second
        capped = send(client, "and what about prices?", contact="c-cap")
        after = send(client, "hello?", contact="c-cap")
        (contact,) = rows(client, models.Contact, external_id="c-cap")
        (handoff,) = rows(client, models.Handoff, contact_id=contact.id)
    assert capped["usage"]["brain"] == "conversation-cap"
    assert [a["type"] for a in capped["actions"]] == ["handoff"]
    assert "passing you to our" in capped["reply"]["text"]
    assert capped["contact"]["owner"] == "human"
    assert "2 agent turns" in handoff.reason
    assert after["status"] == "silent", "a human owns the conversation now"


def test_over_the_daily_token_cap_the_offline_planner_answers(
    make_client: ClientFactory,
) -> None:
    clock = TickingClock()
    model = ScriptedChatModel(steps=[reply("Hello!"), reply("Sure."), reply("Next day hello!")])
    with make_client(chat_model=model, clock=clock, max_tokens_per_workspace_per_day=200) as client:
        first = send(client, "hi", contact="c-tok1")
        second = send(client, "hi again", contact="c-tok2")  # 150 used < 200: still allowed
        capped = send(client, "How much is the basic facial?", contact="c-tok3")
        clock.advance(timedelta(days=1))
        next_day = send(client, "hello", contact="c-tok4")
        usage = rows(client, models.ModelUsageDaily, workspace_id="ws_demo")
        (turn,) = rows(client, models.Turn, id=capped["turn_id"])
    model.assert_all_used()
    assert [b["usage"]["brain"] for b in (first, second, capped, next_day)] == [
        "llm",
        "llm",
        "offline-planner",
        "llm",
    ]
    assert capped["reply"]["text"] and capped["usage"]["model_calls"] == 0
    assert turn.error == "skipped model: daily token cap reached"
    assert [(u.model_calls, u.tokens) for u in sorted(usage, key=lambda u: u.day)] == [
        (2, 300),
        (1, 150),
    ]
