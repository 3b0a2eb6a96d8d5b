"""The vector index over knowledge entries: one Chroma collection per workspace.

A Chroma server can stall (stopped, overloaded) or be down. Its client has no timeout of its
own, so one is set on its HTTP session, and every call runs in the index's own small thread
pool (``call``): a stalled server holds at most those threads, never the ones that embed the
customers' messages. A server that cannot be reached raises ``IndexUnreachable``; the store
(store.py) then answers from the database and lets the index catch up later.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import chromadb
import httpx
from langchain_chroma import Chroma

from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings
from agent_service.schemas.retrieval import RetrievalStatus

T = TypeVar("T")
# The longest wait for a connection to the Chroma server: a refused or unroutable one is down.
CONNECT_TIMEOUT_SECONDS = 2.0

NO_EXPIRY = 99991231


def date_key(day: date | None) -> int:
    """Dates as sortable integers (YYYYMMDD) so Chroma can filter on them."""
    return NO_EXPIRY if day is None else day.year * 10000 + day.month * 100 + day.day


class IndexUnreachable(RuntimeError):
    """The vector index did not answer: it timed out, could not be reached, or its circuit is
    open. ``status`` says which (schemas/retrieval.py)."""

    def __init__(self, status: RetrievalStatus, detail: str) -> None:
        super().__init__(detail)
        self.status: RetrievalStatus = status


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
        self._settings = settings
        self._client_instance: Any = None
        if not settings.chroma_host:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self._client_instance = chromadb.PersistentClient(path=str(settings.chroma_dir))
        self._embeddings = embeddings
        self._stores: dict[str, Chroma] = {}
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(
            max_workers=settings.chroma_threads, thread_name_prefix="chroma"
        )

    @property
    def where(self) -> str:
        """The index's address, for logs."""
        s = self._settings
        return f"chroma {s.chroma_host}:{s.chroma_port}" if s.chroma_host else "chroma (local)"

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one of this index's methods in its own threads; a server that cannot be
        reached or does not answer in ``chroma_timeout_seconds`` raises ``IndexUnreachable``."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, functools.partial(fn, *args))
        except httpx.TimeoutException as exc:
            raise IndexUnreachable("timeout", f"{self.where} did not answer: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise IndexUnreachable("unavailable", f"{self.where} unreachable: {exc!r}") from exc

    @property
    def _client(self) -> Any:
        """The Chroma client, connected on first use: a server that is down when the service
        starts does not stop the service from starting."""
        with self._lock:
            if self._client_instance is None:
                s = self._settings
                try:
                    client = chromadb.HttpClient(host=s.chroma_host or "", port=s.chroma_port)
                except ValueError as exc:  # chromadb's way of saying the server is not there
                    raise IndexUnreachable("unavailable", f"{self.where}: {exc}") from exc
                _set_timeout(client, s.chroma_timeout_seconds)
                self._client_instance = client
            return self._client_instance

    def _store(self, workspace_id: str) -> Chroma:
        client = self._client
        with self._lock:
            store = self._stores.get(workspace_id)
            if store is None:
                store = Chroma(
                    collection_name=f"kb_{workspace_id}",
                    embedding_function=self._embeddings,
                    client=client,
                    collection_metadata={"hnsw:space": "cosine"},
                )
                self._stores[workspace_id] = store
            return store

    def heartbeat(self) -> None:
        """One round trip to the index (raises when it does not answer)."""
        self._client.heartbeat()

    def contents(self, workspace_id: str) -> dict[str, tuple[str, str, str, int]]:
        """What the index holds for the workspace: each id's question, answer, language and
        expiry key, to compare with the stored entries (``stamp``)."""
        got = self._store(workspace_id)._collection.get(include=["metadatas"])
        return {
            str(i): (
                str(m.get("question", "")),
                str(m.get("answer", "")),
                str(m.get("language", "")),
                int(m.get("valid_until", NO_EXPIRY)),  # type: ignore[arg-type]
            )
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        }

    def upsert(self, workspace_id: str, entries: list[IndexedEntry]) -> None:
        if not entries:
            return
        store = self._store(workspace_id)
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
        store._collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)  # type: ignore[arg-type]

    def copy_entries(self, source: str, target: str, id_map: dict[str, str]) -> None:
        """Copy entries with their stored vectors into another workspace (no re-embedding)."""
        if not id_map:
            return
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
            self._store(workspace_id).delete(ids=ids)

    def clear(self, workspace_id: str) -> None:
        """Drop the workspace's whole collection (before a re-index)."""
        client = self._client
        with self._lock:
            self._stores.pop(workspace_id, None)
        try:
            client.delete_collection(f"kb_{workspace_id}")
        except httpx.TransportError:
            raise  # the server did not answer: nothing was cleared
        except Exception:
            return  # a missing collection is already clear

    def count(self, workspace_id: str) -> int:
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
        result = self._store(workspace_id)._collection.query(
            query_embeddings=query, n_results=k, where=where, include=["distances"]
        )
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(str(i), round(1.0 - float(d), 4)) for i, d in zip(ids, distances, strict=True)]


def stamp(entry: IndexedEntry) -> tuple[str, str, str, int]:
    """What the index must hold for ``entry`` (compared with ``KnowledgeIndex.contents``)."""
    return (entry.question, entry.answer, entry.language, date_key(entry.valid_until))


def _set_timeout(client: Any, seconds: float) -> None:
    """chromadb's HTTP client waits forever (``httpx.Client(timeout=None)``); give it a limit."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError("this chromadb client has no HTTP session to set a timeout on")
    session.timeout = httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))
