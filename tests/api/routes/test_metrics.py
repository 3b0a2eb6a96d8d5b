"""GET /metrics over a real socket: a turn moves the counters and the histograms, the queue
gauges are there, no contact data reaches a label, and ``metrics_token`` closes the path.

The service runs in a thread (tests/reliability/harness.py) on the fake OpenAI server; the
counters live in this process, so each test compares a scrape before with a scrape after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent_service.schemas.brains import BRAINS
from agent_service.schemas.messages import CHANNELS
from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, message
from tests.reliability.harness import CallbackReceiver, LiveServer, live_server, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

# Every label an agent_service metric may carry, and the values it may take.
KNOWN_LABELS: dict[str, set[str]] = {
    "channel": set(CHANNELS),
    "brain": set(BRAINS) | {"none", "other"},
    "outcome": {"replied", "fallback", "silent", "attempt_failed", "ok", "error"},
    "direction": {"input", "output"},
    "source": {"index", "database", "none", "other"},
    "status": {"delivered", "retry", "failed", "waiting", "pending", "other"},
    "actor": {"ai", "human", "system", "other"},
    "kind": {"stage", "lost", "other"},
}


def scrape(url: str, path: str = "/metrics", headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(f"{url}{path}", headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.default = {"message": completion("Happy to help!")}
        yield server


@pytest.fixture
def served(data_dir: Path, model: FakeOpenAIServer) -> Iterator[LiveServer]:
    with live_server(
        data_dir,
        llm_model="fake-model",
        openai_base_url=model.url,
        openai_api_key="not-needed",
        callback_poll_seconds=0.1,
    ) as server:
        yield server


def post_message(url: str, body: dict[str, Any], asynchronous: bool = False) -> httpx.Response:
    headers = {**CHANNEL, "Prefer": "respond-async"} if asynchronous else CHANNEL
    return httpx.post(f"{url}/v1/messages", json=body, headers=headers, timeout=120)


def test_a_turn_moves_the_counters_and_the_histograms(
    served: LiveServer, model: FakeOpenAIServer
) -> None:
    url, receiver = served.url, CallbackReceiver()
    with receiver.running() as hook:
        put = httpx.put(
            f"{url}/v1/workspaces/current/delivery", json={"callback_url": hook}, headers=ADMIN
        )
        assert put.status_code == 200, put.text
        before = scrape(url)
        # The first request fails (and is retried), the model then searches the knowledge
        # base with a tool and replies: three model calls, two answered with tokens.
        model.push(
            {"status": 503, "headers": {"Retry-After": "0"}},
            {
                "message": completion(
                    "", [{"name": "search_knowledge_base", "arguments": {"query": "opening hours"}}]
                )
            },
            {"message": completion("We open at nine.")},
        )
        first = post_message(url, message("When do you open?", contact="c-metrics"))
        assert first.status_code == 200, first.text
        event = httpx.post(
            f"{url}/v1/contacts/c-metrics/events",
            json={"type": "stage_set_by_human", "event_id": "ev-1", "stage": "Payment"},
            headers=CHANNEL,
        )
        assert event.status_code == 200 and event.json()["stage_changed"], event.text
        accepted = post_message(url, message("Thanks!", contact="c-metrics"), asynchronous=True)
        assert accepted.status_code == 202, accepted.text
        wait_until(
            lambda: (
                moved(before, scrape(url), "agent_service_callbacks_total", status="delivered") == 1
            ),
            timeout=60,
        )
        after = scrape(url)

    assert moved(before, after, "agent_service_messages_received_total", channel="whatsapp") == 2
    assert moved(before, after, "agent_service_turns_total", brain="llm", outcome="replied") == 2
    assert moved(before, after, "agent_service_turn_duration_seconds_count", brain="llm") == 2
    assert moved(before, after, "agent_service_turn_duration_seconds_sum", brain="llm") > 0
    assert moved(before, after, "agent_service_model_calls_total", outcome="error") == 1
    assert moved(before, after, "agent_service_model_calls_total", outcome="ok") == 3
    # The fake server reports 200 prompt and 20 completion tokens per answer.
    assert moved(before, after, "agent_service_model_tokens_total", direction="input") == 600
    assert moved(before, after, "agent_service_model_tokens_total", direction="output") == 60
    # Two turns' searches and the tool's search.
    searches = moved(
        before, after, "agent_service_retrieval_duration_seconds_count", source="index"
    )
    assert searches == 3
    assert moved(before, after, "agent_service_callbacks_total", status="delivered") == 1
    # The new contact entered its first stage (system), then a human moved it.
    lifecycle = "agent_service_lifecycle_changes_total"
    assert moved(before, after, lifecycle, actor="system", kind="stage") == 1
    assert moved(before, after, lifecycle, actor="human", kind="stage") == 1
    # The queues, read at the scrape: all drained.
    assert ("agent_service_turns_in_flight", ()) in after
    assert value(after, "agent_service_turns_in_flight") == 0
    assert value(after, "agent_service_turns_waiting_for_slot") == 0
    assert ("agent_service_messages_waiting", ()) in after
    assert value(after, "agent_service_messages_waiting") == 0
    assert ("agent_service_callbacks_queued", (("status", "pending"),)) in after
    assert value(after, "agent_service_callbacks_queued", status="pending") == 0


def test_no_contact_data_reaches_a_label(served: LiveServer, model: FakeOpenAIServer) -> None:
    url = served.url
    secrets = [
        "snowflake-contact-8817",
        "Quokkafeather",
        "912777131",
        "glasswing-5521",
        "ultramarine-narwhal",
        "amethyst-drift",
        "magenta-okapi",
    ]
    body = message(
        "Tell me about the ultramarine-narwhal package",
        contact="snowflake-contact-8817",
        message_id="wamid.glasswing-5521",
        name="Quokkafeather Zanzibar",
    )
    body["contact"]["phone"] = "+84 912 777 131"
    body["source"] = {"campaign": "amethyst-drift", "ad_id": "amethyst-drift-ad"}
    model.push(
        {
            "message": completion(
                "The magenta-okapi package is great.",
                [{"name": "update_contact_fields", "arguments": {"fields": {"service": "x"}}}],
            )
        },
        {"message": completion("The magenta-okapi package is great.")},
    )
    sent = post_message(url, body)
    assert sent.status_code == 200, sent.text
    assert "magenta-okapi" in sent.text  # the distinctive texts did go through the turn

    text = httpx.get(f"{url}/metrics", timeout=60).text
    for secret in secrets:
        assert secret.lower() not in text.lower(), f"{secret!r} reached the metrics"
    for (name, labels), _ in parse(text).items():
        if not name.startswith("agent_service_"):
            continue
        for label, given in labels:
            if label == "le":
                continue
            assert label in KNOWN_LABELS, (name, label)
            assert given in KNOWN_LABELS[label], (name, label, given)


def test_metrics_token_and_path_are_settings(data_dir: Path) -> None:
    token = "metrics-token-0123456789"
    with live_server(data_dir, metrics_token=token, metrics_path="/ops/metrics") as server:
        url = server.url
        missing = httpx.get(f"{url}/ops/metrics", timeout=30)
        wrong = httpx.get(f"{url}/ops/metrics", headers={"Authorization": "Bearer nope"})
        default_path = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
        samples = scrape(url, "/ops/metrics", headers={"Authorization": f"Bearer {token}"})
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "Authorization: Bearer <metrics_token>" in refused.json()["detail"]
    assert default_path.status_code == 404
    assert ("agent_service_messages_waiting", ()) in samples
