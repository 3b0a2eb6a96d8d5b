"""The vector index over knowledge entries: one Chroma collection per workspace.

An embedded Chroma (a directory, no ``chroma_host``) keeps each collection's nearest-neighbour
graph in the memory of the process that opened it. Another process writing to the same
directory (``agent-service kb import``, a second server) appends to the directory's log, but
this process's searches do not read that log: they keep answering from the graph as it was
loaded, and a filtered search can even fail on an id it has metadata for and no vector.
``refresh`` reopens the directory so the graph is loaded anew; the store calls it when the
knowledge revision in the database moved (a change by anyone), never per search. A Chroma
server (``chroma_host``) is one process for every client: ``refresh`` does nothing there.

A Chroma server can stall (stopped, overloaded) or be down. Its client has no timeout of its
own, so one is set on its HTTP session, and every call runs in the index's own small thread
pool (``call``): a stalled server holds at most those threads, never the ones that embed the
customers' messages. A server that cannot be reached raises ``IndexUnreachable``; the store
(store.py) then answers from the database and lets the index catch up later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import chromadb
import httpx
from chromadb.errors import ChromaError
from langchain_chroma import Chroma

from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings
from agent_service.knowledge_base.representations import unpack
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
        self.embedded = not settings.chroma_host
        self._settings = settings
        self._opened: Any = None
        self._open_lock = threading.Lock()
        self._embeddings = embeddings
        self._stores: dict[str, Chroma] = {}
        self._lock = threading.Lock()
        # Calls share the client; a refresh waits for them and holds new ones back meanwhile.
        self._calls = _SharedOrExclusive()
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
                    # Connected on first use: a server that is down when the service starts
                    # does not stop the service from starting.
                    try:
                        client = chromadb.HttpClient(
                            host=settings.chroma_host, port=settings.chroma_port
                        )
                    except ValueError as exc:  # chromadb's way of saying the server is not there
                        raise IndexUnreachable("unavailable", f"{self.where}: {exc}") from exc
                    _set_timeout(client, settings.chroma_timeout_seconds)
                    self._opened = client
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

    def heartbeat(self) -> None:
        """One round trip to the index (raises when it does not answer)."""
        self._client.heartbeat()

    def contents(self, workspace_id: str) -> dict[str, tuple[str, str, str, int]]:
        """What the index holds for the workspace: each id's question, answer, language and
        expiry key, to compare with the stored entries (``stamp``)."""
        with self._calls.shared():
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
        """Write entries with their dense vectors: the one stored with the entry when it has
        one of this model's dimension (representations.py), else computed now."""
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
        vectors = [_stored_vector(e) for e in entries]
        if any(v is not None for v in vectors):
            dim = self._embeddings.dimension()
            vectors = [v if v is not None and len(v) == dim else None for v in vectors]
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            fresh = self._embeddings.embed_documents([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                vectors[i] = vector
        with self._calls.shared():
            self._store(workspace_id)._collection.upsert(
                ids=ids,
                embeddings=vectors,
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


def _stored_vector(entry: IndexedEntry) -> Any:
    vectors = unpack(entry.vectors)
    return None if vectors is None or vectors.dense_text is None else vectors.dense_text.tolist()


def stamp(entry: IndexedEntry) -> tuple[str, str, str, int]:
    """What the index must hold for ``entry`` (compared with ``KnowledgeIndex.contents``)."""
    return (entry.question, entry.answer, entry.language, date_key(entry.valid_until))


def _set_timeout(client: Any, seconds: float) -> None:
    """chromadb's HTTP client waits forever (``httpx.Client(timeout=None)``); give it a limit."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError("this chromadb client has no HTTP session to set a timeout on")
    session.timeout = httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))
