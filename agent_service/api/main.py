"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SqlTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_service.agent.turn import StillProcessing
from agent_service.api.docs import offline_docs_app, summarise
from agent_service.api.errors import (
    BodySizeLimit,
    ErrorBody,
    database_unavailable,
    domain_error,
    http_error,
    index_unavailable,
)
from agent_service.api.input_guard import InputGuard
from agent_service.api.key_reads import KeyReads
from agent_service.api.request_id import RequestId
from agent_service.api.routes import (
    approvals,
    audit,
    channel_webhooks,
    channels,
    contacts,
    conversion_events,
    delivery,
    evals,
    follow_ups,
    health,
    intents,
    keys,
    knowledge,
    knowledge_files,
    messages,
    metrics,
    prompts,
    qualification,
    reports,
    stages,
    teams,
    workspaces,
)
from agent_service.api.telemetry import install_tracing
from agent_service.console import mount_console
from agent_service.conversations.rate_limits import RateLimited
from agent_service.core.config import Settings, get_settings
from agent_service.core.errors import DomainError
from agent_service.core.heap import freeze_startup_heap
from agent_service.core.logs import configure_logging
from agent_service.core.metrics import process_stopped
from agent_service.knowledge_base.store import IndexUnavailable
from agent_service.service import Service, build_service
from agent_service.workers.background import DeliveryWorkers
from agent_service.workers.follow_ups import start_follow_up_loop, stop_follow_up_loop
from agent_service.workspaces.setup import DEMO_WORKSPACE_ID

log = logging.getLogger("agent_service.api")

DESCRIPTION = """
The brain behind a lead-qualification inbox. The messaging layer posts each customer message to
`POST /v1/messages` and gets back the reply to send and the lifecycle actions taken.
Authenticate with `Authorization: Bearer <api key>`; the key decides the workspace.
"""


def create_app(
    settings: Settings | None = None,
    service: Service | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """The API; pass a ``service`` to inject fakes (a scripted model, a fixed clock).
    ``freeze_heap``: a server process keeps its start-up objects out of the garbage
    collector's full collections once started (core/heap.py); not for tests."""
    settings = settings or (service.settings if service else get_settings())
    svc = service or build_service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        if freeze_heap:
            log.info("start-up heap frozen", extra={"fields": {"objects": freeze_startup_heap()}})
        # Keys generated for the demo workspace are shown once, by the server that serves
        # them: an eval run or a CLI command starting the service prints none.
        for role, plain in svc.printed_keys.items():
            print(f"demo workspace {DEMO_WORKSPACE_ID}: {role} key {plain}", flush=True)
        app.state.service = svc
        app.state.agent_deps = svc.deps
        # The message route's keys, read per tick and kept for a moment.
        app.state.key_reads = KeyReads(svc.deps.front, ttl=settings.api_key_cache_seconds)
        workers: DeliveryWorkers | None = None
        follow_up_task = None
        if settings.http_turns:
            workers = DeliveryWorkers(svc.deps)  # Start-up recovery, callback dispatcher
            await workers.start()
            follow_up_task = start_follow_up_loop(app.state, svc.deps)
        else:
            # Turn workers answer, send the callbacks and run the follow-ups
            # (workers/turn_worker.py): this process stores and acknowledges only.
            svc.deps.store_only()
        yield
        eval_runs = getattr(app.state, "eval_runs", None)  # API-started eval runs
        if eval_runs is not None:
            await eval_runs.shutdown()
        await stop_follow_up_loop(follow_up_task)
        if workers is not None:
            await workers.stop()
        await svc.stop()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # the last spans are sent
        process_stopped()  # with several workers: its gauges leave the sum

    app = offline_docs_app(
        title="Lead-qualification agent service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    tracer_provider = install_tracing(app, svc)
    # A failed indexing stored nothing; say so instead of a bare 500.
    app.add_exception_handler(IndexUnavailable, index_unavailable)
    app.add_middleware(InputGuard)  # inside the size limit: it reads bodies the limit bounds
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        path_limits={"/v1/knowledge/import": settings.max_import_bytes},
    )
    app.add_middleware(RequestId)  # outermost: every response carries X-Request-ID
    configure_logging(settings.log_level, settings.log_json)

    app.add_exception_handler(StarletteHTTPException, http_error)
    # Not found, conflict, invalid: mapped here once instead of in each route.
    app.add_exception_handler(DomainError, domain_error)
    # A database that cannot take the request now: 503 and Retry-After (others stay 500s).
    app.add_exception_handler(SqlTimeout, database_unavailable)
    app.add_exception_handler(DBAPIError, database_unavailable)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            ErrorBody(detail=str(exc)).model_dump(),
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(StillProcessing)
    async def _still_processing(request: Request, exc: StillProcessing) -> JSONResponse:
        # A repeat delivery whose first delivery is still being answered (here or on another
        # replica): nothing is wrong with the request, so say when to come back.
        return JSONResponse(
            ErrorBody(detail=f"{exc}; retry shortly for the stored answer").model_dump(),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.include_router(metrics.metrics_router(settings))
    for router in (
        health.router,
        messages.router,
        contacts.router,
        # Admin
        workspaces.router,
        keys.router,
        knowledge.router,
        knowledge_files.router,
        prompts.router,
        stages.router,
        approvals.router,
        qualification.router,
        teams.router,
        intents.router,
        audit.router,
        # Delivery, and the platforms connected directly
        delivery.router,
        channels.router,
        channel_webhooks.router,
        # Lifecycle
        conversion_events.router,
        follow_ups.router,
        reports.router,
        # Evaluations
        evals.router,
    ):
        app.include_router(summarise(router))
    mount_console(app)  # the admin console: static pages on the API above
    return app
