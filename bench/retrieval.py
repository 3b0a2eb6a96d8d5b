"""Retrieval quality on the multilingual test set: dense alone vs hybrid (dense + BM25).

    python bench/retrieval.py [--weights 0.1,0.2,0.3,0.5] [--pool 20]

Seeds the demo workspace in a scratch directory, then runs every query of
knowledge_base/demo/retrieval_testset.yaml through KnowledgeBase.search (the agent's own
retrieval) and prints recall@1, recall@3 and MRR (first entry of the expected topic, top 10).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import yaml

from agent_service.core.config import Settings
from agent_service.knowledge_base.retrieval import retrieve
from agent_service.service import build_service
from agent_service.workspace_setup import DEMO_WORKSPACE_ID

TODAY = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _scores(ranks: list[int | None]) -> tuple[float, float, float]:
    n = len(ranks)
    at1 = sum(1 for r in ranks if r is not None and r <= 1) / n
    at3 = sum(1 for r in ranks if r is not None and r <= 3) / n
    mrr = sum(1 / r for r in ranks if r is not None) / n
    return at1, at3, mrr


async def main(weights: list[float]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), llm_model=None)
        service = build_service(settings, clock=lambda: TODAY)
        await service.start()
        cases = yaml.safe_load((settings.demo_dir / "retrieval_testset.yaml").read_text("utf-8"))
        knowledge = service.deps.knowledge
        topic_of = {
            e.id: next((t[6:] for t in e.tags if t.startswith("topic:")), "")
            for e in await knowledge.all_entries(DEMO_WORKSPACE_ID)
        }
        results: dict[str, dict[str, list[int | None]]] = {}
        for label, weight in [("dense", None), *[(f"hybrid w={w}", w) for w in weights]]:
            knowledge.keyword_weight = weight
            by_language: dict[str, list[int | None]] = defaultdict(list)
            for case in cases["cases"]:
                hits = await retrieve(
                    knowledge,
                    service.deps.embeddings,
                    DEMO_WORKSPACE_ID,
                    case["query"],
                    10,
                    TODAY.date(),
                )
                topics = [topic_of.get(h.id) for h in hits]
                rank = topics.index(case["topic"]) + 1 if case["topic"] in topics else None
                by_language[case["language"]].append(rank)
                by_language["all"].append(rank)
            results[label] = by_language
        await service.stop()
    n = len(cases["cases"])
    print(f"{n} queries, demo knowledge base, k=10 for MRR\n")
    print(f"{'method':<16} {'recall@1':>9} {'recall@3':>9} {'MRR':>7}   recall@3 by language")
    for label, by_language in results.items():
        at1, at3, mrr = _scores(by_language["all"])
        langs = "  ".join(
            f"{lang} {_scores(r)[1]:.2f}"
            for lang, r in sorted(by_language.items())
            if lang != "all"
        )
        print(f"{label:<16} {at1:9.3f} {at3:9.3f} {mrr:7.3f}   {langs}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="0.1,0.2,0.3,0.4,0.5")
    args = parser.parse_args()
    asyncio.run(main([float(w) for w in args.weights.split(",")]))
