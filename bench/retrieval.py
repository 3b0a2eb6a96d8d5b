"""Retrieval quality on businesses nobody tuned for: dev and test parts side by side.

    python -m bench.retrieval                      # every method, dev and test
    python -m bench.retrieval --split test --methods dense,default --check

Each business of bench/datasets.py (the demo clinic and those under evals/datasets/retrieval/)
gets a workspace of its own in a scratch directory; its FAQ is stored through the knowledge
base's own ``add_many`` (database, Chroma, representations) and every question is searched with
``KnowledgeBase.search``, the agent's retrieval. Printed per split: recall@1, recall@3 and MRR
(top 10) over the questions the FAQ answers, per business, per language, asked in the entry's
language or another; and, for the service's default, how often the offline planner answers from
knowledge and how often that answer is right (questions the FAQ does not answer count as wrong
when answered).

``--check`` exits 1 unless the default method meets the product's targets on the test part:
recall@3 >= 0.85 overall and >= 0.75 in every language and on every business, and never below
dense retrieval alone on any business; answered questions right >= 0.90.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from agent_service.agent.intents.detector import PlannerThresholds
from agent_service.agent.offline_planner import pick_answer
from agent_service.core.config import Settings
from agent_service.knowledge_base.index import Hit
from agent_service.knowledge_base.store import EntryData
from agent_service.service import build_service
from agent_service.workspaces.setup import create_workspace, default_template
from bench.datasets import Business, Question, businesses

TODAY = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
DEFAULT = Settings.model_fields["retrieval_signals"].default
FUSION = Settings.model_fields["retrieval_fusion"].default
# label -> (signals, fusion)
METHODS: dict[str, tuple[tuple[str, ...], str]] = {
    "dense": (("dense",), FUSION),
    "sparse": (("sparse",), FUSION),
    "keyword": (("keyword",), FUSION),
    "dense_question": (("dense_question",), FUSION),
    "dense+sparse rrf": (("dense", "sparse"), "rrf"),
    "dense+sparse+kw": (("dense", "sparse", "keyword"), "zscore"),
    "dense2+sparse2": (("dense", "dense_question", "sparse", "sparse_question"), "zscore"),
    "default": (tuple(DEFAULT), FUSION),
}
TARGETS = {"overall": 0.85, "each": 0.75, "answered_right": 0.90}


@dataclass(frozen=True)
class Outcome:
    business: str
    question: Question
    cross: bool
    rank: int | None  # of the first entry that answers it, in the top 10
    answered: str | None  # the key the planner would answer with
    hits: tuple[Hit, ...] = ()  # what the planner sees
    keys: tuple[str | None, ...] = ()  # their FAQ keys


def _scores(outcomes: list[Outcome]) -> tuple[float, float, float, int]:
    answerable = [o for o in outcomes if o.question.expected]
    n = len(answerable) or 1
    at1 = sum(1 for o in answerable if o.rank == 1) / n
    at3 = sum(1 for o in answerable if o.rank is not None and o.rank <= 3) / n
    mrr = sum(1 / o.rank for o in answerable if o.rank is not None) / n
    return at1, at3, mrr, len(answerable)


def _groups(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.business].append(o)
        groups[f"lang:{o.question.language}"].append(o)
        groups["cross-lingual" if o.cross else "same language"].append(o)
    return groups


async def _load(service: object, business: Business) -> tuple[str, dict[str, str]]:
    deps = service.deps  # type: ignore[attr-defined]
    async with deps.sessions() as session:
        workspace = await create_workspace(
            session,
            default_template(business.name, deps.settings.prompts_dir, deps.settings.demo_dir),
            TODAY,
        )
        await session.commit()
    items = [
        EntryData(
            e.question,
            e.answer,
            e.language,
            e.tags,
            date.fromisoformat(e.valid_until) if e.valid_until else None,
        )
        for e in business.faq
    ]
    rows = await deps.knowledge.add_many(workspace.id, items, TODAY)
    return workspace.id, {row.id: e.key for row, e in zip(rows, business.faq, strict=True)}


async def measure(
    splits: Iterable[str], methods: dict[str, tuple[tuple[str, ...], str]]
) -> dict[str, dict[str, list[Outcome]]]:
    """Outcomes by split, then by method."""
    results: dict[str, dict[str, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), llm_model=None, seed_demo=False)
        service = build_service(settings, clock=lambda: TODAY)
        await service.start()
        deps = service.deps
        knowledge = deps.knowledge
        thresholds = PlannerThresholds.from_settings(settings)
        try:
            for business in businesses():
                wanted = [s for s in splits if s in business.questions]
                if not wanted:
                    continue
                workspace_id, key_of = await _load(service, business)
                for split in wanted:
                    questions = business.questions[split]
                    vectors = deps.embeddings.embed_queries([q.query for q in questions])
                    for label, (signals, fusion) in methods.items():
                        knowledge.signals, knowledge.fusion = signals, fusion
                        for question, vector in zip(questions, vectors, strict=True):
                            hits = await knowledge.search(
                                workspace_id,
                                vector.tolist(),
                                10,
                                TODAY.date(),
                                query=question.query,
                            )
                            keys = [key_of.get(h.id) for h in hits]
                            rank = next(
                                (i for i, k in enumerate(keys, 1) if k in question.expected), None
                            )
                            chosen: Hit | None = pick_answer(
                                hits[: settings.retrieval_k], question.reply_language, thresholds
                            )
                            results[split][label].append(
                                Outcome(
                                    business.name,
                                    question,
                                    business.cross_lingual(question),
                                    rank,
                                    key_of.get(chosen.id) if chosen else None,
                                    tuple(hits[: settings.retrieval_k]),
                                    tuple(keys[: settings.retrieval_k]),
                                )
                            )
        finally:
            await service.stop()
    return results


def answering(outcomes: list[Outcome]) -> tuple[float, float, int]:
    """Share of questions answered from knowledge, and the share of those answers that are
    right (an answer to a question the FAQ does not answer is wrong)."""
    answered = [o for o in outcomes if o.answered is not None]
    right = [o for o in answered if o.answered in o.question.expected]
    return len(answered) / max(len(outcomes), 1), len(right) / max(len(answered), 1), len(answered)


def calibrate(outcomes: list[Outcome]) -> None:
    """The planner's answer rate and precision over a grid of its two thresholds (dev only)."""
    print("\ncosine  agreement  answers  right")
    for cosine in (0.0, 0.80, 0.82, 0.84, 0.86, 0.88):
        for agreement in (0.0, 1.0, 1.5, 2.0, 2.5, 3.0):
            thresholds = PlannerThresholds(cosine, 1.0, 1.0, agreement)
            picked = []
            for o in outcomes:
                chosen = pick_answer(list(o.hits), o.question.reply_language, thresholds)
                key = o.keys[o.hits.index(chosen)] if chosen else None
                picked.append(replace(o, answered=key))
            rate, right, _ = answering(picked)
            print(f"{cosine:6.2f} {agreement:10.2f} {rate:8.3f} {right:6.3f}")


def report(results: dict[str, dict[str, list[Outcome]]]) -> None:
    for split, by_method in results.items():
        first = next(iter(by_method.values()))
        print(f"\n## {split} part: {len(first)} questions, {_scores(first)[3]} with an answer\n")
        print(f"{'method':<16} {'recall@1':>9} {'recall@3':>9} {'MRR':>7}")
        for label, outcomes in by_method.items():
            at1, at3, mrr, _ = _scores(outcomes)
            print(f"{label:<16} {at1:9.3f} {at3:9.3f} {mrr:7.3f}")
        groups = {label: _groups(o) for label, o in by_method.items()}
        names = sorted(next(iter(groups.values())), key=lambda g: (g.startswith("lang:"), g))
        print(f"\nrecall@3 by group ({split})\n")
        print(f"{'group':<22}{'n':>5}" + "".join(f"{label[:14]:>16}" for label in by_method))
        for name in names:
            n = _scores(groups["dense"][name] if "dense" in groups else [])[3]
            row = "".join(f"{_scores(g[name])[1]:16.3f}" for g in groups.values())
            print(f"{name:<22}{n:>5}{row}")
        if "default" in by_method:
            rate, right, count = answering(by_method["default"])
            print(
                f"\noffline planner ({split}, default retrieval): answers {rate:.3f} of the "
                f"questions from knowledge ({count}); right {right:.3f} of those"
            )


def check(results: dict[str, dict[str, list[Outcome]]]) -> list[str]:
    """What the default method misses of the targets on the test part."""
    misses: list[str] = []
    default, dense = results["test"]["default"], results["test"]["dense"]
    overall = _scores(default)[1]
    if overall < TARGETS["overall"]:
        misses.append(f"recall@3 overall {overall:.3f} < {TARGETS['overall']}")
    ours, theirs = _groups(default), _groups(dense)
    for name, group in ours.items():
        if name in ("cross-lingual", "same language"):
            continue
        value = _scores(group)[1]
        if value < TARGETS["each"]:
            misses.append(f"recall@3 {name} {value:.3f} < {TARGETS['each']}")
        if not name.startswith("lang:") and value < _scores(theirs[name])[1]:
            misses.append(f"recall@3 {name} {value:.3f} below dense alone")
    _, right, _ = answering(default)
    if right < TARGETS["answered_right"]:
        misses.append(f"answers right {right:.3f} < {TARGETS['answered_right']}")
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev,test")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--check", action="store_true", help="exit 1 under the test targets")
    parser.add_argument("--calibrate", action="store_true", help="sweep the planner's thresholds")
    args = parser.parse_args()
    methods = {m: METHODS[m] for m in args.methods.split(",")}
    splits = args.split.split(",")
    if args.check:
        methods = {"dense": METHODS["dense"], **methods, "default": METHODS["default"]}
        splits = sorted({*splits, "test"})
    print(f"default signals: {', '.join(DEFAULT)}, fused by {FUSION}")
    results = asyncio.run(measure(splits, methods))
    report(results)
    if args.calibrate:
        calibrate(results["dev"]["default"])
    if not args.check:
        return 0
    misses = check(results)
    for miss in misses:
        print(f"TARGET MISSED: {miss}")
    print("retrieval targets met" if not misses else "RETRIEVAL CHECK FAILED")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
