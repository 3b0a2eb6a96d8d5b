"""Entry representations survive storage, and fusion lets no single signal's scale dominate."""

from __future__ import annotations

from datetime import date

import numpy as np

from agent_service.knowledge_base.index import Hit, IndexedEntry
from agent_service.knowledge_base.representations import EntryVectors, unpack
from agent_service.knowledge_base.snapshot import QuerySignals, build_snapshot

TODAY = date(2026, 11, 25)


def _sparse(*pairs: tuple[int, float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([i for i, _ in pairs], np.int32), np.array([v for _, v in pairs], np.float32)


def test_packed_vectors_unpack_to_the_same_values() -> None:
    vectors = EntryVectors(
        np.array([0.6, 0.8, 0.0], np.float32), _sparse((3, 1.5), (9, 0.25)), None
    )
    back = unpack(vectors.pack())
    assert back is not None
    assert np.allclose(back.dense_question, vectors.dense_question, atol=1e-3)
    assert back.sparse_question is not None and back.sparse_text is None
    assert back.sparse_question[0].tolist() == [3, 9]
    assert np.allclose(back.sparse_question[1], [1.5, 0.25], atol=1e-3)
    assert unpack(b"") is None and unpack(None) is None
    assert unpack(b"\x07\x00\x03\x00") is None  # another format version: recomputed


def _entries(n: int, expired: int | None = None) -> list[IndexedEntry]:
    return [
        IndexedEntry(f"e{i}", f"q{i}", f"a{i}", "en", date(2026, 1, 1) if i == expired else None)
        for i in range(n)
    ]


def _snapshot(entries: list[IndexedEntry], sparse_weights: list[float]) -> object:
    vectors = {
        e.id: EntryVectors(np.array([1.0, 0.0], np.float32), _sparse((0, 1.0)), _sparse((0, w)))
        for e, w in zip(entries, sparse_weights, strict=True)
    }
    return build_snapshot("r1", entries, keywords=False, vectors=vectors, sparse_width=4)


def test_a_signal_that_stands_out_wins_over_small_dense_gaps() -> None:
    entries = _entries(5)
    # Dense cosines all within 0.02; the sparse signal singles out e3 by far.
    snapshot = _snapshot(entries, [0.1, 0.1, 0.1, 3.0, 0.1])
    dense = [Hit(f"e{i}", 0.90 - i * 0.005, f"q{i}", f"a{i}", "en") for i in range(5)]
    query = QuerySignals("q", np.array([1.0, 0.0], np.float32), _sparse((0, 1.0)))
    found = snapshot.fuse(dense, query, ("dense", "sparse"), 3, TODAY)  # type: ignore[attr-defined]
    assert found[0].id == "e3"
    assert found[0].score == 1.0  # the best cosine of the entry's representations
    assert found[0].fused_score is not None and found[0].fused_score > 0


def test_expired_entries_are_never_fused_in() -> None:
    entries = _entries(4, expired=2)
    snapshot = _snapshot(entries, [0.1, 0.1, 9.0, 0.1])
    dense = [Hit(f"e{i}", 0.9, f"q{i}", f"a{i}", "en") for i in (0, 1, 3)]
    query = QuerySignals("q", np.array([1.0, 0.0], np.float32), _sparse((0, 1.0)))
    found = snapshot.fuse(dense, query, ("dense", "sparse"), 4, TODAY)  # type: ignore[attr-defined]
    assert "e2" not in [h.id for h in found]
    assert len(found) == 3


def test_rank_fusion_is_the_other_choice() -> None:
    entries = _entries(3)
    snapshot = _snapshot(entries, [0.1, 2.0, 0.2])
    dense = [Hit("e1", 0.95, "q1", "a1", "en"), Hit("e0", 0.9, "q0", "a0", "en")]
    query = QuerySignals("q", np.array([1.0, 0.0], np.float32), _sparse((0, 1.0)))
    found = snapshot.fuse(dense, query, ("dense", "sparse"), 2, TODAY, "rrf")  # type: ignore[attr-defined]
    assert found[0].id == "e1"


def test_the_planner_quotes_a_dense_only_hit_on_its_cosine() -> None:
    from agent_service.agent.intents.detector import PlannerThresholds
    from agent_service.agent.offline_planner import confident

    thresholds = PlannerThresholds(0.84, 0.88, 0.015, answer_agreement=3.0)
    assert confident(Hit("e", 0.9, "q", "a", "en"), thresholds)  # dense only: no fused score
    assert not confident(Hit("e", 0.9, "q", "a", "en", fused_score=2.0), thresholds)
    assert confident(Hit("e", 0.9, "q", "a", "en", fused_score=3.2), thresholds)
    assert not confident(Hit("e", 0.8, "q", "a", "en", fused_score=3.2), thresholds)
