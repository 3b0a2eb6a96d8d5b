"""Reply language on messages nobody tuned for: dev and test parts side by side.

    python -m bench.language [--check]

Cases: evals/datasets/language/{dev,test}.yaml (text, the contact's locale, the customer's
earlier messages, the language a good agent answers in), plus every customer question of the
retrieval sets (a first message, no locale: the workspace's default, English, is the fallback).
The reply language is chosen as a turn does: each earlier message moves the conversation's
language (the contact's stored language), the locale stands in before there is one.
Beside it, the simplest baseline: lingua's statistical detector alone, as the service used it
before the function-word vote.

``--check`` exits 1 unless the test part's cases are >= 0.97 right.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable

from lingua import Language

from agent_service.core.language import SUPPORTED, _detector, detect_language
from bench.datasets import businesses, cases

TARGET = 0.97
Detector = Callable[[str, str], str]


def lingua_only(text: str, fallback: str) -> str:
    """The old detector: lingua's top language at >= 0.6, Thai by its script."""
    codes = {
        Language.ENGLISH: "en",
        Language.VIETNAMESE: "vi",
        Language.THAI: "th",
        Language.MALAY: "ms",
        Language.INDONESIAN: "ms",
    }
    if any("\u0e00" <= c <= "\u0e7f" for c in text):
        return "th"
    if sum(c.isalpha() for c in text) < 4:
        return fallback
    values = _detector().compute_language_confidence_values(text)
    if not values or values[0].value < 0.6:
        return fallback
    return codes.get(values[0].language, fallback)


def reply_language(detect: Detector, text: str, locale: str | None, history: list[str]) -> str:
    language = (locale or "")[:2].lower()
    language = language if language in SUPPORTED else "en"
    for earlier in history:
        language = detect(earlier, language)
    return detect(text, language)


def rows(split: str) -> list[tuple[str, str, str | None, list[str], str]]:
    """(group, text, locale, history, expected) of every case of ``split``."""
    found = [
        (f"kind:{c['kind']}", c["text"], c.get("locale"), c.get("history") or [], c["expected"])
        for c in cases("language", split)
    ]
    for business in businesses():
        for q in business.questions.get(split, []):
            found.append((f"retrieval:{q.language}", q.query, None, [], q.reply_language))
    return found


def measure(split: str) -> dict[str, dict[str, list[bool]]]:
    """Right or wrong per case, by detector, then by group ('all', kinds, expected language)."""
    detectors: dict[str, Detector] = {"lingua only": lingua_only, "default": detect_language}
    results: dict[str, dict[str, list[bool]]] = {}
    for label, detect in detectors.items():
        groups: dict[str, list[bool]] = defaultdict(list)
        for group, text, locale, history, expected in rows(split):
            right = reply_language(detect, text, locale, history) == expected
            for name in ("all", group, f"expected:{expected}"):
                groups[name].append(right)
            if not group.startswith("retrieval"):
                groups["language set"].append(right)
        results[label] = groups
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 under the test target")
    parser.add_argument("--show-misses", default="", help="print the misses of this split")
    args = parser.parse_args()
    if args.show_misses:
        for group, text, locale, history, expected in rows(args.show_misses):
            got = reply_language(detect_language, text, locale, history)
            if got != expected:
                print(f"{group:<24} want {expected} got {got}: {text!r} {locale} {history}")
        return 0
    by_split = {split: measure(split) for split in ("dev", "test")}
    labels = list(by_split["dev"])
    print(f"{'group':<28}" + "".join(f"{s + ' ' + lab:>20}" for s in by_split for lab in labels))
    groups = sorted(by_split["test"]["default"], key=lambda g: (g != "all", g))
    for group in groups:
        cells = []
        for split in by_split:
            for label in labels:
                values = by_split[split][label].get(group, [])
                cells.append(f"{sum(values) / len(values):.3f} ({len(values)})" if values else "-")
        print(f"{group:<28}" + "".join(f"{c:>20}" for c in cells))
    if not args.check:
        return 0
    values = by_split["test"]["default"]["all"]
    score = sum(values) / len(values)
    print(f"test part: {score:.3f} right (target {TARGET})")
    if score < TARGET:
        print("LANGUAGE CHECK FAILED")
        return 1
    print("language target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
