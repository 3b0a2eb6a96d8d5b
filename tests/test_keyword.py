"""The keyword side of hybrid retrieval: tokens for spaced and unspaced scripts."""

from __future__ import annotations

from dataclasses import dataclass

from agent_service.knowledge_base.keyword import KeywordScorer, tokenize


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
