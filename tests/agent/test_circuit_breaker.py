"""The circuit breaker: opens after N failed turns, skips the provider, probes after a cool-down."""

from __future__ import annotations

from datetime import timedelta

from agent_service.core.circuit_breaker import CircuitBreaker
from agent_service.db import models
from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ClientFactory, TickingClock, send
from tests.records import rows


def test_breaker_states_follow_failures_and_the_clock() -> None:
    clock = TickingClock(step=timedelta(0))
    breaker = CircuitBreaker(threshold=2, cooldown=timedelta(seconds=30), clock=clock)
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(timedelta(seconds=31))
    assert breaker.allow(), "one probe after the cool-down"
    assert not breaker.allow(), "only one probe at a time"
    breaker.record_failure()
    assert breaker.state == "open", "a failed probe opens the circuit again"
    clock.advance(timedelta(seconds=31))
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.failures == 0


def test_open_circuit_sends_turns_to_the_offline_planner_without_calling_the_provider(
    make_client: ClientFactory,
) -> None:
    clock = TickingClock(step=timedelta(0))
    with FakeOpenAIServer() as server:
        server.default = {"status": 500}
        with make_client(
            clock=clock,
            llm_model="fake-model",
            OPENAI_BASE_URL=server.url,
            llm_max_attempts=1,
            breaker_failure_threshold=2,
            breaker_cooldown_seconds=60,
        ) as client:
            first = send(client, "How much is the basic facial?", contact="c-b1")
            second = send(client, "Where is your KL branch?", contact="c-b2")
            assert len(server.requests) == 2
            assert first["usage"]["brain"] == second["usage"]["brain"] == "llm+offline-planner"

            skipped = send(client, "Do you open on Sunday?", contact="c-b3")
            assert len(server.requests) == 2, "an open circuit does not call the provider"
            assert skipped["usage"]["brain"] == "offline-planner"
            assert skipped["reply"]["text"]
            (turn,) = rows(client, models.Turn, id=skipped["turn_id"])
            assert turn.error == "skipped model: circuit open"

            clock.advance(timedelta(seconds=61))
            server.default = {"status": 200, "message": completion("We open at 10:00.")}
            probe = send(client, "What time do you open?", contact="c-b4")
            assert len(server.requests) == 3
            assert (
                probe["usage"]["brain"] == "llm" and probe["reply"]["text"] == "We open at 10:00."
            )
            send(client, "Thanks!", contact="c-b5")
            assert len(server.requests) == 4, "the circuit is closed again"
