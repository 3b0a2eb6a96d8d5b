"""Traces of the app, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (core/tracing.py): a span per
request (FastAPI), per database statement (both engines) and per outgoing HTTP call (httpx and
httpx2: the model, callbacks, a Chroma server). Nothing is imported or installed when it is
not set."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from fastapi import FastAPI

from agent_service.core.tracing import start_tracing

if TYPE_CHECKING:
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
    from opentelemetry.sdk.trace import TracerProvider

    from agent_service.service import Service


def install_tracing(app: FastAPI, service: Service) -> TracerProvider | None:
    """Instrument the app and the service's engines; None when tracing is off."""
    provider = start_tracing()
    if provider is None:
        return None
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The metrics scrape and health checks are polled every few seconds: no trace of them.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=f"{service.settings.metrics_path},/healthz,/readyz",
    )
    engines = [service.engine.sync_engine]
    if service.front_engine is not None:
        engines.append(service.front_engine.sync_engine)
    # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses unchanged
    # (tests/reliability/test_traces.py checks the statements' spans arrive).
    SQLAlchemyInstrumentor().instrument(
        engines=engines, tracer_provider=provider, skip_dep_check=True
    )
    # httpx: callbacks and a Chroma server; httpx2: the OpenAI SDK's own client.
    for instrumentor in _httpx_instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    return provider


def _httpx_instrumentors() -> list[BaseInstrumentor]:
    from opentelemetry.instrumentation import httpx as instrumentation

    found: list[BaseInstrumentor] = [instrumentation.HTTPXClientInstrumentor()]
    second = getattr(instrumentation, "HTTPX2ClientInstrumentor", None)
    if second is not None and importlib.util.find_spec("httpx2") is not None:
        found.append(second())
    return found
