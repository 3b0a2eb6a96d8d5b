"""The stored entries and the vector index never disagree, even when one of them fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN, ClientFactory

ENTRY = {"question": "Opening hours on Tet?", "answer": "Closed for Tet.", "language": "en"}


class FailingUpsert:
    """Wraps the real index; every upsert writes half of its batch, then fails."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def upsert(self, workspace_id: str, entries: list[Any]) -> None:
        self.real.upsert(workspace_id, entries[: len(entries) // 2])
        raise RuntimeError("chroma is down")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_failed_indexing_leaves_nothing_in_the_database_or_the_index(
    make_client: ClientFactory,
) -> None:
    with make_client() as client:
        knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
        before_db = client.get("/v1/knowledge/entries", headers=ADMIN).json()["total"]
        before_index = knowledge.index.count("ws_demo")
        knowledge.index = FailingUpsert(knowledge.index)
        rows = [{**ENTRY, "question": f"Q{i}"} for i in range(4)]
        report = client.post("/v1/knowledge/import", json={"entries": rows}, headers=ADMIN).json()
        assert report["created"] == 0 and len(report["errors"]) == 4
        single = client.post("/v1/knowledge/entries", json=ENTRY, headers=ADMIN)
        assert single.status_code == 503 and "nothing was stored" in single.json()["detail"]
        knowledge.index = knowledge.index.real
        assert client.get("/v1/knowledge/entries", headers=ADMIN).json()["total"] == before_db
        assert knowledge.index.count("ws_demo") == before_index


def test_failed_commit_leaves_nothing_in_the_index(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_client() as client:
        knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
        before_index = knowledge.index.count("ws_demo")
        entry = client.post("/v1/knowledge/entries", json=ENTRY, headers=ADMIN).json()

        async def broken_commit(self: AsyncSession) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(AsyncSession, "commit", broken_commit)
        with pytest.raises(RuntimeError, match="disk full"):
            client.post("/v1/knowledge/import", json={"entries": [ENTRY]}, headers=ADMIN)
        with pytest.raises(RuntimeError, match="disk full"):
            client.put(
                f"/v1/knowledge/entries/{entry['id']}", json={"answer": "Open"}, headers=ADMIN
            )
        with pytest.raises(RuntimeError, match="disk full"):
            client.delete(f"/v1/knowledge/entries/{entry['id']}", headers=ADMIN)
        monkeypatch.undo()
        assert knowledge.index.count("ws_demo") == before_index + 1
        hits = client.post(
            "/v1/knowledge/search", json={"query": "Opening hours on Tet?", "k": 1}, headers=ADMIN
        ).json()["results"]
        assert hits[0]["id"] == entry["id"] and hits[0]["answer"] == "Closed for Tet."
