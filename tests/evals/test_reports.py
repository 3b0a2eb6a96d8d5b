"""Reports: the failed expectation is shown under the turn it failed on; JUnit counts flaky
cases as failures and skipped cases as skipped."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from agent_service.evals.html_report import render_html
from agent_service.evals.report import case_status, junit_xml
from agent_service.evals.trial import TrialResult


def turn(text: str, reply: str) -> dict[str, Any]:
    return {
        "kind": "message",
        "contact": "customer",
        "text": text,
        "owner_before": "ai",
        "reply": reply,
        "tool_calls": [
            {
                "name": "mark_lead_lost",
                "args": {"x": 1},
                "status": "applied",
                "result": "marked lost",
            }
        ],
        "retrieved": [{"id": "kb1", "score": 0.9, "question": "Price?", "answer": "RM 150"}],
    }


def report() -> dict[str, Any]:
    failed = TrialResult(
        "s",
        "flaky",
        2,
        "failed",
        transcript=[
            turn("first <b>question</b>", "first reply"),
            turn("second question", "second reply"),
        ],
        failures=[{"expectation": "turn 2.contains", "message": "reply lacks 'RM 150'", "turn": 1}],
    )
    results = [
        TrialResult("s", "flaky", 1, "passed"),
        failed,
        TrialResult("s", "later", 1, "skipped", reason="requires canary, not available yet"),
    ]
    cases = [
        {
            "id": "flaky",
            "description": "",
            "status": case_status(results[:2]),
            "trials": 2,
            "passed": 1,
            "reason": None,
            "forbidden_calls": 0,
            "wrong_lost_marks": 1,
        },
        {
            "id": "later",
            "description": "",
            "status": case_status(results[2:]),
            "trials": 0,
            "passed": 0,
            "reason": "requires canary, not available yet",
            "forbidden_calls": 0,
            "wrong_lost_marks": 0,
        },
    ]
    metrics = {
        "pass_rate": 0.5,
        "pass_hat_k": {"1": 0.5, "2": 0.0},
        "statuses": {},
        "attack_success": {},
        "forbidden_calls": 0,
        "wrong_lost_marks": 1,
        "attack_successes": 0,
        "high_severity_attack_successes": 0,
    }
    return {
        "run_id": "r",
        "model": "m",
        "prompt_versions": {"system": 1},
        "knowledge_version": "kb-x",
        "trials": 2,
        "metrics": metrics,
        "suites": [
            {"name": "s", "version": "1", "threshold": 1.0, "metrics": metrics, "cases": cases}
        ],
        "results": [r.as_json() for r in results],
    }


def test_html_highlights_the_failure_under_its_turn_and_escapes_text() -> None:
    html = render_html(report())
    first, second = html.index("second question"), html.index("<div class=fail>")
    assert html.index("first reply") < first < second  # under turn 2, not turn 1
    assert "reply lacks &#x27;RM 150&#x27;" in html
    assert "first &lt;b&gt;question&lt;/b&gt;" in html
    assert "mark_lead_lost" in html and "retrieved context" in html
    assert html.count("<svg") == 1 and "k=2" in html


def test_junit_counts_flaky_as_failure_and_skips() -> None:
    root = ET.fromstring(junit_xml(report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "1")
    flaky = suite.find("testcase[@name='flaky']/failure")
    assert flaky is not None and flaky.get("message") == "1/2 trials passed"
    assert "trial 2: turn 2.contains" in (flaky.text or "")


def test_suite_metrics_the_gate_reads_are_in_junit_and_html() -> None:
    root = ET.fromstring(junit_xml(report()))
    suite = root.find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties == {
        "threshold": "1.0",
        "pass_rate": "0.5",
        "forbidden_calls": "0",
        "wrong_lost_marks": "1",
        "attack_successes": "0",
        "high_severity_attack_successes": "0",
    }
    flagged = suite.find("testcase[@name='flaky']/properties/property[@name='wrong_lost_marks']")
    assert flagged is not None and flagged.get("value") == "1"
    assert suite.find("testcase[@name='later']/properties") is None
    with_mark = report()
    with_mark["results"][0]["wrong_lost_marks"] = ["customer"]  # the passed trial of 'flaky'
    html = render_html(with_mark)
    assert "<th>wrong lost marks</th>" in html and "<th>forbidden calls</th>" in html
    assert "<td class=failed>1</td>" in html  # the suite's wrong lost mark, in red
    assert "<span class=failed>1 wrong lost marks</span>" in html  # on the case
    assert "wrong lost mark: contact 'customer' was marked lost" in html  # under its trial
