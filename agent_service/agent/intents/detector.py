"""Intent detection for the offline planner, learned from admin-editable example utterances.

Each workspace's examples train a small classifier over the messages' embeddings (standardised
features, class-balanced L2 logistic regression), fitted once per distinct set of examples.
On the blind intent set's dev part (five-fold, the folds' messages held out of the examples) it
was right on 0.85 of messages against 0.70 for nearest examples (docs/evals.md). The planner
acts on a class only when its probability is high, the message is close to that class's own
examples, and, for a lost mark, no cue rules it out (``intent_cues``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from agent_service.agent.intents.cues import lost_mark_ruled_out
from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings

NO_INTENT = "other"  # examples of ordinary messages, so they are not read as an intent
# Intents that mark the lead lost: a wrong one is worse than a missed one.
LOST = frozenset({"spam", "bought_elsewhere", "not_interested"})


# Chosen on the dev part by five-fold cross-validation (bench/intents.py): weaker regularisation
# over-fits the few examples an intent has, stronger one never leaves "other".
_C = 0.1


@dataclass(frozen=True)
class IntentMatch:
    """The likeliest intent: its probability, its lead on the runner-up, and its similarity.

    ``similarity`` is the mean cosine of the message to the intent's two closest examples.
    """

    intent: str
    score: float
    margin: float
    similarity: float = 1.0


@dataclass(frozen=True)
class _Examples:
    digest: str
    intents: list[str]
    rows: list[np.ndarray[Any, Any]]  # per intent: its examples' vectors
    model: Pipeline | None  # None with examples of one intent only: nothing to tell apart


def _fit(intents: list[str], rows: list[np.ndarray[Any, Any]]) -> Pipeline | None:
    if len(intents) < 2:
        return None
    features = np.vstack(rows)
    labels = [intent for intent, vectors in zip(intents, rows, strict=True) for _ in vectors]
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=_C, class_weight="balanced", max_iter=5000),
    )
    model.fit(features, labels)
    return model


class IntentDetector:
    """Embeds and learns each distinct set of examples once and scores messages against it."""

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
        built = _Examples(digest, intents, rows, _fit(intents, rows))
        with self._lock:
            self._cache[digest] = built
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return built

    def best(
        self, examples: dict[str, list[str]], vector: np.ndarray[Any, Any]
    ) -> IntentMatch | None:
        """The classifier's likeliest intent (None without examples of two intents)."""
        known = self._examples(examples)
        if known.model is None:
            return None
        probabilities = known.model.predict_proba(np.atleast_2d(vector))[0]
        classes = [str(c) for c in known.model.classes_]
        order = np.argsort(probabilities)[::-1]
        best = classes[order[0]]
        top = float(probabilities[order[0]])
        runner_up = float(probabilities[order[1]])
        rows = known.rows[known.intents.index(best)]
        similarity = float(np.sort(rows @ vector)[::-1][:2].mean())
        return IntentMatch(best, round(top, 4), round(top - runner_up, 4), round(similarity, 4))


@dataclass(frozen=True)
class PlannerThresholds:
    """Scores above which the planner trusts a knowledge match or an intent."""

    answer: float  # the entry's best cosine similarity
    intent: float  # the intent's probability
    intent_margin: float  # its lead on the runner-up's probability
    answer_agreement: float = 0.0  # the fused score: how far the entry stands out
    intent_similarity: float = 0.0  # the message's similarity to the intent's own examples

    @classmethod
    def from_settings(cls, settings: Settings) -> PlannerThresholds:
        return cls(
            answer=settings.planner_answer_threshold,
            intent=settings.planner_intent_threshold,
            intent_margin=settings.planner_intent_margin,
            answer_agreement=settings.planner_answer_agreement,
            intent_similarity=settings.planner_intent_similarity,
        )

    def accepts(self, match: IntentMatch | None) -> str | None:
        """The intent to act on, or None when the match is weak, close or ordinary."""
        if match is None or match.intent == NO_INTENT:
            return None
        if match.score < self.intent or match.margin < self.intent_margin:
            return None
        if match.similarity < self.intent_similarity:
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
