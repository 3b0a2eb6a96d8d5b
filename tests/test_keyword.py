"""The keyword side of hybrid retrieval: tokens for spaced and unspaced scripts."""

from __future__ import annotations

from dataclasses import dataclass

from agent_service.knowledge_base.keyword import KeywordIndex, tokenize


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


def test_scores_are_scaled_to_the_best_candidate_and_follow_the_stamp() -> None:
    index = KeywordIndex()
    entries = [
        Entry("a", "Peel da bao nhiêu tiền?", "Peel da 900.000 VND."),
        Entry("b", "Giờ mở cửa?", "9h đến 21h."),
        Entry("c", "Có chỗ gửi xe không?", "Có, ở tầng hầm."),
        Entry("d", "Đặt lịch thế nào?", "Nhắn tin cho chúng tôi."),
    ]
    index.build("ws", entries, "4:t1")
    assert index.has("ws", "4:t1") and not index.has("ws", "3:t2")
    scores = index.scores("ws", "peel da tri tham bao nhieu tien", ["a", "b"])
    assert scores["a"] == 1.0 and scores["b"] < scores["a"]
    assert index.scores("ws", "", ["a"]) == {}
    index.forget("ws")
    assert not index.has("ws", "4:t1")
