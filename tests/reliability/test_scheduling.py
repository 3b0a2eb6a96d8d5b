"""Accept every legitimate message at once, schedule the work: fairness between workspaces,
arrival order within a contact, 429 only for a flood (never for a repeat). Real sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent_service.testing.scripted_chat_model import reply
from tests.conftest import ADMIN, CHANNEL, message
from tests.reliability.harness import CallbackReceiver, HeldModel, live_server, wait_until

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}
ASYNC = {"Prefer": "respond-async"}


def answer(messages: list[BaseMessage]) -> AIMessage:
    return reply(f"About '{messages[-1].content}': the facial is 600,000 VND.")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def second_workspace(http: httpx.Client, url: str, hook: str) -> tuple[dict[str, str], str]:
    """A workspace of its own (channel key, callback to ``hook``); returns its channel
    headers and its id."""
    made = http.post(f"{url}/v1/workspaces", json={"name": "Other shop"}, headers=BOOTSTRAP)
    assert made.status_code == 201, made.text
    admin = bearer(made.json()["admin_key"]["key"])
    key = http.post(
        f"{url}/v1/workspaces/{made.json()['id']}/keys", json={"roles": ["channel"]}, headers=admin
    )
    assert key.status_code == 201, key.text
    saved = http.put(
        f"{url}/v1/workspaces/current/delivery", json={"callback_url": hook}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    return bearer(key.json()["key"]), made.json()["id"]


def post_all(url: str, bodies: list[tuple[dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    """Every request at the same moment, over as many connections."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.post(f"{url}/v1/messages", json=b, headers=h) for b, h in bodies)
            )

    return asyncio.run(run())


def test_one_workspaces_spike_does_not_starve_another(data_dir: Path) -> None:
    model = HeldModel(reply_for=answer)
    receiver = CallbackReceiver()
    with (
        receiver.running() as hook,
        live_server(data_dir, chat_model=model, max_concurrent_turns=2) as server,
        httpx.Client(timeout=60) as http,
    ):
        saved = http.put(
            f"{server.url}/v1/workspaces/current/delivery",
            json={"callback_url": hook},
            headers=ADMIN,
        )
        assert saved.status_code == 200, saved.text
        other, other_id = second_workspace(http, server.url, hook)
        spike = [
            (message(f"spike {i}", contact=f"spike-{i}"), {**CHANNEL, **ASYNC}) for i in range(16)
        ]
        assert {r.status_code for r in post_all(server.url, spike)} == {202}
        wait_until(lambda: model.active == 2)  # both slots taken by the spike, 14 waiting
        late = http.post(
            f"{server.url}/v1/messages",
            json=message("a lead of the other shop", contact="other-1"),
            headers={**other, **ASYNC},
        )
        assert late.status_code == 202, late.text
        wait_until(lambda: server.service.deps.turn_slots.waiting() == 15)  # 14 + 1
        model.gate.set()
        wait_until(lambda: len(receiver.delivered()) == 17, timeout=60)
    order = [body["workspace_id"] for body in receiver.delivered()]
    # The other workspace's turn got the first slot freed: only the two turns in flight when
    # it arrived (and, as callbacks race, one more) came before it. First come, first served,
    # it would have been the last of the 17.
    assert order.index(other_id) <= 3, order


def test_a_contacts_messages_are_answered_in_the_order_they_were_sent(data_dir: Path) -> None:
    """The first message's turn is running when five more arrive at once, newest first; they
    are answered one turn at a time, oldest first (a message sent before one already answered
    is late: answered, in its place among the waiting ones)."""
    model = HeldModel(reply_for=answer)
    receiver = CallbackReceiver()
    base = time.time()

    def body(i: int) -> dict[str, Any]:
        sent = message(f"question {i}", contact="c-ordered")
        sent["sent_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i)) + "Z"
        return sent

    with (
        receiver.running() as hook,
        live_server(data_dir, chat_model=model) as server,
        httpx.Client(timeout=60) as http,
    ):
        http.put(
            f"{server.url}/v1/workspaces/current/delivery",
            json={"callback_url": hook},
            headers=ADMIN,
        )
        first = http.post(f"{server.url}/v1/messages", json=body(9), headers={**CHANNEL, **ASYNC})
        assert first.status_code == 202, first.text
        wait_until(lambda: model.active == 1)
        rest = [(body(i), {**CHANNEL, **ASYNC}) for i in reversed(range(5))]
        assert {r.status_code for r in post_all(server.url, rest)} == {202}
        model.gate.set()
        wait_until(lambda: len(receiver.delivered()) == 6, timeout=60)
    assert model.seen == [f"question {i}" for i in (9, 0, 1, 2, 3, 4)], model.seen


def test_a_flood_from_one_contact_is_limited_and_its_neighbours_are_not(data_dir: Path) -> None:
    receiver = CallbackReceiver()
    with (
        receiver.running() as hook,
        live_server(data_dir, contact_burst=5, contact_rate_per_second=0.2) as server,
        httpx.Client(timeout=60) as http,
    ):
        http.put(
            f"{server.url}/v1/workspaces/current/delivery",
            json={"callback_url": hook},
            headers=ADMIN,
        )
        flood = [(message(f"spam {i}", contact="flooder"), {**CHANNEL, **ASYNC}) for i in range(30)]
        others = [
            (message(f"hello {i}", contact=f"neighbour-{i}"), {**CHANNEL, **ASYNC})
            for i in range(10)
        ]
        mixed = [item for pair in zip(flood[:10], others, strict=True) for item in pair]
        responses = post_all(server.url, mixed + flood[10:])
        history = http.get(f"{server.url}/v1/contacts/flooder/messages", headers=ADMIN)
        stored = [m for m in history.json() if m["direction"] == "in"]
    by_contact: dict[str, list[httpx.Response]] = {}
    for (body, _), response in zip(mixed + flood[10:], responses, strict=True):
        by_contact.setdefault(body["contact"]["id"], []).append(response)
    flooded = by_contact.pop("flooder")
    assert sorted(r.status_code for r in flooded) == [202] * 5 + [429] * 25
    assert all(int(r.headers["Retry-After"]) >= 1 for r in flooded if r.status_code == 429)
    assert len(stored) == 5  # a refused message is not stored
    # Stored in the same batches as the flood, every neighbour was accepted.
    assert [r.status_code for rs in by_contact.values() for r in rs] == [202] * 10


def test_a_repeat_is_never_refused_even_when_the_buckets_are_empty(data_dir: Path) -> None:
    with (
        live_server(
            data_dir,
            contact_burst=2,
            contact_rate_per_second=0.001,
            workspace_burst=4,
            workspace_rate_per_second=0.001,
        ) as server,
        httpx.Client(timeout=60) as http,
    ):
        first = message("How much is the facial?", contact="c-repeat")
        answered = http.post(f"{server.url}/v1/messages", json=first, headers=CHANNEL)
        assert answered.status_code == 200, answered.text
        # Empty the contact's bucket, then the workspace's.
        more = [message(f"more {i}", contact="c-repeat") for i in range(3)]
        codes = [http.post(f"{server.url}/v1/messages", json=b, headers=CHANNEL) for b in more]
        assert [r.status_code for r in codes] == [200, 429, 429]
        fill = [message(f"hi {i}", contact=f"c-fill-{i}") for i in range(4)]
        codes = [http.post(f"{server.url}/v1/messages", json=b, headers=CHANNEL) for b in fill]
        assert [r.status_code for r in codes] == [200, 200, 429, 429]
        repeats = post_all(server.url, [(first, CHANNEL)] * 12)
    assert {r.status_code for r in repeats} == {200}
    assert all(r.json() == answered.json() for r in repeats)
