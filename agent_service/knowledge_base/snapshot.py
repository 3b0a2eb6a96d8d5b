"""A workspace's knowledge as stored at one revision: what a search reads besides Chroma.

Chroma answers which entry ids are nearest to the query's dense vector. The entries themselves
(text, language, expiry), their other representations (the question's dense vector, sparse
vectors) and the keyword (BM25) index come from this in-memory snapshot of the database, the
source of truth. It is stamped with the workspace's knowledge revision, which a database
trigger moves on every change of an entry, by any process, so a search never uses a snapshot
older than the entries.

Asking Chroma for ids and distances only is what makes this worth it: fetching the stored
metadata of 40 candidates costs more than the nearest-neighbour search itself (docs/performance.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from agent_service.knowledge_base.index import Hit, IndexedEntry
from agent_service.knowledge_base.keyword import KeywordScorer
from agent_service.knowledge_base.representations import EntryVectors, SparseVector

# The signals retrieval can fuse (docs/retrieval.md); "dense" is Chroma's.
SIGNALS = ("dense", "dense_question", "sparse", "sparse_question", "keyword")
SPARSE_SIGNALS = frozenset({"sparse", "sparse_question"})


@dataclass(frozen=True)
class QuerySignals:
    """One query in every form a signal scores: text, dense vector, sparse vector."""

    text: str | None
    vector: np.ndarray[Any, Any]
    sparse: SparseVector | None


@dataclass(frozen=True)
class _SparseRows:
    """Sparse vectors of n entries, flattened: each nonzero's row, column and value."""

    rows: np.ndarray[Any, Any]
    columns: np.ndarray[Any, Any]
    values: np.ndarray[Any, Any]
    count: int
    width: int

    def dot(self, query: SparseVector) -> np.ndarray[Any, Any]:
        """Each entry's dot product with the sparse ``query``."""
        indices, values = query
        lookup = np.zeros(self.width, dtype=np.float32)
        lookup[indices] = values
        products = self.values * lookup[self.columns]
        return np.bincount(self.rows, weights=products, minlength=self.count)


@dataclass(frozen=True)
class _Matrices:
    dense_question: np.ndarray[Any, Any]  # (n, dim)
    sparse_question: _SparseRows | None
    sparse_text: _SparseRows | None


@dataclass(frozen=True)
class KnowledgeSnapshot:
    revision: str
    entries: Mapping[str, IndexedEntry]
    keywords: KeywordScorer | None
    order: tuple[str, ...] = ()  # entry ids, the rows of the matrices
    matrices: _Matrices | None = None

    def hits(self, nearest: Sequence[tuple[str, float]], today: date) -> tuple[list[Hit], bool]:
        """The stored entries among ``nearest`` (id, similarity) that are still valid on
        ``today``, in order; and whether an expired one was dropped.

        An id the snapshot lacks is skipped: the index can briefly hold an entry whose
        transaction has not committed (or failed), and only stored entries are answered from.
        """
        found: list[Hit] = []
        expired = False
        for entry_id, score in nearest:
            entry = self.entries.get(entry_id)
            if entry is None:
                continue
            if _expired(entry, today):
                expired = True
                continue
            found.append(Hit(entry.id, score, entry.question, entry.answer, entry.language))
        return found, expired

    def fuse(
        self,
        dense_hits: list[Hit],
        query: QuerySignals,
        signals: Sequence[str],
        k: int,
        today: date,
        fusion: str = "zscore",
        rrf_k: int = 60,
    ) -> list[Hit]:
        """The ``k`` best valid entries by a fusion of ``signals`` that no one signal's scale
        can dominate (docs/retrieval.md).

        ``zscore``: each signal's scores are standardised over the workspace's valid entries
        (mean 0, deviation 1) and summed, so a signal counts by how far an entry stands out
        from the rest, not by its raw scale. ``rrf``: the sum of 1 / (rrf_k + rank) (Cormack
        et al., 2009). Chroma's dense scores cover its candidate pool; entries outside it take
        the pool's lowest. ``score`` stays a cosine similarity: the entry's best dense match;
        ``fused_score`` is the fused value divided by the number of signals.
        """
        if not self.order or self.matrices is None:
            return dense_hits[:k]
        valid = np.array([not _expired(self.entries[i], today) for i in self.order])
        rows = {entry_id: row for row, entry_id in enumerate(self.order)}
        dense = np.full(len(self.order), np.nan)
        for hit in dense_hits:
            if (row := rows.get(hit.id)) is not None:
                dense[row] = hit.score
        pool_floor = np.nanmin(dense) if np.isfinite(dense).any() else 0.0
        same_model = self.matrices.dense_question.shape[1] == len(query.vector)
        question_cosine = (
            self.matrices.dense_question @ query.vector
            if same_model  # else stored by another embedding model: `kb reindex` renews them
            else np.full(len(self.order), -1.0)
        )
        keyword: dict[str, float] = {}
        fused = np.zeros(len(self.order))
        for signal in signals:
            scores: np.ndarray[Any, Any] | None = None
            if signal == "dense":
                scores = np.where(np.isnan(dense), pool_floor, dense)
            elif signal == "dense_question" and same_model:
                scores = question_cosine
            elif signal in SPARSE_SIGNALS and query.sparse is not None:
                matrix = (
                    self.matrices.sparse_question
                    if signal == "sparse_question"
                    else self.matrices.sparse_text
                )
                if matrix is not None:
                    scores = matrix.dot(query.sparse)
            elif signal == "keyword" and self.keywords is not None and query.text:
                keyword = self.keywords.scores(query.text, list(self.order))
                scores = np.array([keyword.get(i, 0.0) for i in self.order])
            if scores is None:
                continue
            if fusion == "rrf":
                fused += _reciprocal_ranks(scores, valid, rrf_k)
            else:
                fused += _standardised(scores, valid)
        fused[~valid] = -np.inf
        best = np.argsort(-fused, kind="stable")[:k]
        found: list[Hit] = []
        for row in best:
            if not np.isfinite(fused[row]):
                break
            entry = self.entries[self.order[row]]
            cosine = max(float(np.nan_to_num(dense[row], nan=-1.0)), float(question_cosine[row]))
            found.append(
                Hit(
                    entry.id,
                    round(cosine, 4),
                    entry.question,
                    entry.answer,
                    entry.language,
                    keyword_score=round(keyword[entry.id], 4) if entry.id in keyword else None,
                    fused_score=round(float(fused[row]) / len(signals), 4),
                )
            )
        return found


def _expired(entry: IndexedEntry, today: date) -> bool:
    return entry.valid_until is not None and entry.valid_until < today


def _reciprocal_ranks(
    scores: np.ndarray[Any, Any], valid: np.ndarray[Any, Any], rrf_k: int
) -> np.ndarray[Any, Any]:
    """1 / (rrf_k + rank) of each valid entry with a positive score; 0 for the others."""
    masked = np.where(valid & (scores > 0), scores, -np.inf)
    order = np.argsort(-masked, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    result: np.ndarray[Any, Any] = np.where(np.isfinite(masked), 1.0 / (rrf_k + ranks), 0.0)
    return result


def _standardised(
    scores: np.ndarray[Any, Any], valid: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Scores as standard deviations from the mean of the valid entries (0 when all tie)."""
    values = scores[valid]
    if len(values) == 0:
        return np.zeros_like(scores)
    spread = float(values.std())
    if spread <= 1e-9:
        return np.zeros_like(scores)
    result: np.ndarray[Any, Any] = (scores - float(values.mean())) / spread
    return result


def _sparse_rows(vectors: Sequence[SparseVector | None], width: int) -> _SparseRows | None:
    present = [v for v in vectors if v is not None]
    if not vectors or len(present) < len(vectors) or width <= 0:
        return None
    return _SparseRows(
        rows=np.concatenate(
            [np.full(len(ix), row, dtype=np.int64) for row, (ix, _) in enumerate(present)]
        ),
        columns=np.concatenate([ix for ix, _ in present]).astype(np.int64),
        values=np.concatenate([v for _, v in present]).astype(np.float32),
        count=len(present),
        width=width,
    )


def build_snapshot(
    revision: str,
    entries: Sequence[IndexedEntry],
    keywords: bool,
    vectors: Mapping[str, EntryVectors] | None = None,
    sparse_width: int = 0,
) -> KnowledgeSnapshot:
    """Index the entries by id; with ``vectors``, stack the representations into matrices, and
    tokenize the entries for BM25 when ``keywords`` (slow: call from a thread)."""
    matrices = None
    order: tuple[str, ...] = ()
    if vectors is not None and entries and all(e.id in vectors for e in entries):
        order = tuple(e.id for e in entries)
        stacked = [vectors[i] for i in order]
        matrices = _Matrices(
            dense_question=np.stack([v.dense_question for v in stacked]),
            sparse_question=_sparse_rows([v.sparse_question for v in stacked], sparse_width),
            sparse_text=_sparse_rows([v.sparse_text for v in stacked], sparse_width),
        )
    return KnowledgeSnapshot(
        revision=revision,
        entries={e.id: e for e in entries},
        keywords=KeywordScorer(entries) if keywords and entries else None,
        order=order,
        matrices=matrices,
    )


class KnowledgeSnapshots:
    """The newest snapshot per workspace, for the ``most`` workspaces searched last (a process
    serving many workspaces keeps the busy ones); used from the event loop only."""

    def __init__(self, most: int = 128) -> None:
        self._by_workspace: OrderedDict[str, KnowledgeSnapshot] = OrderedDict()
        self._most = most

    def current(
        self, workspace_id: str, revision: str, keywords: bool, fused: bool = False
    ) -> KnowledgeSnapshot | None:
        """The workspace's snapshot if it was taken at ``revision`` (with BM25 and the
        representations if asked)."""
        snapshot = self._by_workspace.get(workspace_id)
        if snapshot is None or snapshot.revision != revision:
            return None
        if snapshot.entries and (
            (keywords and snapshot.keywords is None) or (fused and snapshot.matrices is None)
        ):
            return None
        self._by_workspace.move_to_end(workspace_id)
        return snapshot

    def keep(self, workspace_id: str, snapshot: KnowledgeSnapshot) -> None:
        self._by_workspace[workspace_id] = snapshot
        self._by_workspace.move_to_end(workspace_id)
        while len(self._by_workspace) > self._most:
            self._by_workspace.popitem(last=False)  # the workspace searched longest ago

    def forget(self, workspace_id: str) -> None:
        self._by_workspace.pop(workspace_id, None)
