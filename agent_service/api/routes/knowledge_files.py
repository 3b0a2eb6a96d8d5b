"""Knowledge import (rows and files), export and re-index."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from agent_service.api.deps import AdminKey, AdminOrQaKey, AgentDepsDep, UnitOfWork, UnitOfWorkDep
from agent_service.api.errors import documented, invalid
from agent_service.core.language_codes import LanguageCode
from agent_service.knowledge_base import exporting, importing
from agent_service.schemas.knowledge import (
    ImportReportPublic,
    ImportRequest,
    ImportRowError,
    ReindexResult,
)
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


def _report(report: importing.ImportReport) -> ImportReportPublic:
    return ImportReportPublic(
        created=len(report.created_ids),
        updated=len(report.updated_ids),
        unchanged=len(report.unchanged_ids),
        ids=report.created_ids,
        updated_ids=report.updated_ids,
        errors=[ImportRowError(row=e.row, error=e.error) for e in report.errors],
    )


async def _import(
    principal: Principal,
    deps: AgentDepsDep,
    uow: UnitOfWork,
    parsed: importing.Parsed,
    source: str,
) -> ImportReportPublic:
    if len(parsed.entries) + len(parsed.errors) > deps.settings.max_import_rows:
        raise invalid(
            f"at most {deps.settings.max_import_rows} rows per request; "
            "split the file or use `agent-service kb import`"
        )
    now = deps.clock()
    report = await importing.import_entries(deps.knowledge, principal.workspace_id, parsed, now)
    # The entries are stored (and indexed) by the knowledge store's own transactions; the
    # audit row is committed by the unit of work once the route returns.
    uow.audit(
        principal,
        action="knowledge.import",
        target_type="knowledge_entry",
        target_id=None,
        before=None,
        after={
            "source": source,
            **report.counts(),
            "ids": report.created_ids[:50],
            "updated_ids": report.updated_ids[:50],
        },
        now=now,
    )
    return _report(report)


@router.post(
    "/import",
    response_model=ImportReportPublic,
    responses=documented(invalid="Too many rows, or the body is not a list of rows."),
)
async def import_rows(
    body: ImportRequest, principal: AdminKey, deps: AgentDepsDep, uow: UnitOfWorkDep
) -> ImportReportPublic:
    """Bulk-import FAQ rows: the good rows land, each bad row is reported with its number.
    Importing the same rows again creates nothing (see ``external_id``)."""
    return await _import(principal, deps, uow, importing.parse_rows(body.entries), "json rows")


FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "question,answer,language,tags,valid_until\n"
                "Parking?,Free parking in the basement.,en,location,\n",
            },
            "text/markdown": {"schema": {"type": "string"}, "example": "# Prices\nFacial: RM 180"},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/import/{fmt}",
    response_model=ImportReportPublic,
    responses=documented(invalid="The file cannot be read in this format, or lacks a language."),
    openapi_extra=FILE_BODY,
)
async def import_file(
    fmt: importing.ImportFormat,
    request: Request,
    principal: AdminKey,
    deps: AgentDepsDep,
    uow: UnitOfWorkDep,
    language: Annotated[LanguageCode | None, Query(examples=["vi"])] = None,
    tags: Annotated[list[str] | None, Query()] = None,
    title: Annotated[str, Query(max_length=200)] = "",
) -> ImportReportPublic:
    """Import a file as the raw body: faq-json, faq-csv, or a markdown/text/pdf document that
    is split into passages by headings and size (documents need ``language``)."""
    parsed = importing.parse_file(
        fmt,
        await request.body(),
        language=language,
        tags=tags or [],
        title=title,
        max_chars=deps.settings.knowledge_passage_chars,
    )
    return await _import(principal, deps, uow, parsed, fmt)


@router.get(
    "/export",
    responses={
        **documented(),
        200: {
            "description": "Every entry, in the import format.",
            "content": {"application/json": {}, "text/csv": {}},
        },
    },
)
async def export(
    principal: AdminOrQaKey,
    deps: AgentDepsDep,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """All entries as FAQ JSON or CSV, ready to import elsewhere."""
    rows = await deps.knowledge.all_entries(principal.workspace_id)
    if fmt == "csv":
        return Response(exporting.to_csv(rows), media_type="text/csv")
    return Response(exporting.to_json(rows), media_type="application/json")


@router.post("/reindex", response_model=ReindexResult, responses=documented())
async def reindex(principal: AdminKey, deps: AgentDepsDep) -> ReindexResult:
    """Rebuild the vector index from the stored entries."""
    return ReindexResult(indexed=await deps.knowledge.reindex(principal.workspace_id))
