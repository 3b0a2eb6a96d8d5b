"""Follow-ups with a controllable clock: timing, window, cancellation, cold lead, once only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from agent_service.testing.recording_sender import RecordingFollowUpSender
from tests.conftest import ADMIN, CHANNEL, ClientFactory, TickingClock, message, send

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}
FOLLOW_UPS = {
    "followup_delays_minutes": [240, 1320],
    "followup_cold_after_minutes": 1440,
    "followup_poll_seconds": 0,
}


def run(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/followups/run", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def steps(client: TestClient, contact: str) -> list[tuple[int, str, str]]:
    rows = client.get(f"/v1/followups?contact={contact}", headers=ADMIN).json()
    return sorted((r["step"], r["kind"], r["status"]) for r in rows)


def recording(client: TestClient) -> RecordingFollowUpSender:
    sender = RecordingFollowUpSender()
    client.app.state.follow_up_sender = sender  # type: ignore[attr-defined]
    return sender


def test_quiet_lead_gets_two_nudges_in_its_language_then_is_marked_cold(
    make_client: ClientFactory,
) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        sender = recording(client)
        send(client, "Chào bạn, mình muốn làm chăm sóc da mặt", contact="c-q", locale="vi")
        planned = run(client)
        clock.advance(timedelta(hours=3, minutes=58))
        early = run(client)
        clock.advance(timedelta(minutes=3))
        first = run(client)
        again = run(client)
        clock.advance(timedelta(hours=18))
        second = run(client)
        clock.advance(timedelta(hours=23))
        not_yet_cold = run(client)
        clock.advance(timedelta(hours=2))
        cold = run(client)
        contact = client.get("/v1/contacts/c-q", headers=CHANNEL).json()
        plan = steps(client, "c-q")
    assert planned["planned"] == 1 and planned["sent"] == 0
    assert early["sent"] == 0
    assert first["sent"] == 1 and again["sent"] == 0, "a due nudge is sent exactly once"
    assert second["sent"] == 1 and not_yet_cold["marked_cold"] == 0
    assert cold["marked_cold"] == 1
    assert [n.step for n in sender.sent] == [1, 2] and sender.sent[1].last
    assert all(n.language == "vi" and n.channel == "whatsapp" for n in sender.sent)
    assert sender.sent[0].text.startswith("Chào Lan")
    assert "chi nhánh" in sender.sent[0].text, "the open qualification question is repeated"
    assert contact["lifecycle_stage"] == "Cold Lead" and contact["lost"]
    last = contact["stage_history"][-1]
    assert last["actor"] == "system" and last["kind"] == "lost"
    assert last["reason"] == "no reply after 2 follow-up(s)" == contact["lost_reason"]
    assert plan == [(1, "nudge", "sent"), (2, "nudge", "sent"), (3, "cold", "done")]


def test_a_reply_cancels_the_plan_and_starts_a_new_one(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        sender = recording(client)
        send(client, "I want a facial", contact="c-r")
        run(client)
        clock.advance(timedelta(hours=3))
        send(client, "Kuala Lumpur", contact="c-r")
        clock.advance(timedelta(hours=1, minutes=30))
        after_reply = run(client)
        clock.advance(timedelta(hours=3))
        later = run(client)
        plan = steps(client, "c-r")
    assert after_reply["cancelled"] == 1 and after_reply["sent"] == 0
    assert after_reply["planned"] == 1, "the new silence gets its own plan"
    assert later["sent"] == 1 and len(sender.sent) == 1
    assert (1, "nudge", "cancelled") in plan and (1, "nudge", "sent") in plan


def test_no_nudge_while_a_human_owns_the_conversation(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        sender = recording(client)
        send(client, "I want a facial", contact="c-h")
        run(client)
        client.post(
            "/v1/contacts/c-h/events",
            json={"type": "human_assigned", "event_id": "h-1", "team": "sales"},
            headers=CHANNEL,
        )
        clock.advance(timedelta(days=3))
        result = run(client)
        contact = client.get("/v1/contacts/c-h", headers=CHANNEL).json()
        plan = steps(client, "c-h")
    assert plan == [(1, "nudge", "cancelled")]
    assert result["cancelled"] == 1 and result["sent"] == 0 and sender.sent == []
    assert not contact["lost"], "a lead a human works on is never marked cold by the timer"


@pytest.mark.parametrize(
    ("channel", "expected_sent"),
    [("whatsapp", [1]), ("webchat", [1, 2])],
    ids=["whatsapp-24h-window-blocks-late-nudge", "webchat-has-no-window"],
)
def test_nudges_only_inside_the_channel_messaging_window(
    make_client: ClientFactory, channel: str, expected_sent: list[int]
) -> None:
    clock = TickingClock()
    settings = {**FOLLOW_UPS, "followup_delays_minutes": [240, 1560]}  # 4h, then 26h
    with make_client(clock=clock, **settings) as client:
        sender = recording(client)
        send(client, "I want a facial", contact="c-w", channel=channel)
        run(client)
        clock.advance(timedelta(hours=5))
        run(client)
        clock.advance(timedelta(hours=22))
        second = run(client)
        plan = steps(client, "c-w")
    assert [n.step for n in sender.sent] == expected_sent
    if channel == "whatsapp":
        assert second["skipped"] == 1 and (2, "nudge", "skipped") in plan


def test_closed_conversation_is_not_followed_up(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        sender = recording(client)
        send(client, "I want a facial", contact="c-c")
        client.post(
            "/v1/contacts/c-c/events",
            json={"type": "conversation_closed", "event_id": "cl-1"},
            headers=CHANNEL,
        )
        clock.advance(timedelta(hours=5))
        result = run(client)
    assert result["cancelled"] == 1 and sender.sent == []


def test_customers_are_not_followed_up(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        recording(client)
        send(client, "I want a facial", contact="c-b")
        client.post(
            "/v1/contacts/c-b/events",
            json={"type": "purchase_completed", "event_id": "o-1", "value": 5, "currency": "USD"},
            headers=CHANNEL,
        )
        clock.advance(timedelta(hours=5))
        result = run(client)
    assert result["planned"] == 0 and result["sent"] == 0


def test_two_workers_on_one_database_send_each_nudge_once(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with (
        make_client(clock=clock, **FOLLOW_UPS) as one,
        make_client(clock=clock, **FOLLOW_UPS) as two,
    ):
        senders = [recording(one), recording(two)]
        for i in range(6):
            send(one, "I want a facial", contact=f"c-{i}")
        clock.advance(timedelta(hours=5))
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, [one, two, one, two]))
    assert sum(r["sent"] for r in results) == 6
    assert sorted(n.contact_id for s in senders for n in s.sent) == [f"c-{i}" for i in range(6)]


class _Callback(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    signatures: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Callback.received.append(json.loads(self.rfile.read(length)))
        _Callback.signatures.append(self.headers.get("X-Signature-256") or "")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def callback_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Callback.received = []
    _Callback.signatures = []
    yield f"http://127.0.0.1:{server.server_port}/hooks/nudge"
    server.shutdown()


def test_a_legacy_callback_url_gets_the_nudge_through_the_retried_outbox(
    make_client: ClientFactory, callback_url: str
) -> None:
    clock = TickingClock()
    with make_client(clock=clock, followup_callback_url=callback_url, **FOLLOW_UPS) as client:
        send(client, "I want a facial", contact="c-cb")
        clock.advance(timedelta(hours=5))
        result = run(client)
        # The dispatcher runs in the app: wait until the callback arrived and its row says so
        # (the row is marked delivered after the receiver answered, a moment later).
        for _ in range(1000):
            overview = client.get("/v1/workspaces/current/delivery", headers=ADMIN).json()
            if _Callback.received and overview["callbacks"].get("delivered"):
                break
            time.sleep(0.02)
    assert result["sent"] == 1 and result["delivery_errors"] == 0
    [body] = _Callback.received
    assert body["type"] == "follow_up" and body["contact_id"] == "c-cb"
    assert body["channel"] == "whatsapp" and body["step"] == 1 and body["text"]
    assert body["idempotency_key"].startswith("follow_up:")
    assert _Callback.signatures == [""]  # no secret comes with the legacy URL
    assert overview["callbacks"] == {"delivered": 1}


def test_with_delivery_settings_nudges_go_through_the_signed_callback_outbox(
    make_client: ClientFactory, callback_url: str
) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        change = {"callback_url": callback_url, "callback_secret": "nudge-secret-0123456789"}
        saved = client.put("/v1/workspaces/current/delivery", json=change, headers=ADMIN)
        assert saved.status_code == 200, saved.text
        send(client, "I want a facial", contact="c-ob")
        clock.advance(timedelta(hours=5))
        result = run(client)
        # The dispatcher runs in the app: wait until the callback arrived and its row says so
        # (the row is marked delivered after the receiver answered, a moment later).
        for _ in range(1000):
            overview = client.get("/v1/workspaces/current/delivery", headers=ADMIN).json()
            if _Callback.received and overview["callbacks"].get("delivered"):
                break
            time.sleep(0.02)
    assert result["sent"] == 1 and result["delivery_errors"] == 0
    [body] = _Callback.received
    assert body["type"] == "follow_up" and body["contact_id"] == "c-ob" and body["step"] == 1
    assert body["idempotency_key"].startswith("follow_up:")
    assert _Callback.signatures[0].startswith("sha256=")
    assert overview["callbacks"] == {"delivered": 1}


def test_run_needs_the_admin_role(client: TestClient) -> None:
    assert client.post("/v1/followups/run", headers=CHANNEL).status_code == 403


def test_an_admin_runs_the_follow_ups_of_its_own_workspace_only(
    make_client: ClientFactory,
) -> None:
    clock = TickingClock()
    with make_client(clock=clock, **FOLLOW_UPS) as client:
        sender = recording(client)
        other = client.post("/v1/workspaces", json={"name": "Other"}, headers=BOOTSTRAP).json()
        other_admin = {"Authorization": f"Bearer {other['admin_key']['key']}"}
        other_channel = client.post(
            f"/v1/workspaces/{other['id']}/keys", json={"roles": ["channel"]}, headers=other_admin
        ).json()
        headers = {"Authorization": f"Bearer {other_channel['key']}"}
        said = client.post("/v1/messages", json=message("hello", contact="o-1"), headers=headers)
        assert said.status_code == 200, said.text
        clock.advance(timedelta(hours=5))
        mine = run(client)  # the demo workspace's admin
        assert mine["planned"] == 0 and mine["sent"] == 0 and not sender.sent
        theirs = client.post("/v1/followups/run", headers=other_admin).json()
        assert theirs["planned"] == 1 and theirs["sent"] == 1 and len(sender.sent) == 1
