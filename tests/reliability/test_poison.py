"""A message whose turn always fails: tried a bounded number of times with back-off, then
answered with the fallback and marked failed, its error visible to admins; every model call
charged; the contact's next messages answered normally. And the two faults found in the wild:
a NUL byte in the model's reply (PostgreSQL refuses it), and 29/2 in a leap year after that day.

The server runs on real sockets (uvicorn) on the test's database (SQLite, or PostgreSQL when
AGENT_SERVICE_TEST_POSTGRES_URL is set), the model is the fake OpenAI-compatible server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, message
from tests.reliability.database import is_postgres, rows, run_sql
from tests.reliability.harness import LiveServer, live_server, wait_until

MARK = "[refused-by-the-database]"
ATTEMPTS = 3


def refuse_replies_with_the_mark(data_dir: Path) -> None:
    """The database refuses to store a reply holding MARK: a turn whose save always fails, as
    a reply with a NUL byte did on PostgreSQL (and any reply the database cannot hold)."""
    if is_postgres(data_dir):
        run_sql(
            data_dir,
            "CREATE FUNCTION refuse_marked_reply() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.direction = 'out' AND position('{MARK}' in NEW.text) > 0 THEN "
            "RAISE EXCEPTION 'this reply cannot be stored'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_marked_reply BEFORE INSERT ON messages FOR EACH ROW "
            "EXECUTE FUNCTION refuse_marked_reply()",
        )
    else:
        run_sql(
            data_dir,
            "CREATE TRIGGER refuse_marked_reply BEFORE INSERT ON messages "
            f"WHEN NEW.direction = 'out' AND instr(NEW.text, '{MARK}') > 0 "
            "BEGIN SELECT RAISE(ABORT, 'this reply cannot be stored'); END",
        )


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def on_fake_model(model: FakeOpenAIServer, **overrides: Any) -> dict[str, Any]:
    return {
        "llm_model": "fake-model",
        "OPENAI_BASE_URL": model.url,
        "OPENAI_API_KEY": "not-needed",
        "llm_max_attempts": 1,
        "turn_max_attempts": ATTEMPTS,
        "turn_retry_base_seconds": 0.3,
        "unanswered_sweep_seconds": 0.2,
        **overrides,
    }


def post(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/messages", json=body, headers=CHANNEL, timeout=120)


def model_calls_charged(data_dir: Path) -> int:
    return int(rows(data_dir, "select coalesce(sum(model_calls), 0) from model_usage_daily")[0][0])


def test_a_poison_message_is_tried_a_bounded_number_of_times_then_answered_with_the_fallback(
    data_dir: Path, model: FakeOpenAIServer
) -> None:
    refuse_replies_with_the_mark(data_dir)
    model.default = {"message": completion(f"The facial is 600,000 VND. {MARK}")}
    poison = message("How much is the facial?", contact="c-poison", sent_at=_at(0))
    later = message("And do you open on Sunday?", contact="c-poison", sent_at=_at(5))
    charged_before = model_calls_charged(data_dir)
    with live_server(data_dir, **on_fake_model(model)) as server, ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        first = pool.submit(post, server, poison)
        wait_until(lambda: len(model.requests) >= 1, timeout=60)
        # A later message of the same contact while the poison is being retried.
        second = pool.submit(post, server, later)
        answer, after = first.result(timeout=120), second.result(timeout=120)
        elapsed = time.monotonic() - started

        # Bounded: one model call per attempt, with back-off between them; then the fallback.
        assert answer.status_code == 200, answer.text
        assert len(model.requests) == ATTEMPTS
        assert elapsed >= 0.3 + 0.6  # the back-off of attempts 2 and 3
        body = answer.json()
        assert body["status"] == "replied" and body["reply"]["text"]
        assert MARK not in body["reply"]["text"]
        assert body["usage"]["brain"] == "turn-failed"
        assert body["usage"]["model_calls"] == ATTEMPTS
        assert [a["type"] for a in body["actions"]] == ["handoff"]
        assert body["contact"]["owner"] == "human"
        # Every call was charged against the daily cap, though no attempt's save succeeded.
        assert model_calls_charged(data_dir) - charged_before == ATTEMPTS

        # The later message was not folded into the failing turn: answered on its own (the
        # conversation is with a human now, so silently), and no model call for it.
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "silent"

        # Failed, with its error and attempts, visible to admins.
        listed = httpx.get(f"{server.url}/v1/contacts/c-poison/messages", headers=ADMIN, timeout=30)
        assert listed.status_code == 200, listed.text
        inbound = {m["message_id"]: m for m in listed.json() if m["direction"] == "in"}
        failed = inbound[poison["message_id"]]
        assert failed["status"] == "failed"
        assert "cannot be stored" in failed["error"]
        assert len(failed["attempts"]) == ATTEMPTS
        assert [a["model_calls"] for a in failed["attempts"]] == [1] * ATTEMPTS
        assert inbound[later["message_id"]]["status"] == "processed"
        replies = [m["text"] for m in listed.json() if m["direction"] == "out"]
        assert replies == [body["reply"]["text"]]
        channel_only = httpx.get(
            f"{server.url}/v1/contacts/c-poison/messages", headers=CHANNEL, timeout=30
        )
        assert channel_only.status_code == 403

        # A repeat delivery gets the stored fallback; the sweep never retries a failed message.
        again = post(server, poison)
        assert again.status_code == 200 and again.json() == body
        time.sleep(1.0)  # five sweeps
        assert len(model.requests) == ATTEMPTS

        # Given back to the agent, the contact's next message is answered by the model.
        released = httpx.post(
            f"{server.url}/v1/contacts/c-poison/events",
            json={"type": "human_released", "event_id": "ev-poison-1"},
            headers=CHANNEL,
            timeout=30,
        )
        assert released.status_code == 200, released.text
        model.default = {"message": completion("Yes, we open on Sundays from 9:00.")}
        normal = post(server, message("Sunday then?", contact="c-poison", sent_at=_at(60)))
        assert normal.status_code == 200, normal.text
        assert normal.json()["reply"]["text"] == "Yes, we open on Sundays from 9:00."
        assert normal.json()["usage"]["brain"] == "llm"
        assert len(model.requests) == ATTEMPTS + 1


def test_a_turn_that_fails_once_is_answered_by_its_retry(
    data_dir: Path, model: FakeOpenAIServer
) -> None:
    """The first attempt's save is refused, the second attempt's reply is stored: the caller
    gets the model's answer, not a 500 and not the fallback; both calls are charged."""
    refuse_replies_with_the_mark(data_dir)
    model.push({"message": completion(f"The facial is 600,000 VND. {MARK}")})
    model.default = {"message": completion("The facial is 600,000 VND.")}
    charged_before = model_calls_charged(data_dir)
    with live_server(data_dir, **on_fake_model(model)) as server:
        answer = post(server, message("How much is the facial?", contact="c-once"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["reply"]["text"] == "The facial is 600,000 VND."
        assert answer.json()["usage"]["brain"] == "llm"
        assert len(model.requests) == 2
        assert model_calls_charged(data_dir) - charged_before == 2
        listed = httpx.get(f"{server.url}/v1/contacts/c-once/messages", headers=ADMIN).json()
        (inbound,) = [m for m in listed if m["direction"] == "in"]
        assert inbound["status"] == "processed" and len(inbound["attempts"]) == 1


def test_a_nul_byte_in_the_models_reply_is_stored_without_it(
    data_dir: Path, model: FakeOpenAIServer
) -> None:
    """PostgreSQL text cannot hold NUL: the reply and the tool's arguments are stored (and
    sent) without it, by the first attempt."""
    model.default = {
        "message": completion(
            "The facial\x00 is 600,000 VND.",
            tool_calls=[
                {
                    "name": "update_contact_fields",
                    "arguments": {"fields": {"budget": "about 2\x00 million"}},
                }
            ],
        )
    }
    with live_server(data_dir, **on_fake_model(model)) as server:
        answer = post(server, message("How much is the facial?", contact="c-nul"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["reply"]["text"] == "The facial is 600,000 VND."
        assert answer.json()["contact"]["fields"]["budget"] == "about 2 million"
        listed = httpx.get(f"{server.url}/v1/contacts/c-nul/messages", headers=ADMIN).json()
        contact = httpx.get(f"{server.url}/v1/contacts/c-nul", headers=ADMIN).json()
    assert [m["text"] for m in listed if m["direction"] == "out"] == ["The facial is 600,000 VND."]
    (inbound,) = [m for m in listed if m["direction"] == "in"]
    assert inbound["status"] == "processed" and inbound["attempts"] == []
    assert contact["fields"]["budget"] == "about 2 million"
    assert len(model.requests) == 1


def test_29_february_after_that_day_of_a_leap_year_is_not_a_crash(data_dir: Path) -> None:
    """On 10 March 2028 "29/2" has no next occurrence next year: it is not read as a date
    (the date question is asked again), instead of a ValueError that failed every attempt."""
    clock = _fixed(datetime(2028, 3, 10, 9, 0, tzinfo=UTC))
    with live_server(data_dir, clock=clock) as server:
        answer = post(server, message("Can I book a facial on 29/2?", contact="c-leap"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "replied" and answer.json()["reply"]["text"]
        assert "preferred_date" not in answer.json()["contact"]["fields"]
        later = post(server, message("Then 15/3 please", contact="c-leap", sent_at=_at(30)))
        assert later.status_code == 200, later.text
        assert later.json()["contact"]["fields"]["preferred_date"] == "2028-03-15"
        listed = httpx.get(f"{server.url}/v1/contacts/c-leap/messages", headers=ADMIN).json()
    assert {m["status"] for m in listed if m["direction"] == "in"} == {"processed"}


def _at(seconds: int) -> str:
    return datetime.fromtimestamp(
        datetime(2026, 11, 22, 6, 0, tzinfo=UTC).timestamp() + seconds, UTC
    ).isoformat()


def _fixed(start: datetime) -> Any:
    """A clock that runs from ``start`` at the wall clock's pace."""
    began = time.monotonic()

    def now() -> datetime:
        return datetime.fromtimestamp(start.timestamp() + time.monotonic() - began, UTC)

    return now
