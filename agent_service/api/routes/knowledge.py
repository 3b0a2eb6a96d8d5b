"""The knowledge base: entries, search preview, import, export and re-index."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.api.deps import AdminKey, AdminOrQaKey, AgentDepsDep
from agent_service.api.errors import documented, not_found
from agent_service.core.language_codes import LanguageCode
from agent_service.db.models import KnowledgeEntry
from agent_service.knowledge_base.retrieval import retrieve
from agent_service.knowledge_base.store import (
    BeforeCommit,
    EntryData,
    EntryFilter,
    entry_snapshot,
)
from agent_service.schemas.knowledge import (
    EntryCreate,
    EntryPage,
    EntryPublic,
    EntryUpdate,
    SearchRequest,
    SearchResponse,
    SearchResult,
)
from agent_service.workspaces import audit
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
NOT_FOUND = "No such entry in this workspace."


def _public(row: KnowledgeEntry) -> EntryPublic:
    return EntryPublic.model_validate(row, from_attributes=True)


def _audited(
    principal: Principal, action: str, now: datetime, before: dict[str, Any] | None = None
) -> BeforeCommit:
    """Records the change in the same transaction as the change itself."""

    async def hook(session: AsyncSession, rows: list[KnowledgeEntry]) -> None:
        for row in rows:
            deleting = action == "knowledge.delete"
            audit.record(
                session,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                action=action,
                target_type="knowledge_entry",
                target_id=row.id,
                before=entry_snapshot(row) if deleting else before,
                after=None if deleting else entry_snapshot(row),
                now=now,
            )

    return hook


@router.post(
    "/entries",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryPublic,
    responses=documented(
        invalid="A field is missing, empty or too long.",
        conflict="Another entry of the workspace has this external_id.",
    ),
)
async def create_entry(body: EntryCreate, principal: AdminKey, deps: AgentDepsDep) -> EntryPublic:
    """Store and index an entry; the agent can retrieve it from the next message on."""
    now = deps.clock()
    data = EntryData(
        body.question, body.answer, body.language, body.tags, body.valid_until, body.external_id
    )
    rows = await deps.knowledge.add_many(
        principal.workspace_id, [data], now, _audited(principal, "knowledge.create", now)
    )
    return _public(rows[0])


@router.get("/entries", response_model=EntryPage, responses=documented())
async def list_entries(
    principal: AdminOrQaKey,
    deps: AgentDepsDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    language: Annotated[LanguageCode | None, Query(examples=["vi"])] = None,
    tag: Annotated[str | None, Query(max_length=100, examples=["price"])] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in question or answer.")
    ] = None,
) -> EntryPage:
    """Entries, newest first, filtered by language, tag and text."""
    rows, total = await deps.knowledge.list_entries(
        principal.workspace_id, EntryFilter(language, tag, q), offset, limit
    )
    return EntryPage(items=[_public(r) for r in rows], total=total, offset=offset, limit=limit)


@router.get(
    "/entries/{entry_id}", response_model=EntryPublic, responses=documented(not_found=NOT_FOUND)
)
async def get_entry(entry_id: str, principal: AdminOrQaKey, deps: AgentDepsDep) -> EntryPublic:
    """One entry, as stored: question, answer, language, tags, validity."""
    row = await deps.knowledge.get(principal.workspace_id, entry_id)
    if row is None:
        raise not_found(f"knowledge entry '{entry_id}'")
    return _public(row)


@router.put(
    "/entries/{entry_id}",
    response_model=EntryPublic,
    responses=documented(
        not_found=NOT_FOUND,
        invalid="A field is empty or too long.",
        conflict="Another entry of the workspace has this external_id.",
    ),
)
async def update_entry(
    entry_id: str, body: EntryUpdate, principal: AdminKey, deps: AgentDepsDep
) -> EntryPublic:
    """Change an entry; retrieval reflects the change from the next message on."""
    current = await deps.knowledge.get(principal.workspace_id, entry_id)
    if current is None:
        raise not_found(f"knowledge entry '{entry_id}'")
    given = body.model_fields_set
    data = EntryData(
        question=body.question or current.question,
        answer=body.answer or current.answer,
        language=body.language or current.language,
        tags=body.tags if body.tags is not None else current.tags,
        valid_until=body.valid_until if "valid_until" in given else current.valid_until,
        external_id=body.external_id if "external_id" in given else current.external_id,
    )
    now = deps.clock()
    hook = _audited(principal, "knowledge.update", now, entry_snapshot(current))
    updated = await deps.knowledge.update(principal.workspace_id, entry_id, data, now, hook)
    if updated is None:
        raise not_found(f"knowledge entry '{entry_id}'")
    return _public(updated[0])


@router.delete(
    "/entries/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(not_found=NOT_FOUND),
)
async def delete_entry(entry_id: str, principal: AdminKey, deps: AgentDepsDep) -> Response:
    """Remove an entry from the database and the index; it is never retrieved again."""
    now = deps.clock()
    hook = _audited(principal, "knowledge.delete", now)
    if await deps.knowledge.delete(principal.workspace_id, entry_id, hook) is None:
        raise not_found(f"knowledge entry '{entry_id}'")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/search", response_model=SearchResponse, responses=documented())
async def search(
    body: SearchRequest, principal: AdminOrQaKey, deps: AgentDepsDep
) -> SearchResponse:
    """What the agent would retrieve for this message, with scores, best first."""
    hits = await retrieve(
        deps.knowledge,
        deps.embeddings,
        principal.workspace_id,
        body.query,
        body.k,
        deps.clock().date(),
    )
    return SearchResponse(
        results=[
            SearchResult(
                id=h.id,
                score=h.score,
                keyword_score=h.keyword_score,
                fused_score=h.fused_score,
                question=h.question,
                answer=h.answer,
                language=h.language,
            )
            for h in hits
        ]
    )
