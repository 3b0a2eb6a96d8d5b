"""The per-process caches of a workspace's configuration and keyword index never go stale.

Triggers move ``workspaces.config_revision`` / ``knowledge_revision`` on every change, whoever
makes it; these tests write through a second engine, as another process (or a person with a
SQL shell) would, and check that the next turn sees the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.db.session import create_engine
from tests.conftest import ADMIN, send

QUALIFYING = "I'd like a facial in KL tomorrow"
Work = Callable[[AsyncSession], Awaitable[Any]]


def other_process(client: TestClient, work: Work) -> Any:
    """Run ``work`` in its own transaction on an engine of its own."""
    url = client.app_state.deps.settings.resolved_database_url  # type: ignore[attr-defined]

    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def revisions(session: AsyncSession) -> tuple[int, int]:
    row = (
        await session.execute(
            select(models.Workspace.config_revision, models.Workspace.knowledge_revision).where(
                models.Workspace.id == "ws_demo"
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def test_a_settings_change_from_another_process_reaches_the_next_turn(
    client: TestClient,
) -> None:
    first = send(client, QUALIFYING, contact="rev-1", locale="en")
    assert [a["team"] for a in first["actions"] if a["type"] == "handoff"] == ["sales"]

    async def route_to_support(session: AsyncSession) -> None:
        workspace = await session.get(models.Workspace, "ws_demo")
        assert workspace is not None
        workspace.settings = {**workspace.settings, "handoff_team": "support"}

    other_process(client, route_to_support)
    second = send(client, QUALIFYING, contact="rev-2", locale="en")
    assert [a["team"] for a in second["actions"] if a["type"] == "handoff"] == ["support"]


def test_every_config_and_knowledge_write_moves_a_revision(client: TestClient) -> None:
    now = datetime.now(UTC)
    steps: list[tuple[str, Work, int]] = [
        (
            "stage added",
            lambda s: _add(
                s,
                models.LifecycleStage(
                    id=new_id("st"),
                    workspace_id="ws_demo",
                    name="Consultation",
                    position=15,
                    lost=False,
                    ai_settable=True,
                    requires_approval=False,
                ),
            ),
            0,
        ),
        (
            "stage renamed",
            lambda s: s.execute(
                update(models.LifecycleStage)
                .where(models.LifecycleStage.name == "Consultation")
                .values(name="Consult")
            ),
            0,
        ),
        (
            "stage deleted",
            lambda s: s.execute(
                delete(models.LifecycleStage).where(models.LifecycleStage.name == "Consult")
            ),
            0,
        ),
        (
            "team goes online",
            lambda s: s.execute(
                update(models.Team).where(models.Team.key == "sales").values(online_agents=3)
            ),
            0,
        ),
        (
            "intent examples removed",
            lambda s: s.execute(
                delete(models.IntentExample).where(models.IntentExample.intent == "spam")
            ),
            0,
        ),
        (
            "question reworded",
            lambda s: s.execute(
                update(models.QualificationField)
                .where(models.QualificationField.workspace_id == "ws_demo")
                .values(question={"en": "Which service?"})
            ),
            0,
        ),
        (
            "prompt edited",
            lambda s: s.execute(
                update(models.PromptVersion)
                .where(models.PromptVersion.workspace_id == "ws_demo")
                .values(body="You are the receptionist.")
            ),
            0,
        ),
        (
            "workspace renamed",
            lambda s: s.execute(
                update(models.Workspace)
                .where(models.Workspace.id == "ws_demo")
                .values(name="Lotus Skin Clinic")
            ),
            0,
        ),
        (
            "entry added",
            lambda s: _add(
                s,
                models.KnowledgeEntry(
                    id=new_id("kb"),
                    workspace_id="ws_demo",
                    question="Tet hours?",
                    answer="Closed.",
                    language="en",
                    tags=[],
                    created_at=now,
                    updated_at=now,
                ),
            ),
            1,
        ),
        (
            "entry deleted",
            lambda s: s.execute(
                delete(models.KnowledgeEntry).where(models.KnowledgeEntry.question == "Tet hours?")
            ),
            1,
        ),
    ]
    before = other_process(client, revisions)
    for label, work, which in steps:
        other_process(client, work)
        after = other_process(client, revisions)
        assert after[which] > before[which], f"{label} did not move the revision"
        assert after[1 - which] == before[1 - which], f"{label} moved the other revision"
        before = after


def test_a_knowledge_change_from_another_process_retakes_the_snapshot(
    client: TestClient,
) -> None:
    knowledge = client.app_state.deps.knowledge  # type: ignore[attr-defined]
    send(client, "Do you have parking at the Bangkok branch?", contact="rev-3")
    # The snapshot of the entries is stamped with the knowledge revision it was taken at.
    assert knowledge.current_snapshot("ws_demo", str(other_process(client, revisions)[1]))
    now = datetime.now(UTC)

    async def add_entry(session: AsyncSession) -> None:
        session.add(
            models.KnowledgeEntry(
                id=new_id("kb"),
                workspace_id="ws_demo",
                question="Parking on Sundays?",
                answer="Free parking on Sundays.",
                language="en",
                tags=[],
                created_at=now,
                updated_at=now,
            )
        )

    other_process(client, add_entry)
    revision = str(other_process(client, revisions)[1])
    assert not knowledge.current_snapshot("ws_demo", revision)
    send(client, "Is parking free on Sundays?", contact="rev-3")  # the next turn retakes it
    snapshot = knowledge.current_snapshot("ws_demo", revision)
    assert snapshot is not None
    assert "Parking on Sundays?" in {e.question for e in snapshot.entries.values()}


async def _add(session: AsyncSession, row: Any) -> None:
    session.add(row)


def test_search_serves_the_stored_entries_not_the_index_copy(client: TestClient) -> None:
    """Chroma gives the nearest ids; the text served is the database's, as of now."""

    def search(query: str) -> list[dict[str, Any]]:
        found = client.post("/v1/knowledge/search", json={"query": query, "k": 3}, headers=ADMIN)
        assert found.status_code == 200, found.text
        return list(found.json()["results"])

    top = search("Do you have parking at the Bangkok branch?")[0]

    async def reword(session: AsyncSession) -> None:
        await session.execute(
            update(models.KnowledgeEntry)
            .where(models.KnowledgeEntry.id == top["id"])
            .values(answer="Parking is free after 6 pm.")
        )

    other_process(client, reword)  # the index still holds the old text
    now_top = search("Do you have parking at the Bangkok branch?")[0]
    assert now_top["id"] == top["id"] and now_top["answer"] == "Parking is free after 6 pm."

    async def remove(session: AsyncSession) -> None:
        await session.execute(
            delete(models.KnowledgeEntry).where(models.KnowledgeEntry.id == top["id"])
        )

    other_process(client, remove)  # the index still holds the entry
    assert top["id"] not in {h["id"] for h in search("Do you have parking at the Bangkok branch?")}
