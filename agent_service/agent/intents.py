"""Intent detection for the offline planner: similarity to admin-editable example utterances."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent_service.knowledge_base.embeddings import QueryEmbeddings

NO_INTENT = "other"  # examples of ordinary messages, so they are not read as an intent


@dataclass(frozen=True)
class IntentMatch:
    """The closest intent, its score, and how far ahead of the runner-up it is."""

    intent: str
    score: float
    margin: float


@dataclass(frozen=True)
class _Examples:
    digest: str
    intents: list[str]
    rows: list[np.ndarray[Any, Any]]  # per intent: its examples' vectors


class IntentDetector:
    """Embeds each distinct set of examples once and scores messages against it."""

    def __init__(self, embeddings: QueryEmbeddings, max_cached: int = 256) -> None:
        self._embeddings = embeddings
        # Keyed by content, so workspaces sharing the default examples share the vectors.
        self._cache: OrderedDict[str, _Examples] = OrderedDict()
        self._max_cached = max_cached
        self._lock = threading.Lock()

    def _examples(self, examples: dict[str, list[str]]) -> _Examples:
        digest = hashlib.sha256(json.dumps(examples, sort_keys=True).encode()).hexdigest()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None:
                self._cache.move_to_end(digest)
                return cached
        intents = sorted(k for k, v in examples.items() if v)
        rows = [self._embeddings.embed_queries(examples[k]) for k in intents]
        built = _Examples(digest, intents, rows)
        with self._lock:
            self._cache[digest] = built
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return built

    def best(
        self, examples: dict[str, list[str]], vector: np.ndarray[Any, Any]
    ) -> IntentMatch | None:
        """Each intent scores the mean of its two closest examples; the best one wins."""
        known = self._examples(examples)
        if not known.intents:
            return None
        scores = [float(np.sort(rows @ vector)[::-1][:2].mean()) for rows in known.rows]
        order = np.argsort(scores)[::-1]
        top = scores[order[0]]
        runner_up = scores[order[1]] if len(order) > 1 else 0.0
        return IntentMatch(known.intents[order[0]], round(top, 4), round(top - runner_up, 4))
