"""The report roll-ups (stage stays, first replies, minutes to handoff) follow every write.

Checked as an invariant: after messages, turns, handoffs and events through the HTTP API, the
stored roll-ups equal what ``stays_of`` and the messages give when recomputed from scratch; and
the migration's backfill fills them for a history written before it existed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models
from agent_service.db.migrate import alembic_config
from agent_service.db.session import create_engine
from agent_service.lifecycle.stays import Change, stays_of
from tests.conftest import ADMIN, CHANNEL, send


async def _rollups(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """The stored roll-ups next to the same figures recomputed from the source rows."""
    sc, st, msg = models.StageChange, models.StageStay, models.Message
    async with sessions() as session:
        changes = (
            await session.execute(
                select(
                    sc.id,
                    sc.workspace_id,
                    sc.contact_id,
                    sc.kind,
                    sc.to_stage,
                    sc.actor,
                    sc.created_at,
                ).order_by(sc.contact_id, sc.created_at, sc.id)
            )
        ).all()
        rebuilt = [
            row
            for _, group in groupby((Change(*c) for c in changes), key=lambda c: c.contact_id)
            for row in stays_of(list(group))
        ]
        columns = [c.name for c in st.__table__.columns]
        stored = [
            dict(zip(columns, row, strict=True))
            for row in (
                await session.execute(
                    select(*st.__table__.columns).order_by(st.contact_id, st.entered_at)
                )
            ).all()
        ]
        first_out = (
            select(func.min(msg.created_at))
            .where(msg.contact_id == models.ContactSource.contact_id, msg.direction == "out")
            .scalar_subquery()
        )
        sources = (
            await session.execute(
                select(
                    models.ContactSource.first_reply_at,
                    first_out,
                    models.ContactSource.first_response_seconds,
                    models.ContactSource.first_message_at,
                )
            )
        ).all()
        handoffs = (
            await session.execute(
                select(models.Handoff.minutes_after_first_message, models.Handoff.created_at)
            )
        ).all()
    key = [(r["contact_id"], r["entered_at"], r["stage_change_id"]) for r in rebuilt]
    order = sorted(range(len(rebuilt)), key=lambda i: key[i])
    return {
        "stored": sorted(
            stored, key=lambda r: (r["contact_id"], r["entered_at"], r["stage_change_id"])
        ),
        "rebuilt": [rebuilt[i] for i in order],
        "sources": sources,
        "handoffs": handoffs,
    }


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_rollups_follow_turns_handoffs_and_events(client: TestClient) -> None:
    def event(contact: str, **body: Any) -> None:
        response = client.post(f"/v1/contacts/{contact}/events", json=body, headers=CHANNEL)
        assert response.status_code == 200, response.text

    send(client, "Hello", contact="r-a")
    send(client, "I want to talk to a person", contact="r-b")  # a handoff, at once
    event("r-a", type="stage_set_by_human", event_id="h-1", stage="Hot Lead")
    event("r-a", type="checkout_started", event_id="c-1")
    event("r-a", type="purchase_completed", event_id="p-1", value=100, currency="MYR")
    send(client, "Hi", contact="r-c")
    event("r-c", type="stage_set_by_human", event_id="h-2", stage="Unqualified", reason="spam")
    event("r-c", type="purchase_completed", event_id="p-2", value=50, currency="MYR")
    report = client.get("/v1/reports/funnel", headers=ADMIN)  # records the contacts' sources
    assert report.status_code == 200, report.text
    send(client, "Thanks", contact="r-a")  # a later reply must not move the first one

    sessions = client.app_state.deps.sessions  # type: ignore[attr-defined]
    found = client.portal.call(_rollups, sessions)  # type: ignore[attr-defined]

    # At least: 3 first messages, Hot Lead, Payment, Customer twice and a lost mark.
    assert len(found["stored"]) == len(found["rebuilt"]) >= 7
    for stored, rebuilt in zip(found["stored"], found["rebuilt"], strict=True):
        for name in ("entered_at", "left_at", "previous_entry_at"):
            stored[name] = _aware(stored[name]) if stored[name] is not None else None
        assert stored == rebuilt
    assert len(found["sources"]) == 3
    for first_reply_at, first_out, seconds, first_message_at in found["sources"]:
        assert _aware(first_reply_at) == _aware(first_out)
        expected = (_aware(first_out) - _aware(first_message_at)).total_seconds()
        assert seconds is not None and abs(seconds - expected) < 1e-6
    assert len(found["handoffs"]) == 1 and found["handoffs"][0][0] is not None
    stages = {s["stage"]: s for s in report.json()["stages"]}
    assert stages["Customer"]["entered"] == 2  # r-c came back from Unqualified by buying


def test_a_source_recorded_before_the_first_reply_gets_that_reply(client: TestClient) -> None:
    """A turn's reply is a Core insert, past the flush hook: it records the first reply itself."""
    sessions = client.app_state.deps.sessions  # type: ignore[attr-defined]
    first_at = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

    async def recorded_source() -> None:  # as a report run before any reply would leave it
        async with sessions() as session, session.begin():
            session.add(
                models.Contact(
                    id="ct_early_source",
                    workspace_id="ws_demo",
                    external_id="r-src",
                    lifecycle_stage="New Lead",
                    lost=False,
                    owner="ai",
                    fields={},
                    created_at=first_at,
                    updated_at=first_at,
                )
            )
            await session.flush()
            session.add(
                models.ContactSource(
                    contact_id="ct_early_source",
                    workspace_id="ws_demo",
                    channel="whatsapp",
                    first_message_at=first_at,
                )
            )

    client.portal.call(recorded_source)  # type: ignore[attr-defined]
    send(client, "Any promotions this month?", contact="r-src")
    send(client, "Thanks", contact="r-src")  # a later reply must not move it
    found = client.portal.call(_rollups, sessions)  # type: ignore[attr-defined]
    [(first_reply_at, first_out, seconds, _)] = found["sources"]
    assert first_reply_at is not None and _aware(first_reply_at) == _aware(first_out)
    assert seconds == (_aware(first_out) - first_at).total_seconds()


def test_the_migration_backfills_a_history_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def upgrade(connection: Any, revision: str) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def run() -> dict[str, Any]:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(upgrade, "0006")
            # Core inserts of the tables as they were at 0006: no roll-up columns yet.
            rows: dict[str, list[dict[str, Any]]] = {
                "workspaces": [{"id": "ws", "name": "w", "settings": {}, "created_at": t0}],
                "contacts": [
                    {
                        "id": "ct1",
                        "workspace_id": "ws",
                        "external_id": "x",
                        "lifecycle_stage": "B",
                        "lost": False,
                        "owner": "ai",
                        "fields": {},
                        "created_at": t0,
                        "updated_at": t0,
                    },
                ],
                "messages": [
                    {
                        "id": f"m{i}",
                        "workspace_id": "ws",
                        "contact_id": "ct1",
                        "direction": d,
                        "channel": "web",
                        "text": "t",
                        "status": "processed",
                        "sent_at": t0 + timedelta(seconds=s),
                        "created_at": t0 + timedelta(seconds=s),
                    }
                    for i, (d, s) in enumerate([("in", 0), ("out", 3), ("in", 60), ("out", 62)])
                ],
                "stage_changes": [
                    {
                        "id": f"s{i}",
                        "workspace_id": "ws",
                        "contact_id": "ct1",
                        "kind": "stage",
                        "to_stage": stage,
                        "actor": "ai",
                        "reason": "",
                        "evidence": "",
                        "created_at": t0 + timedelta(hours=h),
                    }
                    for i, (stage, h) in enumerate([("A", 0), ("B", 2)])
                ],
                "handoffs": [
                    {
                        "id": "h1",
                        "workspace_id": "ws",
                        "contact_id": "ct1",
                        "team": "sales",
                        "reason": "r",
                        "summary": "s",
                        "created_at": t0 + timedelta(minutes=30),
                    }
                ],
                "contact_sources": [
                    {
                        "contact_id": "ct1",
                        "workspace_id": "ws",
                        "channel": "web",
                        "first_message_at": t0,
                    }
                ],
            }
            for name, values in rows.items():
                table = models.Base.metadata.tables[name]
                known = {c.name for c in table.columns} - {
                    "first_reply_at",
                    "first_response_seconds",
                    "minutes_after_first_message",
                }
                await connection.execute(
                    insert(table), [{k: v for k, v in r.items() if k in known} for r in values]
                )
            await connection.run_sync(upgrade, "head")
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        found = await _rollups(sessions)
        await engine.dispose()
        return found

    found = asyncio.run(run())
    assert [(r["stage"], r["hours"]) for r in found["stored"]] == [("A", 2.0), ("B", None)]
    assert found["stored"][0]["later_stages"] == '"A""B"'
    first_reply_at, _, seconds, _ = found["sources"][0]
    assert _aware(first_reply_at) == t0 + timedelta(seconds=3) and seconds == 3.0
    assert found["handoffs"][0][0] == 30.0
