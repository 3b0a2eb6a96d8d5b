"""Throwaway workspaces for eval runs: a copy of a source workspace, so production contacts
are never touched, optionally with other prompt versions or extra knowledge."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agent.deps import AgentDeps
from agent_service.core.errors import Invalid
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.evals.suite import KnowledgeItem
from agent_service.knowledge_base.store import EntryData
from agent_service.prompts.templates import validate

CONFIG_TABLES: tuple[type[models.Base], ...] = (
    models.LifecycleStage,
    models.QualificationField,
    models.Team,
    models.IntentExample,
)


async def clone_workspace(
    deps: AgentDeps,
    source_id: str,
    now: datetime,
    prompt_overrides: dict[str, str] | None = None,
    extra_knowledge: Sequence[KnowledgeItem] = (),
    prompt_pins: dict[str, int] | None = None,
) -> str:
    """A new workspace with the source's configuration, active prompts and knowledge."""
    target_id = new_id("wseval")
    id_map: dict[str, str] = {}
    async with deps.sessions() as session, session.begin():
        source = await session.get(models.Workspace, source_id)
        if source is None:
            raise LookupError(f"no workspace '{source_id}' to copy for the eval run")
        session.add(
            models.Workspace(
                id=target_id,
                name=source.name,
                settings=dict(source.settings or {}),
                created_at=now,
            )
        )
        await session.flush()
        for table in CONFIG_TABLES:
            for row in await _rows(session, table, source_id):
                session.add(
                    table(**{**_columns(row), "id": new_id("cp"), "workspace_id": target_id})
                )
        await _copy_prompts(
            session, source_id, target_id, now, prompt_overrides or {}, prompt_pins or {}
        )
        entries = await _rows(session, models.KnowledgeEntry, source_id)
        for entry in entries:
            id_map[entry.id] = new_id("kb")
            session.add(
                models.KnowledgeEntry(
                    **{**_columns(entry), "id": id_map[entry.id], "workspace_id": target_id}
                )
            )
    await asyncio.to_thread(deps.knowledge.index.copy_entries, source_id, target_id, id_map)
    if extra_knowledge:
        items = [EntryData(k.question, k.answer, k.language, ("eval",)) for k in extra_knowledge]
        await deps.knowledge.add_many(target_id, items, now)
    return target_id


async def knowledge_version(deps: AgentDeps, workspace_id: str) -> str:
    """A short hash of the workspace's knowledge entries: the knowledge-base version."""
    async with deps.sessions() as session:
        entries = await _rows(session, models.KnowledgeEntry, workspace_id)
    content = sorted(
        json.dumps([e.question, e.answer, e.language, str(e.valid_until)], ensure_ascii=False)
        for e in entries
    )
    return "kb-" + hashlib.sha256("\n".join(content).encode()).hexdigest()[:12]


async def prompt_versions(deps: AgentDeps, workspace_id: str) -> dict[str, int]:
    async with deps.sessions() as session:
        rows = await session.scalars(
            select(models.PromptVersion).filter_by(workspace_id=workspace_id, active=True)
        )
        return {p.name: p.version for p in rows}


async def drop_workspace_index(deps: AgentDeps, workspace_id: str) -> None:
    """Free the throwaway workspace's vector collection; its rows stay as the run's record."""
    await asyncio.to_thread(deps.knowledge.index.clear, workspace_id)


class PromptVersionNotFound(Invalid, LookupError):
    """A pinned prompt version the source workspace does not have."""


async def _copy_prompts(
    session: AsyncSession,
    source_id: str,
    target_id: str,
    now: datetime,
    overrides: dict[str, str],
    pins: dict[str, int],
) -> None:
    """The source's active prompts, or a pinned stored version (e.g. a draft not yet active),
    or an override body as a new version on top."""
    rows = list(
        await session.scalars(select(models.PromptVersion).filter_by(workspace_id=source_id))
    )
    for name, version in pins.items():
        if not any(r.name == name and r.version == version for r in rows):
            raise PromptVersionNotFound(f"workspace '{source_id}' has no prompt {name}@{version}")
    chosen = [r for r in rows if (r.version == pins[r.name] if r.name in pins else r.active)]
    for row in chosen:
        values = {**_columns(row), "id": new_id("pv"), "workspace_id": target_id, "active": True}
        body = overrides.get(row.name)
        if body is not None:
            validate(row.name, body)
            # A new version on top of the latest, as an edit through the API would make.
            latest = max(r.version for r in rows if r.name == row.name)
            values.update(body=body, version=latest + 1, created_at=now)
        session.add(models.PromptVersion(**values))


async def _rows(session: AsyncSession, table: type[Any], workspace_id: str) -> list[Any]:
    return list((await session.scalars(select(table).filter_by(workspace_id=workspace_id))).all())


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).column_attrs}


async def warm_up(deps: AgentDeps, workspace_id: str) -> None:
    """One turn through ``run_turn`` before the cases start, so they do not all race to
    embed the workspace's intent examples at once."""
    from agent_service.agent.turn import run_turn
    from agent_service.schemas.messages import ContactIn, InboundMessage

    inbound = InboundMessage(
        message_id=f"eval.warmup.{workspace_id}",
        channel="other",
        contact=ContactIn(id="eval-warmup"),
        text="hello",
        sent_at=deps.clock(),
    )
    await run_turn(deps, workspace_id, inbound)
