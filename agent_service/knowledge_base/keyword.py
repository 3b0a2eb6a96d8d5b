"""A keyword (BM25) score over a workspace's entries, for hybrid retrieval.

Thai is written without spaces between words, so Thai runs become character bigrams and
trigrams; other scripts are split into words, folded so 'giá' matches 'gia'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from rank_bm25 import BM25Okapi

from agent_service.qualification.fields import fold

_THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")
_WORD = re.compile(r"\w+")


class _Entry(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...


def tokenize(text: str) -> list[str]:
    """Words for spaced scripts, character 2- and 3-grams for Thai runs."""
    folded = fold(text)
    tokens: list[str] = []
    for run in _THAI_RUN.findall(folded):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        tokens.extend(run[i : i + 3] for i in range(len(run) - 2))
    tokens.extend(_WORD.findall(_THAI_RUN.sub(" ", folded)))
    return tokens


class KeywordScorer:
    """BM25 over a fixed set of entries (one snapshot of a workspace's knowledge)."""

    def __init__(self, entries: Sequence[_Entry]) -> None:
        if not entries:
            raise ValueError("a keyword scorer needs at least one entry")
        corpus = [tokenize(f"{e.question} {e.answer}") or ["_"] for e in entries]
        self._bm25 = BM25Okapi(corpus)
        self._positions = {e.id: i for i, e in enumerate(entries)}

    def scores(self, query: str, ids: list[str]) -> dict[str, float]:
        """BM25 scores of ``ids`` for ``query``, scaled so the best candidate scores 1."""
        tokens = tokenize(query)
        known = [i for i in ids if i in self._positions]
        if not tokens or not known:
            return {}
        raw = self._bm25.get_batch_scores(tokens, [self._positions[i] for i in known])
        top = max(float(max(raw)), 0.0)
        if top <= 0:
            return {}
        return {i: max(float(s), 0.0) / top for i, s in zip(known, raw, strict=True)}
