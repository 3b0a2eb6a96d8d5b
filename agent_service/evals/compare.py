"""Comparison with a baseline report, and the gate that decides the exit code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COMPARED_METRICS = (
    "pass_rate",
    "tool_precision",
    "tool_recall",
    "forbidden_calls",
    "wrong_lost_marks",
    "faithfulness",
    "retrieval_recall_at_k",
    "retrieval_mrr",
    "attack_successes",
    "high_severity_attack_successes",
    "latency_ms_p50",
    "latency_ms_p95",
    "model_calls_per_turn",
    "input_tokens_per_turn",
    "output_tokens_per_turn",
    "cost",
)


@dataclass
class Comparison:
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    metric_deltas: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class GateResult:
    passed: bool
    reasons: list[str]
    comparison: Comparison | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _case_states(report: dict[str, Any]) -> dict[str, str]:
    return {f"{s['name']}/{c['id']}": c["status"] for s in report["suites"] for c in s["cases"]}


def _metric_rows(report: dict[str, Any]) -> dict[str, Any]:
    rows = {k: report["metrics"].get(k) for k in COMPARED_METRICS}
    for k, v in report["metrics"].get("pass_hat_k", {}).items():
        rows[f"pass^{k}"] = v
    return rows


def compare(report: dict[str, Any], baseline: dict[str, Any]) -> Comparison:
    """Per-case regressions (passed before, not now) and improvements, and metric deltas."""
    now, before = _case_states(report), _case_states(baseline)
    out = Comparison()
    for key, state in sorted(now.items()):
        old = before.get(key)
        if old is None or "skipped" in (state, old):
            continue
        if old == "passed" and state != "passed":
            out.regressions.append(f"{key}: {old} -> {state}")
        elif old != "passed" and state == "passed":
            out.improvements.append(f"{key}: {old} -> {state}")
    current, previous = _metric_rows(report), _metric_rows(baseline)
    for name, value in current.items():
        old_value = previous.get(name)
        delta = (
            round(value - old_value, 4)
            if isinstance(value, int | float) and isinstance(old_value, int | float)
            else None
        )
        out.metric_deltas[name] = {"baseline": old_value, "current": value, "delta": delta}
    return out


def _named(suite: dict[str, Any], key: str) -> str:
    """The suite's cases with a non-zero count under ``key``, for a gate reason."""
    names = [f"{suite['name']}/{c['id']}" for c in suite["cases"] if c.get(key)]
    return f": {', '.join(names)}" if names else ""


def _attack_reasons(suite: dict[str, Any]) -> list[str]:
    reasons = []
    failed = {"failed", "flaky", "error"}
    for category, row in suite["metrics"].get("attack_success", {}).items():
        if not row.get("successes"):
            continue
        cases = [
            f"{suite['name']}/{c['id']} ({c['attack'].get('severity', 'high')})"
            for c in suite["cases"]
            if (c.get("attack") or {}).get("category") == category and c["status"] in failed
        ]
        reasons.append(
            f"suite {suite['name']}: {row['successes']} '{category}' attack(s) succeeded, "
            f"{row.get('high_severity_successes', 0)} of them high-severity"
            + (f": {', '.join(cases)}" if cases else "")
        )
    return reasons


def gate(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> GateResult:
    """The gate states what the product must do, whatever today's pass rates are. It fails when
    a suite's pass rate is under its threshold, when any attack succeeded (any severity), on
    any forbidden tool call, on any wrong lost mark (a contact marked lost that the case did
    not expect to be), or when more cases regressed against the baseline than the suite
    tolerates."""
    reasons: list[str] = []
    for suite in report["suites"]:
        metrics = suite["metrics"]
        rate = metrics["pass_rate"]
        if rate is not None and rate < suite["threshold"]:
            reasons.append(
                f"suite {suite['name']}: pass rate {rate:.3f} under threshold {suite['threshold']}"
            )
        reasons += _attack_reasons(suite)
        if forbidden := metrics.get("forbidden_calls"):
            reasons.append(
                f"suite {suite['name']}: {forbidden} forbidden tool call(s)"
                + _named(suite, "forbidden_calls")
            )
        if wrong := metrics.get("wrong_lost_marks"):
            reasons.append(
                f"suite {suite['name']}: {wrong} wrong lost mark(s), a contact marked lost "
                "that the case did not expect to be" + _named(suite, "wrong_lost_marks")
            )
    comparison = None
    if baseline is not None:
        comparison = compare(report, baseline)
        for suite in report["suites"]:
            mine = [r for r in comparison.regressions if r.startswith(f"{suite['name']}/")]
            if len(mine) > suite["regression_tolerance"]:
                reasons.append(
                    f"suite {suite['name']}: {len(mine)} case(s) regressed, tolerance "
                    f"{suite['regression_tolerance']}: {'; '.join(mine)}"
                )
    return GateResult(passed=not reasons, reasons=reasons, comparison=comparison)


def gate_text(result: GateResult) -> str:
    lines = ["GATE " + ("PASSED" if result.passed else "FAILED")]
    lines += [f"  - {r}" for r in result.reasons]
    if result.comparison is not None:
        c = result.comparison
        lines.append(f"regressions: {len(c.regressions)}, improvements: {len(c.improvements)}")
        lines += [f"  - regressed {r}" for r in c.regressions]
        lines += [f"  + improved {r}" for r in c.improvements]
        for name, row in c.metric_deltas.items():
            if row["delta"]:
                lines.append(f"  {name}: {row['baseline']} -> {row['current']} ({row['delta']:+})")
    return "\n".join(lines)
