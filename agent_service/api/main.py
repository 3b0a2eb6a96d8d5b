"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent_service.api.errors import BodySizeLimit
from agent_service.api.routes import contacts, evals, health, messages
from agent_service.core.config import Settings, get_settings
from agent_service.service import Service, build_service

DESCRIPTION = """
The brain behind a lead-qualification inbox. The messaging layer posts each customer message to
`POST /v1/messages` and gets back the reply to send and the lifecycle actions taken.
Authenticate with `Authorization: Bearer <api key>`; the key decides the workspace.
"""


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The API; pass a ``service`` to inject fakes (a scripted model, a fixed clock)."""
    settings = settings or (service.settings if service else get_settings())
    svc = service or build_service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        app.state.service = svc
        app.state.agent_deps = svc.deps
        yield
        eval_runs = getattr(app.state, "eval_runs", None)  # issue 4: API-started eval runs
        if eval_runs is not None:
            await eval_runs.shutdown()
        await svc.stop()

    app = FastAPI(
        title="Lead-qualification agent service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    for router in (health.router, messages.router, contacts.router, evals.router):
        app.include_router(router)
    return app
