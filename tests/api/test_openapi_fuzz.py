"""Schemathesis against the running service, as a client sees it: `agent-service serve` in its
own process, the `schemathesis` CLI driving it over a real socket with a key holding every
role. Phases: the spec's examples, coverage (boundary and type-violating values, explicit
nulls included: the generator that found the 500s of docs/security.md "Inputs both databases
can store"), fuzzing, and stateful sequences chained by the links schemathesis infers (create a
stage, then patch it; create an entry, then edit it), so generated values reach real resources
instead of 404s.

The gate: no 5xx and no response off the schema. The seed is fixed so a CI run is
reproducible; FUZZ_SEED and FUZZ_EXAMPLES explore further by hand, e.g.
    FUZZ_SEED=7 FUZZ_EXAMPLES=200 pytest tests/api/test_openapi_fuzz.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from agent_service.workspaces.setup import DEMO_WORKSPACE_ID
from tests.conftest import ADMIN
from tests.processes import serve, service_env

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "20")
SEED = os.environ.get("FUZZ_SEED", "20261126")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


def test_api_conforms_to_its_schema(data_dir: Path, tmp_path: Path) -> None:
    env = service_env(
        data_dir,
        # The gate is about contracts, not limits: the limits have their own tests.
        AGENT_SERVICE_CONTACT_BURST="1000000",
        AGENT_SERVICE_WORKSPACE_BURST="1000000",
    )
    with (tmp_path / "service.log").open("wb") as log, serve(env, log=log) as served:
        url = served.url
        created = httpx.post(
            f"{url}/v1/workspaces/{DEMO_WORKSPACE_ID}/keys",
            json={"roles": ["channel", "admin", "qa"], "label": "fuzz"},
            headers=ADMIN,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        assert schemathesis, "the schemathesis CLI is installed with the dev extras"
        run = subprocess.run(
            [
                schemathesis, "run", f"{url}/openapi.json",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--header", f"Authorization: Bearer {created.json()['key']}",
                "--checks", CHECKS,
                "--max-examples", EXAMPLES,
                "--seed", SEED,
                "--request-timeout", "120",
                "--workers", "1",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=2400, cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
        assert "Stateful" in run.stdout and "API Links" in run.stdout, run.stdout[-5000:]
