"""POST /v1/evals/runs and its status and results, for the qa role."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from tests.conftest import CHANNEL, QA, ClientFactory, send

SUITE = {
    "name": "smoke",
    "version": "3",
    "threshold": 1.0,
    "cases": [
        {
            "id": "price",
            "steps": [{"say": "How much is a basic facial?", "expect": {"contains": ["RM 150"]}}],
            "expect": {"stage": "New Lead", "grounded": True},
        },
        {
            "id": "book",
            "steps": [{"say": "I want to book a facial in KL tomorrow"}],
            "expect": {"stage": "Hot Lead", "handoff_team": "sales"},
        },
    ],
}


def wait_for(client: TestClient, run_id: str) -> dict[str, Any]:
    for _ in range(1200):  # the run goes on in the app's event loop
        body: dict[str, Any] = client.get(f"/v1/evals/runs/{run_id}", headers=QA).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the eval run did not finish")


def test_qa_runs_a_suite_on_a_copy_and_reads_the_results(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SUITE), "utf-8")
    with make_client(evals_dir=tmp_path) as client:
        send(client, "hi", contact="real-customer")
        created = client.post("/v1/evals/runs", json={"suites": ["smoke"], "trials": 2}, headers=QA)
        assert created.status_code == 202, created.text
        run = created.json()
        assert run["status"] in ("queued", "running") and run["suites"] == ["smoke"]
        early = client.get(f"/v1/evals/runs/{run['id']}/results", headers=QA)
        if early.status_code == 409:
            assert "results exist once it is completed" in early.json()["detail"]
        done = wait_for(client, run["id"])
        assert done["status"] == "completed", done["error"]
        assert done["summary"]["suites"] == {"smoke": 1.0}
        assert done["summary"]["metrics"]["pass_hat_k"] == {"1": 1.0, "2": 1.0}
        assert done["summary"]["gate"]["passed"] is True
        results = client.get(f"/v1/evals/runs/{run['id']}/results", headers=QA).json()
        report = results["report"]
        assert report["suites"][0]["version"] == "3"
        assert {r["case"] for r in report["results"]} == {"price", "book"}
        assert len(report["results"]) == 4
        # Production contacts are untouched: the real customer is still where it was.
        contact = client.get("/v1/contacts/real-customer", headers=CHANNEL).json()
        assert contact["lifecycle_stage"] == "New Lead"
        eval_contact = report["results"][0]["transcript"][0]["contact"]
        assert client.get(f"/v1/contacts/{eval_contact}", headers=CHANNEL).status_code == 404


def test_eval_runs_need_the_qa_role_and_known_suites(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SUITE), "utf-8")
    with make_client(evals_dir=tmp_path) as client:
        denied = client.post("/v1/evals/runs", json={"suites": ["smoke"]}, headers=CHANNEL)
        assert denied.status_code == 403
        unknown = client.post("/v1/evals/runs", json={"suites": ["nope"]}, headers=QA)
        assert unknown.status_code == 422
        assert "no suite 'nope'" in unknown.json()["detail"]
        sneaky = client.post("/v1/evals/runs", json={"suites": ["../smoke"]}, headers=QA)
        assert sneaky.status_code == 422
        bad_prompt = client.post(
            "/v1/evals/runs",
            json={"suites": ["smoke"], "prompt_overrides": {"system": "Hi {secret}"}},
            headers=QA,
        )
        assert bad_prompt.status_code == 422
        assert "unknown variable" in bad_prompt.json()["detail"]
        missing = client.get("/v1/evals/runs/evalrun_missing", headers=QA)
        assert missing.status_code == 404
        assert client.get("/v1/evals/runs/evalrun_missing").status_code == 401


def test_a_run_still_going_at_shutdown_is_marked_failed(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SUITE), "utf-8")
    with make_client(evals_dir=tmp_path) as client:
        run_id = client.post(
            "/v1/evals/runs", json={"suites": ["smoke"], "trials": 5}, headers=QA
        ).json()["id"]
    with make_client(evals_dir=tmp_path) as client:
        body = client.get(f"/v1/evals/runs/{run_id}", headers=QA).json()
    if body["status"] != "completed":  # unless it finished before the shutdown reached it
        assert body["status"] == "failed"
        assert body["error"] == "interrupted: the service stopped"
