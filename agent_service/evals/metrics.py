"""Metrics over trial results: pass rate, pass^k, tool-call precision/recall, forbidden calls,
wrong lost marks, faithfulness, attack success rate, latency, model calls, tokens and cost."""

from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Any

from agent_service.evals.groundedness import unsupported_claims
from agent_service.evals.observation import TurnView
from agent_service.evals.trial import TrialResult

COUNTED = ("passed", "failed", "error")


def pass_hat_k(per_case: list[tuple[int, int]], k: int) -> float | None:
    """Mean over cases of C(c, k) / C(n, k), for cases with (n trials, c successes), n >= k."""
    usable = [(n, c) for n, c in per_case if n >= k]
    if not usable:
        return None
    return sum(comb(c, k) / comb(n, k) for n, c in usable) / len(usable)


def case_counts(results: list[TrialResult]) -> dict[tuple[str, str], tuple[int, int]]:
    """(suite, case) -> (trials that ran, trials that passed); skipped trials do not count."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.status in COUNTED:
            entry = counts[(r.suite, r.case)]
            entry[0] += 1
            entry[1] += r.status == "passed"
    return {key: (n, c) for key, (n, c) in counts.items()}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 2)


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def attack_rates(results: list[TrialResult]) -> dict[str, dict[str, Any]]:
    """Per red-team category: attempts, successes (the case failed), rate, high-severity hits."""
    table: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.attack is None or r.status not in ("passed", "failed"):
            continue
        row = table.setdefault(
            r.attack["category"], {"attempts": 0, "successes": 0, "high_severity_successes": 0}
        )
        row["attempts"] += 1
        if r.status == "failed":
            row["successes"] += 1
            row["high_severity_successes"] += r.attack.get("severity") == "high"
    for row in table.values():
        row["rate"] = _rate(row["successes"], row["attempts"])
    return table


def retrieval_scores(turns: list[TurnView]) -> dict[str, float | int | None]:
    """recall@k and MRR over turns that name the knowledge topic they need."""
    ranks: list[int | None] = []
    for t in turns:
        if t.needs_knowledge is None:
            continue
        wanted = f"topic:{t.needs_knowledge}"
        ranks.append(
            next((i for i, r in enumerate(t.retrieved) if wanted in r.get("tags", [])), None)
        )
    found = [r for r in ranks if r is not None]
    return {
        "retrieval_queries": len(ranks),
        "retrieval_recall_at_k": _rate(len(found), len(ranks)),
        "retrieval_mrr": _rate(sum(1 / (r + 1) for r in found), len(ranks)),
    }


def compute_metrics(
    results: list[TrialResult], trials: int, prices: dict[str, float | None] | None = None
) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    ran = sum(statuses.get(s, 0) for s in COUNTED)
    per_case = list(case_counts(results).values())
    tools: dict[str, int] = defaultdict(int)
    for r in results:
        for key, value in r.tools.items():
            tools[key] += value
    turns = [
        TurnView(**{k: v for k, v in t.items() if k != "kind"})
        for r in results
        for t in r.transcript
        if t.get("kind") == "message"
    ]
    replied = [t for t in turns if t.reply]
    grounded = 0
    for r in results:
        words: list[str] = []
        for t in r.transcript:
            if t.get("kind") != "message":
                continue
            words.append(t["text"])
            view = TurnView(**{k: v for k, v in t.items() if k != "kind"})
            grounded += bool(view.reply) and not unsupported_claims(view, words)
    latencies = [t.latency_ms for t in turns if t.latency_ms]
    input_tokens = sum(t.input_tokens for t in turns)
    output_tokens = sum(t.output_tokens for t in turns)
    prices = prices or {}
    cost = None
    if prices.get("input_per_1k") is not None or prices.get("output_per_1k") is not None:
        cost = round(
            input_tokens / 1000 * (prices.get("input_per_1k") or 0.0)
            + output_tokens / 1000 * (prices.get("output_per_1k") or 0.0),
            6,
        )
    attacks = attack_rates(results)
    spreads = [j["spread"] for r in results for j in r.judge]
    return {
        "trials": ran,
        "statuses": dict(statuses),
        "cases": len(per_case),
        "pass_rate": _rate(statuses.get("passed", 0), ran),
        "pass_hat_k": {str(k): _round(pass_hat_k(per_case, k)) for k in range(1, trials + 1)},
        "tool_precision": _rate(tools["applied_expected"], tools["applied"]),
        "tool_recall": _rate(tools["found"], tools["expected"]),
        "forbidden_calls": tools["forbidden"],
        "wrong_lost_marks": sum(len(r.wrong_lost_marks) for r in results if r.status in COUNTED),
        "faithfulness": _rate(grounded, len(replied)),
        **retrieval_scores(turns),
        "judge_verdicts": len(spreads),
        "judge_spread_mean": _rate(sum(spreads), len(spreads)),
        "attack_success": attacks,
        "attack_successes": sum(a["successes"] for a in attacks.values()),
        "high_severity_attack_successes": sum(
            a["high_severity_successes"] for a in attacks.values()
        ),
        "turns": len(turns),
        "latency_ms_p50": _percentile(latencies, 0.5),
        "latency_ms_p95": _percentile(latencies, 0.95),
        "model_calls_per_turn": _rate(sum(t.model_calls for t in turns), len(turns)),
        "input_tokens_per_turn": _rate(input_tokens, len(turns)),
        "output_tokens_per_turn": _rate(output_tokens, len(turns)),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
