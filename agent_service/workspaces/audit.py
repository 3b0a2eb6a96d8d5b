"""The audit log of configuration changes: who (key id), what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.ids import new_id
from agent_service.db import models


def record(
    session: AsyncSession,
    *,
    workspace_id: str,
    key_id: str,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> models.AuditEntry:
    """Add an audit row to the caller's transaction, so the change and its record land together."""
    entry = models.AuditEntry(
        id=new_id("aud"),
        workspace_id=workspace_id,
        key_id=key_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=_jsonable(before),
        after=_jsonable(after),
        created_at=now,
    )
    session.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    """Dates and other values as JSON-friendly text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
