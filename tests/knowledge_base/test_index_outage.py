"""An index that does not answer neither loses knowledge nor fails a turn.

The fast companion of tests/reliability/test_retrieval_faults.py (which stops and kills a real
Chroma server): here the index is the service's own, made unreachable by a wrapper.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN, CHANNEL, ClientFactory, message
from tests.reliability.harness import wait_until

NEW = {
    "question": "Do you have a car park at the Bangsar branch?",
    "answer": "Yes: 20 free parking bays behind the Bangsar branch, ask reception for a token.",
    "language": "en",
}


CHROMA_CALLS = {"upsert", "delete", "nearest", "contents", "count", "clear", "copy_entries"}


class UnreachableIndex:
    """Wraps the real index; while ``down``, every Chroma call raises what chromadb's HTTP
    client raises when the server refuses connections."""

    def __init__(self, real: Any) -> None:
        self.real, self.down = real, True

    def _refused(self, *args: Any) -> None:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    def __getattr__(self, name: str) -> Any:
        if self.down and name in CHROMA_CALLS:
            return self._refused
        return getattr(self.real, name)


def test_changes_while_the_index_is_down_are_stored_and_reach_it_when_it_is_back(
    make_client: ClientFactory,
) -> None:
    with make_client(index_breaker_cooldown_seconds=0, index_sync_seconds=0.1) as client:
        knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
        index = UnreachableIndex(knowledge.index)
        knowledge.index = index
        gone = client.get("/v1/knowledge/entries?limit=1", headers=ADMIN).json()["items"][0]

        created = client.post("/v1/knowledge/entries", json=NEW, headers=ADMIN)
        assert created.status_code == 201, created.text
        deleted = client.delete(f"/v1/knowledge/entries/{gone['id']}", headers=ADMIN)
        assert deleted.status_code == 204, deleted.text

        # A turn answers from the stored entries, the new one included, and says why.
        answer = client.post(
            "/v1/messages", json=message(NEW["question"], contact="c-outage"), headers=CHANNEL
        ).json()
        assert answer["retrieval"]["status"] in ("unavailable", "circuit_open")
        assert answer["retrieval"]["source"] == "database"
        assert "parking bays" in answer["reply"]["text"]

        index.down = False  # back: the catch-up sends what it missed, without a restart
        wait_until(lambda: created.json()["id"] in index.real.contents("ws_demo"))
        wait_until(lambda: gone["id"] not in index.real.contents("ws_demo"))
        again = client.post(
            "/v1/messages", json=message(NEW["question"], contact="c-back"), headers=CHANNEL
        ).json()
        assert again["retrieval"] == {"status": "ok", "source": "index", "detail": None}
        assert "parking bays" in again["reply"]["text"]
