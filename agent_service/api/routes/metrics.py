"""The Prometheus scrape: every process's counters (core/metrics.py) and the queues' depths,
read from the database at scrape time (they are facts of the database, the same whichever
worker answers). Open by default (no contact data in it); ``metrics_token`` closes it."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response, status
from prometheus_client.core import GaugeMetricFamily

from agent_service.agent.deps import AgentDeps
from agent_service.api.errors import ErrorBody
from agent_service.conversations.inbox import waiting_messages
from agent_service.core.config import Settings
from agent_service.core.metrics import exposition
from agent_service.delivery.outbox import queued_callbacks

log = logging.getLogger("agent_service.metrics")


def metrics_router(settings: Settings) -> APIRouter:
    """The scrape route, at ``metrics_path``."""
    router = APIRouter(tags=["operations"])
    expected = f"Bearer {settings.metrics_token}".encode() if settings.metrics_token else None

    @router.get(
        settings.metrics_path,
        summary="Prometheus metrics of every worker process, in the text exposition format",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {}}, "description": "The metrics."},
            401: {"model": ErrorBody, "description": "`metrics_token` is set and not given."},
        },
    )
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    ErrorBody(
                        detail="the metrics need `Authorization: Bearer <metrics_token>`"
                    ).model_dump_json(),
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    media_type="application/json",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        deps: AgentDeps = request.app.state.agent_deps
        body, content_type = exposition(await _queue_depths(deps))
        return Response(body, media_type=content_type)

    return router


async def _queue_depths(deps: AgentDeps) -> list[GaugeMetricFamily]:
    """The database's queues; left out of this scrape (and logged) when it cannot be read."""
    try:
        async with deps.sessions() as session:
            messages = await waiting_messages(session)
            callbacks = await queued_callbacks(session)
    except Exception:
        log.warning("metrics: the queue depths could not be read", exc_info=True)
        return []
    waiting = GaugeMetricFamily(
        "agent_service_messages_waiting",
        "Customer messages stored and not answered yet (all workspaces, all processes).",
        value=messages,
    )
    queued = GaugeMetricFamily(
        "agent_service_callbacks_queued",
        "Callbacks not sent yet, by status: waiting (for the turn's answer) or pending (due, or "
        "waiting for a retry).",
        labels=["status"],
    )
    for name, count in sorted(callbacks.items()):
        queued.add_metric([name], count)
    return [waiting, queued]
