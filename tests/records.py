"""Reading the service's database from a test, through the running client's event loop."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select


def rows(client: TestClient, model: type[Any], **filters: Any) -> list[Any]:
    """All rows of ``model`` matching ``filters``, oldest first when the table has created_at."""
    sessions = client.app_state.deps.sessions  # type: ignore[attr-defined]

    async def fetch() -> list[Any]:
        async with sessions() as session:
            query = select(model).filter_by(**filters)
            if hasattr(model, "created_at"):
                query = query.order_by(model.created_at)
            return list((await session.scalars(query)).all())

    assert client.portal is not None
    return client.portal.call(fetch)
