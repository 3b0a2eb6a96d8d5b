"""Traces of the app, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (core/tracing.py): a span per
request (FastAPI), per database statement (both engines) and per outgoing HTTP call (httpx:
the model, callbacks, a Chroma server). Nothing is imported or installed when it is not set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from agent_service.core.tracing import start_tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from agent_service.service import Service


def install_tracing(app: FastAPI, service: Service) -> TracerProvider | None:
    """Instrument the app and the service's engines; None when tracing is off."""
    provider = start_tracing()
    if provider is None:
        return None
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
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
    SQLAlchemyInstrumentor().instrument(engines=engines, tracer_provider=provider)
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
    return provider
