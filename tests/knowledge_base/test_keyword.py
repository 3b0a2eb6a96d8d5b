"""The keyword side of hybrid retrieval: tokens for spaced and unspaced scripts."""

from __future__ import annotations

from dataclasses import dataclass

from agent_service.knowledge_base.index import IndexedEntry
from agent_service.knowledge_base.keyword import KeywordScorer, tokenize
from agent_service.knowledge_base.snapshot import KnowledgeSnapshots, build_snapshot


@dataclass
class Entry:
    id: str
    question: str
    answer: str


def test_tokenize_folds_accents_and_splits_thai_into_ngrams() -> None:
    assert tokenize("Giá PEEL da") == ["gia", "peel", "da"]
    thai = tokenize("ราคาเท่าไหร่")
    assert "รา" in thai and "ราค" in thai and len(thai) == 2 * len("ราคาเท่าไหร่") - 3
    assert tokenize("facial ที่ KL") == ["ที", "ี่", "ที่", "facial", "kl"]


def test_scores_are_scaled_to_the_best_candidate() -> None:
    entries = [
        Entry("a", "Peel da bao nhiêu tiền?", "Peel da 900.000 VND."),
        Entry("b", "Giờ mở cửa?", "9h đến 21h."),
        Entry("c", "Có chỗ gửi xe không?", "Có, ở tầng hầm."),
        Entry("d", "Đặt lịch thế nào?", "Nhắn tin cho chúng tôi."),
    ]
    scorer = KeywordScorer(entries)
    scores = scorer.scores("peel da tri tham bao nhieu tien", ["a", "b", "unknown"])
    assert scores["a"] == 1.0 and scores["b"] < scores["a"] and "unknown" not in scores
    assert scorer.scores("", ["a"]) == {}
    assert scorer.scores("peel", ["unknown"]) == {}


def test_snapshots_keep_the_workspaces_searched_last() -> None:
    entries = [IndexedEntry("a", "Parking?", "Free after 6 pm.", "en", None)]
    snapshots = KnowledgeSnapshots(most=2)
    for workspace in ("ws1", "ws2"):
        snapshots.keep(workspace, build_snapshot("r1", entries, keywords=False))
    assert snapshots.current("ws1", "r1", keywords=False) is not None  # ws1 is now the newest
    assert snapshots.current("ws1", "r2", keywords=False) is None  # another revision
    assert snapshots.current("ws1", "r1", keywords=True) is None  # BM25 was not built
    snapshots.keep("ws3", build_snapshot("r1", entries, keywords=True))
    assert snapshots.current("ws2", "r1", keywords=False) is None  # dropped: searched longest ago
    assert snapshots.current("ws1", "r1", keywords=False) is not None
    assert snapshots.current("ws3", "r1", keywords=True) is not None
