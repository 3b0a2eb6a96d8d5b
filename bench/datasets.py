"""The blind evaluation data: businesses' FAQs and customer questions, intents, reply languages.

Every set is split by file into a dev part (tune on it) and a test part (report on it, never
choose on it); see docs/evals.md, "The blind protocol". The demo clinic's own retrieval set
counts as dev. Whole businesses are held out of dev: they have a test part only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "evals" / "datasets"
DEMO = ROOT / "knowledge_base" / "demo"
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class FaqEntry:
    key: str
    question: str
    answer: str
    language: str
    tags: tuple[str, ...] = ()
    valid_until: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    query: str
    language: str  # en | vi | th | ms | mixed
    style: str
    reply_language: str
    expected: tuple[str, ...]  # FAQ keys that answer it; empty: the FAQ has no answer


@dataclass
class Business:
    name: str
    faq: list[FaqEntry]
    questions: dict[str, list[Question]] = field(default_factory=dict)  # by split

    def cross_lingual(self, question: Question) -> bool:
        """Asked in another language than every entry that answers it."""
        languages = {e.language for e in self.faq if e.key in question.expected}
        asked = question.reply_language if question.language == "mixed" else question.language
        return bool(languages) and asked not in languages


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def _question(raw: dict[str, Any]) -> Question:
    return Question(
        id=str(raw["id"]),
        query=str(raw["query"]),
        language=str(raw["language"]),
        style=str(raw.get("style", "plain")),
        reply_language=str(raw.get("reply_language", raw["language"])),
        expected=tuple(raw.get("expected") or ()),
    )


def demo_business() -> Business:
    """The demo clinic: its FAQ and its retrieval set (dev only: it was tuned on)."""
    raw = json.loads((DEMO / "faq.json").read_text("utf-8"))
    faq = [
        FaqEntry(
            e["key"],
            e["question"],
            e["answer"],
            e["language"],
            tuple(e.get("tags") or ()),
            e.get("valid_until"),
        )
        for e in raw
    ]
    topics: dict[str, list[str]] = {}
    for e in raw:
        topics.setdefault(e["topic"], []).append(e["key"])
    cases = _yaml(DEMO / "retrieval_testset.yaml")["cases"]
    questions = [
        Question(
            id=f"demo-dev-{n:03d}",
            query=c["query"],
            language=c["language"],
            style="plain",
            reply_language=c["language"],
            expected=tuple(topics[c["topic"]]),
        )
        for n, c in enumerate(cases, start=1)
    ]
    return Business("demo_clinic", faq, {"dev": questions})


def business(folder: Path) -> Business:
    faq = [
        FaqEntry(e["key"], e["question"], e["answer"], e["language"], tuple(e.get("tags") or ()))
        for e in json.loads((folder / "faq.json").read_text("utf-8"))
    ]
    found = Business(folder.name, faq)
    keys = {e.key for e in faq}
    for split in SPLITS:
        path = folder / f"{split}.yaml"
        if path.exists():
            questions = [_question(c) for c in _yaml(path)["cases"]]
            unknown = {k for q in questions for k in q.expected} - keys
            if unknown:
                raise ValueError(f"{path}: expected keys not in faq.json: {sorted(unknown)}")
            found.questions[split] = questions
    return found


def businesses() -> list[Business]:
    """The demo clinic first, then every business under evals/datasets/retrieval/."""
    folders = sorted(p.parent for p in (DATASETS / "retrieval").glob("*/faq.json"))
    return [demo_business(), *(business(f) for f in folders)]


def cases(kind: str, split: str) -> list[dict[str, Any]]:
    """The cases of evals/datasets/<kind>/<split>.yaml (kind: intents or language)."""
    return list(_yaml(DATASETS / kind / f"{split}.yaml")["cases"])
