"""``/docs`` (Swagger UI) and ``/redoc`` that work without the internet.

FastAPI's own pages load their scripts from a CDN: blank on a network without one, and a
third party learns who reads the docs. fastapi-offline ships the Swagger UI and ReDoc bundles
in its wheel and serves them from the app (``/static-offline-docs``). Two things the bundles
would still fetch from elsewhere are closed here: Swagger UI's validator badge (asks
validator.swagger.io unless ``validatorUrl`` is null) and ReDoc's sidebar logo (an image on
cdn.redoc.ly); the pages' Content-Security-Policy lets the browser load nothing from another
host.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
STATIC_URL = "/static-offline-docs"
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def offline_docs_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose /docs and /redoc are served from the package."""
    app = FastAPIOffline(
        static_url=STATIC_URL,
        swagger_ui_parameters={"validatorUrl": None},
        **kwargs,
    )
    app.add_middleware(DocsPolicy)
    return app


class DocsPolicy:
    """The docs pages' Content-Security-Policy: scripts, styles, images and requests from this
    host only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", POLICY.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_policy)


def summarise(router: APIRouter) -> APIRouter:
    """Give each operation without a ``summary`` the first sentence of its docstring: the
    line the docs list it by (FastAPI's fallback is the function's name in title case)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and not route.summary and route.description:
            route.summary = first_sentence(route.description)
    return router


def first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph[: end + 1] if end != -1 else paragraph
