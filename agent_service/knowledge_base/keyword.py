"""A keyword (BM25) score over a workspace's entries, for hybrid retrieval.

Thai is written without spaces between words, so Thai runs become character bigrams and
trigrams; other scripts are split into words, folded so 'giá' matches 'gia'.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from rank_bm25 import BM25Okapi

from agent_service.qualification import fold

_THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")
_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Words for spaced scripts, character 2- and 3-grams for Thai runs."""
    folded = fold(text)
    tokens: list[str] = []
    for run in _THAI_RUN.findall(folded):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        tokens.extend(run[i : i + 3] for i in range(len(run) - 2))
    tokens.extend(_WORD.findall(_THAI_RUN.sub(" ", folded)))
    return tokens


class KeywordIndex:
    """BM25 per workspace, built lazily from the stored entries and dropped on every change."""

    def __init__(self) -> None:
        self._built: dict[str, tuple[BM25Okapi, dict[str, int], str]] = {}
        self._lock = threading.Lock()

    def has(self, workspace_id: str, stamp: str) -> bool:
        """True when the index was built from the entries as they are at ``stamp``."""
        with self._lock:
            built = self._built.get(workspace_id)
        return built is not None and built[2] == stamp

    def forget(self, workspace_id: str) -> None:
        with self._lock:
            self._built.pop(workspace_id, None)

    def build(self, workspace_id: str, entries: Sequence[Any], stamp: str) -> None:
        if not entries:
            return
        corpus = [tokenize(f"{e.question} {e.answer}") or ["_"] for e in entries]
        built = (BM25Okapi(corpus), {e.id: i for i, e in enumerate(entries)}, stamp)
        with self._lock:
            self._built[workspace_id] = built

    def scores(self, workspace_id: str, query: str, ids: list[str]) -> dict[str, float]:
        """BM25 scores of ``ids`` for ``query``, scaled so the best candidate scores 1."""
        with self._lock:
            built = self._built.get(workspace_id)
        tokens = tokenize(query)
        if built is None or not tokens:
            return {}
        bm25, positions, _ = built
        known = [i for i in ids if i in positions]
        if not known:
            return {}
        raw = bm25.get_batch_scores(tokens, [positions[i] for i in known])
        top = max(float(max(raw)), 0.0)
        if top <= 0:
            return {}
        return {i: max(float(s), 0.0) / top for i, s in zip(known, raw, strict=True)}
