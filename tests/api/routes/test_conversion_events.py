"""GET/PUT /v1/conversion-events: which conversion events move contacts to which stage."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.routes.test_contact_events import post_event
from tests.conftest import ADMIN, CHANNEL, send


def test_custom_conversion_is_recorded_and_moves_once_mapped(client: TestClient) -> None:
    send(client, "Hello", contact="c-dep")
    unmapped = post_event(
        client, "c-dep", type="deposit_paid", event_id="d1", value=50, currency="MYR"
    )
    mapping = client.put(
        "/v1/conversion-events",
        json={"stages": {"deposit_paid": "payment", "purchase_completed": "Customer"}},
        headers=ADMIN,
    )
    mapped = post_event(
        client, "c-dep", type="deposit_paid", event_id="d2", value=50, currency="MYR"
    )
    checkout = post_event(client, "c-dep", type="checkout_started", event_id="d3")
    assert not unmapped["stage_changed"] and "not mapped" in unmapped["note"]
    assert mapping.status_code == 200
    assert mapping.json() == {
        "stages": {"deposit_paid": "Payment", "purchase_completed": "Customer"}
    }
    assert client.get("/v1/conversion-events", headers=ADMIN).json() == mapping.json()
    assert mapped["lifecycle_stage"] == "Payment" and mapped["stage_changed"]
    assert not checkout["stage_changed"], "checkout_started was removed from the mapping"


def test_conversion_mapping_refuses_lost_or_unknown_stages_and_non_admins(
    client: TestClient,
) -> None:
    lost = client.put("/v1/conversion-events", json={"stages": {"x_y": "Cold Lead"}}, headers=ADMIN)
    unknown = client.put("/v1/conversion-events", json={"stages": {"x_y": "VIP"}}, headers=ADMIN)
    channel = client.get("/v1/conversion-events", headers=CHANNEL)
    assert lost.status_code == 422 and "not an active stage" in lost.json()["detail"]
    assert unknown.status_code == 422
    assert channel.status_code == 403
