"""POST /v1/contacts/{id}/events: conversation and conversion events, repeats, order."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import CHANNEL, ClientFactory, send


def post_event(client: TestClient, contact: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/contacts/{contact}/events", json=body, headers=CHANNEL)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def contact(client: TestClient, contact_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/contacts/{contact_id}", headers=CHANNEL).json()
    return body


def test_human_assigned_silences_the_agent_and_a_repeat_changes_nothing(
    client: TestClient,
) -> None:
    send(client, "Hello", contact="c-1")
    first = post_event(client, "c-1", type="human_assigned", event_id="e-1", team="sales")
    silent = send(client, "Are you there?", contact="c-1")
    post_event(client, "c-1", type="human_released", event_id="e-2")
    repeat = post_event(client, "c-1", type="human_assigned", event_id="e-1", team="sales")
    after = send(client, "Hello again", contact="c-1")
    assert first["owner"] == "human" and first["assigned_to"] == "sales"
    assert not first["duplicate"] and repeat["duplicate"]
    assert silent["status"] == "silent"
    assert after["status"] == "replied", "a repeated takeover must not silence the agent again"


def test_purchase_moves_to_customer_with_system_actor_and_a_repeat_moves_nothing(
    client: TestClient,
) -> None:
    send(client, "Hello", contact="c-buy")
    event = {
        "type": "purchase_completed",
        "event_id": "order-1",
        "value": 1200000,
        "currency": "VND",
    }
    first = post_event(client, "c-buy", **event)
    repeat = post_event(client, "c-buy", **event)
    history = contact(client, "c-buy")["stage_history"]
    assert first["lifecycle_stage"] == "Customer" and first["stage_changed"]
    assert repeat["duplicate"] and repeat["lifecycle_stage"] == "Customer"
    assert [c["to_stage"] for c in history] == ["New Lead", "Customer"]
    last = history[-1]
    assert last["actor"] == "system" and last["from_stage"] == "New Lead"
    assert "purchase_completed" in last["reason"] and "1.2e+06 VND" in last["reason"]
    assert "order-1" in last["evidence"]


def test_out_of_order_checkout_after_purchase_does_not_move_backwards(client: TestClient) -> None:
    send(client, "Hello", contact="c-ooo")
    post_event(
        client, "c-ooo", type="purchase_completed", event_id="p", occurred_at="2026-11-22T07:00:00Z"
    )
    late = post_event(
        client, "c-ooo", type="checkout_started", event_id="c", occurred_at="2026-11-22T06:30:00Z"
    )
    assert late["lifecycle_stage"] == "Customer" and not late["stage_changed"]
    assert "already at or past" in late["note"]


def test_checkout_then_purchase_walks_the_funnel(client: TestClient) -> None:
    send(client, "Hello", contact="c-walk")
    checkout = post_event(client, "c-walk", type="checkout_started", event_id="w1")
    purchase = post_event(client, "c-walk", type="purchase_completed", event_id="w2")
    assert checkout["lifecycle_stage"] == "Payment"
    assert purchase["lifecycle_stage"] == "Customer"


def test_stage_set_by_human_is_recorded_as_human_and_stale_ones_are_ignored(
    client: TestClient,
) -> None:
    send(client, "Hello", contact="c-hum")
    lost = post_event(
        client,
        "c-hum",
        type="stage_set_by_human",
        event_id="h1",
        stage="Lost to Competitor",
        reason="booked at another clinic",
    )
    stale = post_event(
        client,
        "c-hum",
        type="stage_set_by_human",
        event_id="h0",
        stage="Hot Lead",
        occurred_at="2026-11-22T05:00:00Z",
    )
    back = post_event(client, "c-hum", type="stage_set_by_human", event_id="h2", stage="Hot Lead")
    history = contact(client, "c-hum")["stage_history"]
    assert lost["lost"] and lost["lifecycle_stage"] == "Lost to Competitor"
    assert history[1]["actor"] == "human" and history[1]["kind"] == "lost"
    assert history[1]["reason"] == "booked at another clinic"
    assert not stale["stage_changed"] and stale["lifecycle_stage"] == "Lost to Competitor"
    assert back["stage_changed"] and not back["lost"], "a person may move a lead back"


def test_stage_set_by_human_needs_a_known_stage(client: TestClient) -> None:
    send(client, "Hello", contact="c-bad")
    response = client.post(
        "/v1/contacts/c-bad/events",
        json={"type": "stage_set_by_human", "event_id": "b1", "stage": "Nirvana"},
        headers=CHANNEL,
    )
    missing = client.post(
        "/v1/contacts/c-bad/events",
        json={"type": "stage_set_by_human", "event_id": "b2"},
        headers=CHANNEL,
    )
    assert response.status_code == 422 and "unknown stage 'Nirvana'" in response.json()["detail"]
    assert missing.status_code == 422


def test_purchase_revives_a_lost_lead_only_when_it_happened_after_the_lost_mark(
    client: TestClient,
) -> None:
    send(client, "Hello", contact="c-rev")
    post_event(client, "c-rev", type="stage_set_by_human", event_id="l", stage="Cold Lead")
    old = post_event(
        client, "c-rev", type="purchase_completed", event_id="o", occurred_at="2026-11-01T00:00:00Z"
    )
    new = post_event(client, "c-rev", type="purchase_completed", event_id="n")
    assert not old["stage_changed"] and old["lost"]
    assert new["stage_changed"] and new["lifecycle_stage"] == "Customer" and not new["lost"]


def test_events_for_an_unknown_contact_get_404_and_create_nothing(client: TestClient) -> None:
    response = client.post(
        "/v1/contacts/nobody/events",
        json={"type": "purchase_completed", "event_id": "x", "value": 1, "currency": "USD"},
        headers=CHANNEL,
    )
    assert response.status_code == 404 and "nobody" in response.json()["detail"]
    assert client.get("/v1/contacts/nobody", headers=CHANNEL).status_code == 404


def test_value_needs_a_currency(client: TestClient) -> None:
    send(client, "Hello", contact="c-v")
    response = client.post(
        "/v1/contacts/c-v/events",
        json={"type": "purchase_completed", "event_id": "v", "value": 10},
        headers=CHANNEL,
    )
    assert response.status_code == 422


def qualify(client: TestClient, contact_id: str) -> dict[str, Any]:
    send(client, "I want a facial", contact=contact_id)
    send(client, "Bangkok", contact=contact_id)
    return send(client, "2026-11-28", contact=contact_id)


def test_reopened_conversation_is_not_handed_off_again_for_the_same_reason(
    make_client: ClientFactory,
) -> None:
    with make_client() as client:
        qualified = qualify(client, "c-loop")
        post_event(client, "c-loop", type="conversation_closed", event_id="close-1")
        post_event(client, "c-loop", type="conversation_reopened", event_id="open-1")
        again = send(client, "Thanks! What time do you open?", contact="c-loop")
        asks = send(client, "can I talk to a real person?", contact="c-loop")
    assert [a["type"] for a in qualified["actions"]][-1] == "handoff"
    assert again["contact"]["owner"] == "ai"
    assert all(a["type"] != "handoff" for a in again["actions"]), again
    assert [a["type"] for a in asks["actions"]] == ["handoff"], "an explicit ask still works"


def test_after_release_the_agent_picks_up_without_repeating_answered_questions(
    client: TestClient,
) -> None:
    first = send(client, "I want a facial", contact="c-rel")
    post_event(client, "c-rel", type="human_assigned", event_id="r-1", team="sales")
    silent = send(client, "hello?", contact="c-rel")
    post_event(client, "c-rel", type="human_released", event_id="r-2")
    back = send(client, "I am back", contact="c-rel")
    assert first["contact"]["fields"] == {"service": "facial"}
    assert silent["status"] == "silent"
    assert back["status"] == "replied" and back["contact"]["fields"]["service"] == "facial"
    assert "Which treatment" not in back["reply"]["text"]
    assert "Which branch" in back["reply"]["text"]


def test_occurred_at_needs_a_time_zone(client: TestClient) -> None:
    send(client, "Hello", contact="c-tz")
    response = client.post(
        "/v1/contacts/c-tz/events",
        json={"type": "checkout_started", "event_id": "tz", "occurred_at": "2026-11-22T06:00:00"},
        headers=CHANNEL,
    )
    assert response.status_code == 422
