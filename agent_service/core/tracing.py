"""OpenTelemetry traces: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, free when it is not.

On: one tracer provider per process exports spans by OTLP over HTTP (protobuf) in batches,
from a background thread; the entry point (api/telemetry.py) instruments FastAPI, the
database engines and httpx, and the turn marks its steps with ``span``. Off (the default):
no provider is set up, nothing is instrumented, and ``span`` hands back one shared no-op
context manager: no span object, no context switch.

Attributes are ids and enums only (workspace, contact row, turn, brain, tool name): never a
message text, a name or a phone number.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SPAN_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"

T = TypeVar("T")
_OFF: AbstractContextManager[None] = nullcontext()
_tracer: trace.Tracer | None = None


def wanted() -> bool:
    """Whether an OTLP endpoint is configured (the standard OpenTelemetry variables)."""
    return bool(os.environ.get(ENDPOINT_ENV) or os.environ.get(SPAN_ENDPOINT_ENV))


def start_tracing(service_name: str = "agent-service") -> TracerProvider | None:
    """Set up this process's tracer provider and OTLP exporter when an endpoint is configured;
    None (and nothing set up) otherwise. The exporter reads the standard ``OTEL_EXPORTER_OTLP_*``
    variables (endpoint, headers, timeout)."""
    global _tracer
    if not wanted():
        return None
    if _tracer is not None:  # a second app in this process: one provider serves both
        current = trace.get_tracer_provider()
        return current if isinstance(current, _sdk_provider_class()) else None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("agent_service")
    return provider


def _sdk_provider_class() -> type[TracerProvider]:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider


def enabled() -> bool:
    return _tracer is not None


def span(
    name: str, attributes: Mapping[str, str | int | float | bool] | None = None
) -> AbstractContextManager[Any]:
    """A span around a step of the work, child of the current one; a shared no-op when
    tracing is off."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name, attributes=attributes)


async def traced(
    name: str,
    work: Awaitable[T],
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> T:
    """``await work`` inside a span named ``name``."""
    with span(name, attributes):
        return await work


def annotate(attributes: Mapping[str, str | int | float | bool]) -> None:
    """Add attributes to the current span (the turn's id, known once it is decided)."""
    if _tracer is not None:
        trace.get_current_span().set_attributes(attributes)


def current_ids() -> tuple[str, str] | None:
    """The trace id and span id of the active span (hex, as OTLP back ends show them)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
