"""``agent-service kb import|export|reindex``: the knowledge base from the command line."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agent_service.cli.chroma_server import beside_running_server
from agent_service.core.config import get_settings
from agent_service.knowledge_base import exporting, importing
from agent_service.knowledge_base.store import EntryData
from agent_service.workspaces import audit

if TYPE_CHECKING:
    from agent_service.service import Service

app = typer.Typer(help="Import, export and re-index a workspace's knowledge base.")
SUFFIX_FORMATS: dict[str, importing.ImportFormat] = {
    ".json": "faq-json",
    ".csv": "faq-csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
}


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The file to import."),
    workspace: str = typer.Option("ws_demo", help="The workspace id."),
    fmt: str | None = typer.Option(
        None, "--format", help="faq-json, faq-csv, markdown, text or pdf (default: from suffix)."
    ),
    language: str | None = typer.Option(None, help="Language of a document (md, txt, pdf)."),
    tag: list[str] = typer.Option([], help="Tag for every imported entry (repeatable)."),
    batch: int = typer.Option(
        64, min=1, help="Entries stored and indexed per transaction (the bar moves per batch)."
    ),
) -> None:
    """Import FAQ rows or a document, with a progress bar; bad rows are listed, good rows land.

    Running it again with the same file creates nothing: each row's entry (its external_id, or
    else its question and language) is updated when the row differs, else left as it is. A
    running server searches the imported entries at once (no restart)."""
    chosen = fmt or SUFFIX_FORMATS.get(path.suffix.lower())
    if chosen not in SUFFIX_FORMATS.values():
        raise typer.BadParameter(f"cannot tell the format of '{path.name}'; pass --format")
    settings = get_settings()
    try:
        parsed = importing.parse_file(
            chosen,  # type: ignore[arg-type]
            path.read_bytes(),
            language=language,
            tags=tag,
            title=path.stem,
            max_chars=settings.knowledge_passage_chars,
        )
    except importing.ImportFormatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if chosen in ("faq-json", "faq-csv") and tag:
        parsed.entries = [(n, _with_tags(e, tag)) for n, e in parsed.entries]

    async def run() -> tuple[importing.ImportReport, float]:
        from tqdm import tqdm

        service = await _started()
        try:
            started = time.perf_counter()
            with tqdm(total=len(parsed.entries), unit="entry", desc="importing") as bar:
                report = await importing.import_entries(
                    service.deps.knowledge,
                    workspace,
                    parsed,
                    service.deps.clock(),
                    batch=batch,
                    progress=bar.update,
                )
            elapsed = time.perf_counter() - started
            async with service.deps.sessions() as session:
                audit.record(
                    session,
                    workspace_id=workspace,
                    key_id="cli",
                    action="knowledge.import",
                    target_type="knowledge_entry",
                    target_id=None,
                    before=None,
                    after={"source": str(path.name), **report.counts()},
                    now=service.deps.clock(),
                )
                await session.commit()
            return report, elapsed
        finally:
            await service.stop()

    report, elapsed = asyncio.run(run())
    stored = report.stored
    rate = stored / elapsed if elapsed > 0 else 0.0
    typer.echo(
        f"imported {stored} entries into {workspace} in {elapsed:.1f} s "
        f"({rate:.0f} entries/s): {len(report.created_ids)} created, "
        f"{len(report.updated_ids)} updated, {len(report.unchanged_ids)} unchanged; "
        f"{len(report.errors)} row(s) refused"
    )
    for error in report.errors[:20]:
        typer.echo(f"  row {error.row}: {error.error}")
    if len(report.errors) > 20:
        typer.echo(f"  ... and {len(report.errors) - 20} more")
    if report.errors and not stored:
        raise typer.Exit(1)


@app.command()
def export(
    path: Path = typer.Argument(..., help="Where to write; '-' for standard output."),
    workspace: str = typer.Option("ws_demo", help="The workspace id."),
    fmt: str = typer.Option("json", "--format", help="json or csv."),
) -> None:
    """Write every entry as FAQ JSON or CSV (the import format)."""
    if fmt not in ("json", "csv"):
        raise typer.BadParameter("format must be json or csv")

    async def run() -> str:
        service = await _started()
        try:
            rows = await service.deps.knowledge.all_entries(workspace)
        finally:
            await service.stop()
        return exporting.to_csv(rows) if fmt == "csv" else exporting.to_json(rows)

    text = asyncio.run(run())
    if str(path) == "-":
        typer.echo(text)
    else:
        path.write_text(text, "utf-8")
        typer.echo(f"wrote {path}", err=True)


@app.command()
def reindex(workspace: str = typer.Option("ws_demo", help="The workspace id.")) -> None:
    """Rebuild the workspace's vector index from the stored entries."""

    async def run() -> tuple[int, float]:
        from tqdm import tqdm

        service = await _started()
        try:
            started = time.perf_counter()
            total = len(await service.deps.knowledge.all_entries(workspace))
            with tqdm(total=total, unit="entry", desc="indexing") as bar:
                count = await service.deps.knowledge.reindex(workspace, progress=bar.update)
            return count, time.perf_counter() - started
        finally:
            await service.stop()

    count, elapsed = asyncio.run(run())
    typer.echo(f"re-indexed {count} entries of {workspace} in {elapsed:.1f} s")


def _with_tags(entry: EntryData, tags: list[str]) -> EntryData:
    return replace(entry, tags=list(dict.fromkeys([*entry.tags, *tags])))


async def _started() -> Service:
    from agent_service.service import build_service

    service = build_service(beside_running_server(get_settings()))
    await service.start()
    return service
