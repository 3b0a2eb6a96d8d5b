"""POST /v1/messages rate limits: 429 with Retry-After per contact and per workspace; a repeat
delivery of a stored message is answered from the record and never refused."""

from __future__ import annotations

from datetime import timedelta

from agent_service.db import models
from tests.conftest import CHANNEL, ClientFactory, TickingClock, message
from tests.records import rows


def test_per_contact_limit_answers_429_with_retry_after_and_stores_nothing(
    make_client: ClientFactory,
) -> None:
    clock = TickingClock(step=timedelta(0))
    with make_client(clock=clock, contact_burst=2, contact_rate_per_second=0.5) as client:
        first = message("hello", contact="c-rl")
        ok = [
            client.post("/v1/messages", json=body, headers=CHANNEL)
            for body in (first, message("prices?", contact="c-rl"))
        ]
        refused_body = message("one more", contact="c-rl", message_id="wamid.rl-3")
        refused = client.post("/v1/messages", json=refused_body, headers=CHANNEL)
        repeat = client.post("/v1/messages", json=first, headers=CHANNEL)
        other = client.post("/v1/messages", json=message("hi", contact="c-other"), headers=CHANNEL)
        assert not rows(client, models.Message, channel_message_id="wamid.rl-3")
        clock.advance(timedelta(seconds=2))
        later = client.post("/v1/messages", json=refused_body, headers=CHANNEL)
    assert [r.status_code for r in ok] == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert "contact" in refused.json()["detail"]
    assert repeat.status_code == 200 and repeat.json() == ok[0].json()
    assert other.status_code == 200, "another contact has its own bucket"
    assert later.status_code == 200, "the platform's retry after Retry-After succeeds"


def test_per_workspace_limit(make_client: ClientFactory) -> None:
    clock = TickingClock(step=timedelta(0))
    with make_client(clock=clock, workspace_burst=3, workspace_rate_per_second=1) as client:
        codes = [
            client.post("/v1/messages", json=message("hi", contact=f"c-ws{i}"), headers=CHANNEL)
            for i in range(4)
        ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[-1].headers["Retry-After"] == "1"
    assert "workspace" in codes[-1].json()["detail"]


def test_a_refused_message_costs_no_embedding(make_client: ClientFactory) -> None:
    """The embedding starts before the repeat check, but only when the buckets have room."""
    clock = TickingClock(step=timedelta(0))
    with make_client(clock=clock, contact_burst=1, contact_rate_per_second=0.5) as client:
        batcher = client.app_state.deps.query_batcher  # type: ignore[attr-defined]
        embedded: list[str] = []
        real = batcher._embed

        def spy(texts: list[str]) -> object:
            embedded.extend(texts)
            return real(texts)

        batcher._embed = spy
        limits = client.app_state.deps.rate_limits  # type: ignore[attr-defined]
        assert limits.has_room("ws_demo", "c-emb")
        ok = client.post("/v1/messages", json=message("prices?", contact="c-emb"), headers=CHANNEL)
        assert not limits.has_room("ws_demo", "c-emb") and limits.has_room("ws_demo", "c-x")
        refused = client.post(
            "/v1/messages", json=message("opening hours?", contact="c-emb"), headers=CHANNEL
        )
    assert (ok.status_code, refused.status_code) == (200, 429)
    assert "prices?" in embedded and "opening hours?" not in embedded
