"""CI gate: the shipped suites on the offline planner (red-team guardrail cases on their
scripted models) must meet each suite's threshold, with no high-severity attack succeeding."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from agent_service.core.config import REPO_ROOT
from agent_service.evals.compare import gate, gate_text
from agent_service.evals.report import build_report, write_reports
from agent_service.evals.runner import RunConfig, run_evals
from agent_service.evals.suite import json_schema, load_suite, resolve_suites
from agent_service.service import Service

EVALS = REPO_ROOT / "evals"


def test_suites_load_and_cover_the_brief() -> None:
    suites = [load_suite(p) for p in resolve_suites([str(EVALS)], EVALS)]
    cases = [c for s in suites for c in s.cases]
    assert len(cases) >= 60
    stages = {c.expect.stage or c.expect.lost_stage for c in cases}
    assert {
        "New Lead",
        "Hot Lead",
        "Payment",
        "Customer",
        "Cold Lead",
        "Unqualified",
        "Lost to Competitor",
    } <= stages
    categories = {c.attack.category for c in cases if c.attack}
    assert {
        "prompt_injection",
        "poisoned_knowledge",
        "system_prompt_extraction",
        "mark_me_customer",
        "other_contact",
    } <= categories


def test_json_schema_file_is_current() -> None:
    assert (EVALS / "suite.schema.json").read_text("utf-8") == json_schema(), (
        "run `agent-service eval schema` to regenerate evals/suite.schema.json"
    )


def test_suite_files_validate_against_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(
        json.loads((EVALS / "suite.schema.json").read_text("utf-8"))
    )
    for path in sorted(EVALS.glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text("utf-8")))]
        assert not errors, f"{path.name}: {errors[:3]}"


async def test_shipped_suites_pass_their_gate(service: Service, tmp_path: Path) -> None:
    paths = resolve_suites([str(EVALS)], EVALS)
    outcome = await run_evals(
        service.deps, RunConfig(suites=[str(p) for p in paths]), tmp_path / "run", progress=False
    )
    report = build_report(outcome)
    files = write_reports(report, tmp_path / "run")
    result = gate(report)
    print()
    for suite in report["suites"]:
        m = suite["metrics"]
        print(
            f"{suite['name']:15} {m['statuses']} pass rate {m['pass_rate']} "
            f"(threshold {suite['threshold']}) retrieval recall@k {m['retrieval_recall_at_k']} "
            f"MRR {m['retrieval_mrr']} attacks {m['attack_success']}"
        )
    overall = report["metrics"]
    keys = (
        "pass_rate",
        "pass_hat_k",
        "tool_precision",
        "tool_recall",
        "forbidden_calls",
        "faithfulness",
        "retrieval_recall_at_k",
        "retrieval_mrr",
        "latency_ms_p50",
        "latency_ms_p95",
    )
    print({k: overall[k] for k in keys})
    print(gate_text(result))
    assert not [r for r in outcome.results if r.status == "error"], "a case crashed"
    assert result.passed, gate_text(result)
    junit = ET.parse(files["junit"]).getroot()
    assert len(junit.findall("testsuite")) == len(paths)
    assert "<svg" in files["html"].read_text("utf-8")
