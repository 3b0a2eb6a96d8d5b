"""Choosing the report's format: JSON, CSV or an SVG chart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import HTTPException, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.export import to_csv
from agent_service.reports.sources import sync_sources
from agent_service.workspaces.config import load_workspace_config

Format = Literal["json", "csv", "svg"]


def pick_format(requested: str | None, accept: str | None) -> Format:
    """``?format=`` wins; otherwise the Accept header; JSON by default."""
    if requested is not None:
        if requested not in ("json", "csv", "svg"):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"unknown format '{requested}'; use json, csv or svg",
            )
        return requested  # type: ignore[return-value]
    accept = (accept or "").lower()
    if "text/csv" in accept:
        return "csv"
    if "image/svg+xml" in accept:
        return "svg"
    return "json"


def render(
    report: BaseModel,
    fmt: Format,
    name: str,
    chart: Callable[[Any], str] | None = None,
) -> BaseModel | Response:
    if fmt == "csv":
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "svg":
        if chart is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the {name} report has no chart; charts exist for funnel and lost",
            )
        return Response(chart(report), media_type="image/svg+xml")
    return report


async def prepare(session: AsyncSession, workspace_id: str) -> Lifecycle:
    """Bring contact sources up to date (filters and attribution use them); the stages."""
    try:
        await sync_sources(session, workspace_id)
        await session.commit()
    except IntegrityError:
        await session.rollback()  # a concurrent report recorded the same contacts first
    return (await load_workspace_config(session, workspace_id)).lifecycle
