"""The vector index over knowledge entries: one Chroma collection per workspace.

An embedded Chroma (a directory, no ``chroma_host``) keeps each collection's nearest-neighbour
graph in the memory of the process that opened it. Another process writing to the same
directory (``agent-service kb import``, a second server) appends to the directory's log, but
this process's searches do not read that log: they keep answering from the graph as it was
loaded, and a filtered search can even fail on an id it has metadata for and no vector.
``refresh`` reopens the directory so the graph is loaded anew; the store calls it when the
knowledge revision in the database moved (a change by anyone), never per search. A Chroma
server (``chroma_host``) is one process for every client: ``refresh`` does nothing there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import chromadb
from chromadb.errors import ChromaError
from langchain_chroma import Chroma

from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings

NO_EXPIRY = 99991231


def date_key(day: date | None) -> int:
    """Dates as sortable integers (YYYYMMDD) so Chroma can filter on them."""
    return NO_EXPIRY if day is None else day.year * 10000 + day.month * 100 + day.day


@dataclass(frozen=True)
class IndexedEntry:
    id: str
    question: str
    answer: str
    language: str
    valid_until: date | None
    vectors: bytes | None = None  # the stored representations (representations.py)


@dataclass(frozen=True)
class Hit:
    """A retrieved knowledge entry and its cosine similarity to the query."""

    id: str
    score: float
    question: str
    answer: str
    language: str
    # Fused retrieval: the BM25 score scaled to [0, 1] among the entries, and the fused rank
    # score scaled to [0, 1] (1: first by every signal). They set the order; ``score`` stays the
    # best cosine similarity of the entry's representations.
    keyword_score: float | None = None
    fused_score: float | None = None


class KnowledgeIndex:
    """Chroma collections named after workspaces, so one workspace never sees another's."""

    def __init__(self, settings: Settings, embeddings: QueryEmbeddings) -> None:
        self.embedded = not settings.chroma_host
        self._settings = settings
        self._opened: Any = None
        self._open_lock = threading.Lock()
        self._embeddings = embeddings
        self._stores: dict[str, Chroma] = {}
        self._lock = threading.Lock()
        # Calls share the client; a refresh waits for them and holds new ones back meanwhile.
        self._calls = _SharedOrExclusive()

    def refresh(self) -> None:
        """Embedded Chroma: reopen the directory, so what other processes wrote is searched.

        Closing the client releases chromadb's one system per directory in this process (its
        last client), so the next client loads the directory as it is now (tens of ms).
        """
        if not self.embedded:
            return
        with self._calls.exclusive():
            with self._lock, self._open_lock:
                self._stores.clear()
                old, self._opened = self._opened, None
            if old is not None:
                with contextlib.suppress(Exception):
                    old.close()
            self.open()

    def open(self) -> Any:
        """The Chroma client, made on first use. A local client sets up Chroma's own files,
        which two processes on one directory must not do at once: the service opens it under
        its start-up lock (db/startup_lock.py)."""
        with self._open_lock:
            if self._opened is None:
                settings = self._settings
                if settings.chroma_host:
                    self._opened = chromadb.HttpClient(
                        host=settings.chroma_host, port=settings.chroma_port
                    )
                else:
                    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                    self._opened = chromadb.PersistentClient(path=str(settings.chroma_dir))
            return self._opened

    @property
    def _client(self) -> Any:
        return self.open()

    def _store(self, workspace_id: str) -> Chroma:
        with self._lock:
            store = self._stores.get(workspace_id)
            if store is None:
                store = Chroma(
                    collection_name=f"kb_{workspace_id}",
                    embedding_function=self._embeddings,
                    client=self._client,
                    collection_metadata={"hnsw:space": "cosine"},
                )
                self._stores[workspace_id] = store
            return store

    def upsert(self, workspace_id: str, entries: list[IndexedEntry]) -> None:
        if not entries:
            return
        texts = [f"{e.question}\n{e.answer}" for e in entries]
        metadatas: list[dict[str, Any]] = [
            {
                "question": e.question,
                "answer": e.answer,
                "language": e.language,
                "valid_until": date_key(e.valid_until),
            }
            for e in entries
        ]
        ids = [e.id for e in entries]
        vectors = self._embeddings.embed_documents(texts)
        with self._calls.shared():
            self._store(workspace_id)._collection.upsert(
                ids=ids,
                embeddings=vectors,  # type: ignore[arg-type]
                documents=texts,
                metadatas=metadatas,  # type: ignore[arg-type]
            )

    def copy_entries(self, source: str, target: str, id_map: dict[str, str]) -> None:
        """Copy entries with their stored vectors into another workspace (no re-embedding)."""
        if not id_map:
            return
        with self._calls.shared():
            got = self._store(source)._collection.get(
                ids=list(id_map), include=["embeddings", "documents", "metadatas"]
            )
            self._store(target)._collection.upsert(
                ids=[id_map[i] for i in got["ids"]],
                embeddings=got["embeddings"],
                documents=got["documents"],
                metadatas=got["metadatas"],
            )

    def delete(self, workspace_id: str, ids: list[str]) -> None:
        if ids:
            with self._calls.shared():
                self._store(workspace_id).delete(ids=ids)

    def clear(self, workspace_id: str) -> None:
        """Drop the workspace's whole collection (before a re-index)."""
        with self._calls.shared():
            with self._lock:
                self._stores.pop(workspace_id, None)
            with contextlib.suppress(Exception):  # a missing collection is already clear
                self._client.delete_collection(f"kb_{workspace_id}")

    def count(self, workspace_id: str) -> int:
        with self._calls.shared():
            return int(self._store(workspace_id)._collection.count())

    def nearest(
        self, workspace_id: str, vector: list[float], k: int, valid_on: date | None = None
    ) -> list[tuple[str, float]]:
        """The ids of the k entries nearest to ``vector`` and their cosine similarities, best
        first; with ``valid_on``, only entries still valid on that day.

        Ids and distances only: the entries' text comes from the database snapshot
        (snapshot.py). Chroma's metadata filter triples the cost of a search, so callers filter
        expired entries themselves and ask for ``valid_on`` only when one crowded the results.
        """
        where: Any = {"valid_until": {"$gte": date_key(valid_on)}} if valid_on else None
        query: list[Sequence[float]] = [vector]

        def search() -> Any:
            with self._calls.shared():
                return self._store(workspace_id)._collection.query(
                    query_embeddings=query, n_results=k, where=where, include=["distances"]
                )

        try:
            result = search()
        except ChromaError:
            if not self.embedded:
                raise
            # Another process's write reached the directory's log between two revisions
            # (its commit is still to come): this graph lacks an id the filter found.
            self.refresh()
            result = search()
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(str(i), round(1.0 - float(d), 4)) for i, d in zip(ids, distances, strict=True)]


class _SharedOrExclusive:
    """Many holders at once, or one exclusive holder (who waits for the others to leave and
    keeps new ones waiting meanwhile)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive)
            self._holders += 1
        try:
            yield
        finally:
            with self._changed:
                self._holders -= 1
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._changed.wait_for(lambda: self._holders == 0)
        try:
            yield
        finally:
            with self._changed:
                self._exclusive = False
                self._changed.notify_all()
