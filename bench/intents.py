"""Lifecycle intents on messages nobody tuned for: dev and test parts side by side.

    python -m bench.intents [--check] [--show-misses dev]

Cases: evals/datasets/intents/{dev,test}.yaml, each a customer message with the intent a careful
agent would act on (``other``: no action), its language and its kind (plain, question,
objection, hesitation, correction, history, negation, ...). Every message goes through the
offline planner's own decision (``agent.intents.decide_intent``) with the default intent
examples new workspaces get (knowledge_base/demo/intents.yaml). Printed per split, overall and
per language: accuracy, and precision and recall of lost marks (a lost mark is right when the
message is that lost intent); beside it, the majority-class baseline (never act).

``--check`` exits 1 unless the test part meets the targets, overall and in every language:
lost-mark precision >= 0.98, lost recall >= 0.85, accuracy >= 0.90.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from agent_service.agent.intents.detector import IntentDetector, PlannerThresholds, decide_intent
from agent_service.agent.offline_planner import LOST_INTENTS
from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import build_embeddings
from bench.datasets import DEMO, cases

TARGETS = {"precision": 0.98, "recall": 0.85, "accuracy": 0.90}
NO_ACTION = "other"


def predictions(split: str, examples_path: Path) -> list[tuple[dict[str, Any], str]]:
    settings = Settings(llm_model=None)
    embeddings = build_embeddings(settings)
    detector = IntentDetector(embeddings)
    examples = yaml.safe_load(examples_path.read_text("utf-8"))
    thresholds = PlannerThresholds.from_settings(settings)
    rows = cases("intents", split)
    vectors = embeddings.embed_queries([c["text"] for c in rows])
    found = []
    for case, vector in zip(rows, vectors, strict=True):
        match = detector.best(examples, vector)
        found.append((case, decide_intent(match, case["text"], thresholds) or NO_ACTION))
    return found


def scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Accuracy, lost-mark precision and recall of (label, predicted) pairs."""
    marked = [(t, p) for t, p in pairs if p in LOST_INTENTS]
    lost = [(t, p) for t, p in pairs if t in LOST_INTENTS]
    return {
        "n": len(pairs),
        "accuracy": sum(t == p for t, p in pairs) / max(len(pairs), 1),
        "precision": sum(t == p for t, p in marked) / len(marked) if marked else 1.0,
        "recall": sum(t == p for t, p in lost) / len(lost) if lost else 1.0,
        "marked": len(marked),
    }


def table(split: str, found: list[tuple[dict[str, Any], str]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    baseline: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for case, predicted in found:
        for name in ("all", f"lang:{case['language']}", f"kind:{case['kind']}"):
            groups[name].append((case["intent"], predicted))
            baseline[name].append((case["intent"], NO_ACTION))
    print(f"\n## {split} part: {len(found)} messages\n")
    if split == "dev":
        print("(the default examples include the dev part: these figures are in-sample)\n")
    print(
        f"{'group':<20}{'n':>5}{'accuracy':>10}{'lost prec':>11}{'lost rec':>10}{'marks':>7}"
        f"{'baseline acc':>14}"
    )
    result = {}
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        s = scores(groups[name])
        base = scores(baseline[name])
        result[name] = s
        print(
            f"{name:<20}{s['n']:>5.0f}{s['accuracy']:>10.3f}{s['precision']:>11.3f}"
            f"{s['recall']:>10.3f}{s['marked']:>7.0f}{base['accuracy']:>14.3f}"
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 under the test targets")
    parser.add_argument("--show-misses", default="", help="print the misses of this split")
    parser.add_argument("--examples", type=Path, default=DEMO / "intents.yaml")
    parser.add_argument("--split", default="dev,test")
    args = parser.parse_args()
    if args.show_misses:
        for case, predicted in predictions(args.show_misses, args.examples):
            if predicted != case["intent"]:
                print(
                    f"{case['kind']:<14} want {case['intent']:<17} got {predicted:<17}"
                    f" {case['text']!r}"
                )
        return 0
    splits = ("dev", "test") if args.check else tuple(args.split.split(","))
    results = {split: table(split, predictions(split, args.examples)) for split in splits}
    if not args.check:
        return 0
    misses = [
        f"{name} {metric} {values[metric]:.3f} < {target}"
        for name, values in results["test"].items()
        if name == "all" or name.startswith("lang:")
        for metric, target in TARGETS.items()
        if values[metric] < target
    ]
    for miss in misses:
        print(f"TARGET MISSED: {miss}")
    print("intent targets met" if not misses else "INTENT CHECK FAILED")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
