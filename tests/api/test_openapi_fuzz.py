"""Schemathesis against the service's own OpenAPI spec, in process (ASGI): zero 5xx and zero
responses that break the schema, with a valid key holding every role. Bounded (~20 s)."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.db.session import create_engine
from agent_service.service import build_service
from agent_service.workspaces.api_keys import ROLES
from agent_service.workspaces.setup import DEMO_WORKSPACE_ID, create_api_key
from tests.conftest import START, TickingClock, make_settings

# CI can fuzz harder: FUZZ_EXAMPLES=200 pytest tests/api/test_openapi_fuzz.py
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "25"))


ALL_ROLES_KEY = "test-fuzz-all-roles-0001"


async def _add_all_roles_key(app_settings: Settings) -> None:
    """One key holding every role, so each operation is fuzzed past its role check."""
    engine = create_engine(app_settings.resolved_database_url)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            await create_api_key(
                session, DEMO_WORKSPACE_ID, list(ROLES), START, key=ALL_ROLES_KEY, label="fuzz"
            )
    finally:
        await engine.dispose()


def test_api_conforms_to_its_schema(data_dir: Path) -> None:
    app_settings = make_settings(data_dir, contact_burst=10_000, workspace_burst=10_000)
    asyncio.run(_add_all_roles_key(app_settings))
    service = build_service(app_settings, clock=TickingClock())
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings, service))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4

    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: Any) -> None:
            # The gate is zero 5xx and zero responses off the schema. The two input-semantics
            # checks are off: unknown query parameters are ignored (as HTTP APIs usually do),
            # the key is always added back, and a schema-valid upload can still be an unreadable
            # file (a documented 422).
            case.call_and_validate(
                headers={"Authorization": f"Bearer {ALL_ROLES_KEY}"},
                excluded_checks=[negative_data_rejection, positive_data_acceptance],
                # Some operations embed text on the CPU (imports, evals); a loaded 2-core
                # machine must not turn that into a false failure.
                timeout=120,
            )

        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid input to generate.
            assert mode is GenerationMode.NEGATIVE, operation.label
