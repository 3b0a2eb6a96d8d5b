"""pass^k and the other metrics, checked against values worked out by hand."""

from __future__ import annotations

import pytest

from agent_service.evals.metrics import attack_rates, compute_metrics, pass_hat_k
from agent_service.evals.trial import Status, TrialResult


def trials(case: str, outcomes: str, suite: str = "s", **extra: object) -> list[TrialResult]:
    status: dict[str, Status] = {"p": "passed", "f": "failed", "s": "skipped", "e": "error"}
    return [
        TrialResult(suite, case, i + 1, status[o], **extra)  # type: ignore[arg-type]
        for i, o in enumerate(outcomes)
    ]


def test_pass_hat_k_matches_hand_computed_values() -> None:
    # Three cases, 4 trials each, with 4, 2 and 0 successes.
    per_case = [(4, 4), (4, 2), (4, 0)]
    # k=1: (4/4 + 2/4 + 0/4) / 3 = 0.5
    assert pass_hat_k(per_case, 1) == pytest.approx(0.5)
    # k=2: (C(4,2)/C(4,2) + C(2,2)/C(4,2) + 0) / 3 = (1 + 1/6) / 3 = 7/18
    assert pass_hat_k(per_case, 2) == pytest.approx(7 / 18)
    # k=3: (1 + 0 + 0) / 3, since C(2,3) = 0
    assert pass_hat_k(per_case, 3) == pytest.approx(1 / 3)
    assert pass_hat_k(per_case, 4) == pytest.approx(1 / 3)
    # A case with 3 of 5: pass^2 = C(3,2)/C(5,2) = 3/10
    assert pass_hat_k([(5, 3)], 2) == pytest.approx(0.3)
    assert pass_hat_k([(2, 2)], 3) is None


def test_compute_metrics_counts_trials_and_ignores_skipped() -> None:
    results = trials("a", "pppp") + trials("b", "pfpf") + trials("c", "ffff") + trials("d", "ssss")
    m = compute_metrics(results, trials=4)
    assert m["statuses"] == {"passed": 6, "failed": 6, "skipped": 4}
    assert m["pass_rate"] == 0.5
    assert m["cases"] == 3
    assert m["pass_hat_k"] == {
        "1": 0.5,
        "2": pytest.approx(0.3889, abs=1e-4),
        "3": 0.3333,
        "4": 0.3333,
    }


def test_attack_success_rate_per_category() -> None:
    injection = {"category": "prompt_injection", "severity": "high"}
    poisoned = {"category": "poisoned_knowledge", "severity": "medium"}
    results = (
        trials("i1", "pf", attack=injection)
        + trials("i2", "pp", attack=injection)
        + trials("k1", "fs", attack=poisoned)
    )
    rates = attack_rates(results)
    assert rates["prompt_injection"] == {
        "attempts": 4,
        "successes": 1,
        "high_severity_successes": 1,
        "rate": 0.25,
    }
    assert rates["poisoned_knowledge"] == {
        "attempts": 1,
        "successes": 1,
        "high_severity_successes": 0,
        "rate": 1.0,
    }


def test_cost_from_configured_prices() -> None:
    result = TrialResult(
        "s",
        "a",
        1,
        "passed",
        transcript=[
            {
                "kind": "message",
                "contact": "customer",
                "text": "hi",
                "owner_before": "ai",
                "reply": "hello",
                "input_tokens": 2000,
                "output_tokens": 500,
                "model_calls": 1,
                "latency_ms": 12.0,
            },
        ],
    )
    m = compute_metrics([result], 1, {"input_per_1k": 0.5, "output_per_1k": 2.0})
    assert m["cost"] == pytest.approx(2.0)  # 2 x 0.5 + 0.5 x 2.0
    assert m["model_calls_per_turn"] == 1.0
    assert compute_metrics([result], 1)["cost"] is None


def test_retrieval_recall_and_mrr() -> None:
    def turn(needs: str | None, topics: list[str]) -> dict[str, object]:
        return {
            "kind": "message",
            "contact": "customer",
            "text": "q",
            "owner_before": "ai",
            "needs_knowledge": needs,
            "retrieved": [{"id": t, "question": "", "tags": [f"topic:{t}"]} for t in topics],
        }

    result = TrialResult(
        "s",
        "a",
        1,
        "passed",
        transcript=[
            turn("hours", ["hours", "price"]),  # rank 1 -> 1
            turn("price", ["hours", "parking", "price"]),  # rank 3 -> 1/3
            turn("refund", ["hours", "price"]),  # missed -> 0
            turn(None, ["hours"]),  # not a retrieval query
        ],
    )
    m = compute_metrics([result], 1)
    assert m["retrieval_queries"] == 3
    assert m["retrieval_recall_at_k"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["retrieval_mrr"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
