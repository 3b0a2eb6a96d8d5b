"""Without OTEL_EXPORTER_OTLP_ENDPOINT tracing costs nothing: no tracer provider is set up,
nothing is instrumented, a turn step's span is one shared no-op, and log lines carry no trace
id. (tests/reliability/test_traces.py covers tracing on, in a process of its own.)"""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

from agent_service.core import tracing
from agent_service.core.logs import configure_logging
from tests.conftest import CHANNEL, ClientFactory, message


def test_without_an_endpoint_nothing_is_set_up(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (tracing.ENDPOINT_ENV, tracing.SPAN_ENDPOINT_ENV):
        monkeypatch.delenv(name, raising=False)
    stream = io.StringIO()
    with make_client() as client:
        configure_logging("INFO", True, stream=stream)
        assert isinstance(client, TestClient)
        response = client.post("/v1/messages", json=message("Hello there"), headers=CHANNEL)
        assert response.status_code == 200
        app = client.app
        middleware = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
    assert not tracing.enabled()
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    assert "OpenTelemetryMiddleware" not in middleware
    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
    assert tracing.span("turn") is tracing.span("turn.save")  # one shared no-op
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and not any("trace_id" in line for line in lines)
