"""Intent detection for the offline planner: similarity to admin-editable example utterances."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent_service.agent.intent_cues import lost_mark_ruled_out
from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings

NO_INTENT = "other"  # examples of ordinary messages, so they are not read as an intent
# Intents that mark the lead lost: a wrong one is worse than a missed one.
LOST = frozenset({"spam", "bought_elsewhere", "not_interested"})


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


@dataclass(frozen=True)
class PlannerThresholds:
    """Scores above which the planner trusts a knowledge match or an intent."""

    answer: float  # the entry's best cosine similarity
    intent: float
    intent_margin: float
    answer_agreement: float = 0.0  # the fused score: how far the entry stands out

    @classmethod
    def from_settings(cls, settings: Settings) -> PlannerThresholds:
        return cls(
            answer=settings.planner_answer_threshold,
            intent=settings.planner_intent_threshold,
            intent_margin=settings.planner_intent_margin,
            answer_agreement=settings.planner_answer_agreement,
        )

    def accepts(self, match: IntentMatch | None) -> str | None:
        """The intent to act on, or None when the match is weak, close or ordinary."""
        if match is None or match.intent == NO_INTENT:
            return None
        if match.score < self.intent or match.margin < self.intent_margin:
            return None
        return match.intent


def decide_intent(
    match: IntentMatch | None, text: str, thresholds: PlannerThresholds
) -> str | None:
    """The intent the planner acts on, or None (abstain: an ordinary message).

    A lost mark needs more than similarity: a question, an objection, hesitation, a correction
    or a story about another provider is never one (``intent_cues``), whatever it resembles.
    """
    intent = thresholds.accepts(match)
    if intent in LOST and lost_mark_ruled_out(text, intent):
        return None
    return intent
