"""Reports: JSON for machines, JUnit XML for CI (HTML is in ``html_report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from agent_service.evals.metrics import COUNTED, case_counts, compute_metrics
from agent_service.evals.runner import RunOutcome
from agent_service.evals.trial import TrialResult


def case_status(results: list[TrialResult]) -> str:
    """passed (every trial), failed (none), flaky (some), skipped or error."""
    ran = [r for r in results if r.status in ("passed", "failed", "error")]
    if not ran:
        return "skipped" if results else "missing"
    passes = sum(r.status == "passed" for r in ran)
    if passes == len(ran):
        return "passed"
    if passes:
        return "flaky"
    return "error" if all(r.status == "error" for r in ran) else "failed"


def build_report(outcome: RunOutcome) -> dict[str, Any]:
    by_case: dict[tuple[str, str], list[TrialResult]] = {}
    for r in sorted(outcome.results, key=lambda r: (r.suite, r.case, r.trial)):
        by_case.setdefault((r.suite, r.case), []).append(r)
    counts = case_counts(outcome.results)
    trials = outcome.config.trials
    suites = []
    for suite in outcome.suites:
        mine = [r for r in outcome.results if r.suite == suite.name]
        cases = []
        for case in suite.cases:
            results = by_case.get((suite.name, case.id), [])
            n, c = counts.get((suite.name, case.id), (0, 0))
            cases.append(
                {
                    "id": case.id,
                    "description": case.description,
                    "tags": case.tags,
                    "requires": case.requires,
                    "attack": case.attack.model_dump() if case.attack else None,
                    "status": case_status(results),
                    "trials": n,
                    "passed": c,
                    "reason": next((r.reason for r in results if r.reason), None),
                    "forbidden_calls": sum(r.tools.get("forbidden", 0) for r in results),
                    "wrong_lost_marks": sum(
                        len(r.wrong_lost_marks) for r in results if r.status in COUNTED
                    ),
                }
            )
        suites.append(
            {
                "name": suite.name,
                "version": suite.version,
                "path": suite.path,
                "threshold": suite.threshold,
                "regression_tolerance": suite.regression_tolerance,
                "metrics": compute_metrics(mine, trials, outcome.prices),
                "cases": cases,
            }
        )
    return {
        "run_id": outcome.config.run_id,
        "model": outcome.model,
        "prompt_versions": outcome.prompt_versions,
        "prompt_label": outcome.config.prompt_label,
        "knowledge_version": outcome.knowledge_version,
        "trials": trials,
        "prices": outcome.prices,
        "metrics": compute_metrics(outcome.results, trials, outcome.prices),
        "suites": suites,
        "results": [r.as_json() for r in sorted(outcome.results, key=lambda r: r.key)],
    }


# Suite metrics the gate reads, given as JUnit <properties> of each testsuite.
JUNIT_PROPERTIES = (
    "pass_rate",
    "forbidden_calls",
    "wrong_lost_marks",
    "attack_successes",
    "high_severity_attack_successes",
)


def _properties(parent: ET.Element, values: dict[str, Any]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(element, "property", name=name, value=str(value))


def junit_xml(report: dict[str, Any]) -> str:
    """One testsuite per eval suite, one testcase per case (all its trials); each testsuite's
    properties carry its threshold and the metrics the gate reads, and a case with a forbidden
    call or a wrong lost mark carries those counts."""
    root = ET.Element("testsuites", name=f"evals {report['run_id']}")
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in report["results"]:
        results.setdefault((r["suite"], r["case"]), []).append(r)
    for suite in report["suites"]:
        cases = suite["cases"]
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite["name"],
            tests=str(len(cases)),
            failures=str(sum(c["status"] in ("failed", "flaky") for c in cases)),
            errors=str(sum(c["status"] == "error" for c in cases)),
            skipped=str(sum(c["status"] == "skipped" for c in cases)),
        )
        metrics = suite["metrics"]
        _properties(
            element,
            {"threshold": suite["threshold"]}
            | {k: metrics.get(k) for k in JUNIT_PROPERTIES if k in metrics},
        )
        for case in cases:
            trials = results.get((suite["name"], case["id"]), [])
            seconds = sum(t["seconds"] for t in trials)
            tc = ET.SubElement(
                element, "testcase", classname=suite["name"], name=case["id"], time=f"{seconds:.3f}"
            )
            flagged = {k: case.get(k) for k in ("forbidden_calls", "wrong_lost_marks")}
            if any(flagged.values()):
                _properties(tc, flagged)
            status = case["status"]
            if status == "skipped":
                ET.SubElement(tc, "skipped", message=case["reason"] or "skipped")
            elif status == "error":
                ET.SubElement(tc, "error", message=case["reason"] or "error")
            elif status in ("failed", "flaky"):
                lines = [
                    f"trial {t['trial']}: {f['expectation']}: {f['message']}"
                    for t in trials
                    for f in t["failures"]
                ]
                ET.SubElement(
                    tc, "failure", message=f"{case['passed']}/{case['trials']} trials passed"
                ).text = "\n".join(lines)
    return ET.tostring(root, encoding="unicode")


def write_reports(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """report.json, report.html and junit.xml in ``out_dir``."""
    from agent_service.evals.html_report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "html": out_dir / "report.html",
        "junit": out_dir / "junit.xml",
    }
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    paths["html"].write_text(render_html(report), "utf-8")
    paths["junit"].write_text(junit_xml(report), "utf-8")
    return paths
