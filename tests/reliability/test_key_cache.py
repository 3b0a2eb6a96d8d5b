"""Channel keys are kept per process for ``api_key_cache_seconds``: a key revoked, or a signing
secret set, on one replica holds on another within that window, and on the replica that made the
change at once.

Two real `agent-service serve` processes on one database (SQLite: one data directory;
PostgreSQL: a database of its own, skipped unless AGENT_SERVICE_TEST_POSTGRES_URL is set), with
a window of 20 s, long enough that "still inside it" is not a race on a busy machine (each
replica answers a message first, so its models are loaded; the test asserts it was inside the
window when it checked); the check after it waits for the refusal with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.delivery.signature import HEADER
from agent_service.workspaces.setup import DEMO_WORKSPACE_ID
from tests.conftest import ADMIN, CHANNEL, message
from tests.processes import two_replicas
from tests.reliability.harness import wait_until

WINDOW = 20.0
SLACK = 15.0  # a busy machine: the refusal may come this much after the window


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Two server processes on one database (started one after the other)."""
    with two_replicas(request, tmp_path, AGENT_SERVICE_API_KEY_CACHE_SECONDS=str(WINDOW)) as urls:
        yield urls


def warm(*urls: str) -> None:
    """One message answered on each replica: what is measured next is not a model loading."""
    for url in urls:
        assert post(url, CHANNEL, contact="c-warm").status_code == 200


def inside_window(since: float) -> None:
    assert time.monotonic() - since < WINDOW, "the machine was too slow to test the window"


def post(url: str, headers: dict[str, str], **fields: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages", json=message("hi", **fields), headers=headers, timeout=120
    )


def new_channel_key(url: str) -> dict[str, str]:
    made = httpx.post(
        f"{url}/v1/workspaces/{DEMO_WORKSPACE_ID}/keys",
        json={"roles": ["channel"]},
        headers=ADMIN,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    return {"id": made.json()["id"], "key": made.json()["key"]}


def revoke(url: str, key_id: str) -> None:
    revoked = httpx.delete(
        f"{url}/v1/workspaces/{DEMO_WORKSPACE_ID}/keys/{key_id}", headers=ADMIN, timeout=60
    )
    assert revoked.status_code == 200, revoked.text


def test_a_key_revoked_elsewhere_is_refused_after_the_window_and_at_once_where_revoked(
    replicas: list[str],
) -> None:
    a, b = replicas
    warm(a, b)
    key = new_channel_key(b)
    bearer = {"Authorization": f"Bearer {key['key']}"}
    # A key created a moment ago works at once on the other replica (nothing kept for it).
    read_at = time.monotonic()
    assert post(a, bearer, contact="c-a").status_code == 200
    assert post(b, bearer, contact="c-b").status_code == 200  # B keeps it too

    revoke(b, key["id"])
    revoked_at = time.monotonic()
    # Where it was revoked: refused from the next request on.
    refused = post(b, bearer, contact="c-b")
    assert refused.status_code == 401, refused.text
    # Elsewhere: still accepted while the window lasts...
    answer = post(a, bearer, contact="c-a")
    inside_window(read_at)
    assert answer.status_code == 200, "the key read was not kept for the window"
    # ...and refused once it is over.
    wait_until(lambda: post(a, bearer, contact="c-a").status_code == 401, timeout=WINDOW + SLACK)
    assert time.monotonic() - revoked_at <= WINDOW + SLACK
    # The demo channel key, read by neither replica before, was never affected.
    assert post(a, CHANNEL, contact="c-demo").status_code == 200


def test_a_signing_secret_set_elsewhere_is_required_after_the_window(
    replicas: list[str],
) -> None:
    a, b = replicas
    warm(a, b)
    key = new_channel_key(b)  # read by neither replica yet: kept from the next request on
    bearer = {"Authorization": f"Bearer {key['key']}"}
    read_at = time.monotonic()
    assert post(a, bearer, contact="c-a").status_code == 200  # A keeps "no secret"
    assert post(b, bearer, contact="c-b").status_code == 200
    put = httpx.put(
        f"{b}/v1/workspaces/current/delivery",
        json={"signing_secret": "inbound-secret-0123456789"},
        headers=ADMIN,
        timeout=60,
    )
    assert put.status_code == 200, put.text
    set_at = time.monotonic()
    unsigned = post(b, bearer, contact="c-b")
    assert unsigned.status_code == 401 and HEADER in unsigned.json()["detail"], unsigned.text
    answer = post(a, bearer, contact="c-a")
    inside_window(read_at)
    assert answer.status_code == 200, "the delivery settings were not kept for the window"
    wait_until(lambda: post(a, bearer, contact="c-a").status_code == 401, timeout=WINDOW + SLACK)
    assert time.monotonic() - set_at <= WINDOW + SLACK
