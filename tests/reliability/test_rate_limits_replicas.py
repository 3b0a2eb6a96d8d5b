"""Rate limits hold across replicas: two `agent-service serve` processes on one database let a
contact and a workspace through at their limit, not twice it, and never refuse a repeat.

Each backend runs two real server processes (SQLite: one data directory; PostgreSQL: one
database of its own, skipped unless AGENT_SERVICE_TEST_POSTGRES_URL is set). The buckets are
tiny (a contact may send 3, the workspace 8, refilling one token in ~17 minutes), so whatever
passes, passes on the burst alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CHANNEL, message
from tests.processes import two_replicas

CONTACT_BURST, WORKSPACE_BURST = 3, 8
LIMITS = {
    "AGENT_SERVICE_CONTACT_BURST": str(CONTACT_BURST),
    "AGENT_SERVICE_CONTACT_RATE_PER_SECOND": "0.001",
    "AGENT_SERVICE_WORKSPACE_BURST": str(WORKSPACE_BURST),
    "AGENT_SERVICE_WORKSPACE_RATE_PER_SECOND": "0.001",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Two server processes on one database (started one after the other)."""
    with two_replicas(request, tmp_path, **LIMITS) as urls:
        yield urls


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/messages", json=body, headers=CHANNEL, timeout=120)


def assert_refused(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 429, response.text
    assert scope in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 1000


def test_limits_hold_across_two_replicas_and_never_refuse_a_repeat(replicas: list[str]) -> None:
    a, b = replicas

    # One contact floods, alternating between the replicas: 3 pass in all, not 3 on each.
    flood = [message(f"hello {i}", contact="c-flood") for i in range(8)]
    answers = [post(replicas[i % 2], body) for i, body in enumerate(flood)]
    codes = [r.status_code for r in answers]
    assert codes == [200] * CONTACT_BURST + [429] * (len(flood) - CONTACT_BURST), codes
    for refused in answers[CONTACT_BURST:]:
        assert_refused(refused, "contact")

    # A repeat of an accepted message, to either replica, is answered from the record
    # although the contact's bucket is empty.
    for i in range(CONTACT_BURST):
        for url in (a, b):
            again = post(url, flood[i])
            assert again.status_code == 200, again.text
            assert again.json() == answers[i].json()

    # New contacts race for the workspace's last 5 tokens on both replicas at once.
    left = WORKSPACE_BURST - CONTACT_BURST
    bodies = [message("hi", contact=f"c-ws{i}") for i in range(2 * left)]
    with ThreadPoolExecutor(len(bodies)) as pool:
        results = list(pool.map(lambda ib: post(replicas[ib[0] % 2], ib[1]), enumerate(bodies)))
    accepted = [body for body, r in zip(bodies, results, strict=True) if r.status_code == 200]
    refused = [body for body, r in zip(bodies, results, strict=True) if r.status_code != 200]
    assert len(accepted) == left, [r.status_code for r in results]
    for response in results:
        if response.status_code != 200:
            assert_refused(response, "workspace")
    # A refused first message stored nothing, not even its contact.
    for body in refused:
        contact = httpx.get(f"{a}/v1/contacts/{body['contact']['id']}", headers=CHANNEL)
        assert contact.status_code == 404, contact.text

    # The workspace is out of tokens: repeats still pass, on both replicas; new messages not.
    for url in (a, b):
        for body in (accepted[0], flood[0]):
            assert post(url, body).status_code == 200
    assert_refused(post(b, message("one more", contact="c-new")), "workspace")
