"""Knowledge import: FAQ rows (JSON, CSV), documents split into passages (Markdown, text, PDF).

Each row is checked on its own; a bad row is reported with its number and the good rows land.
Importing is idempotent: a row names its entry by ``external_id``, or else by its question and
language; an entry already stored is updated when the row differs and left alone when it does
not (``KnowledgeBase.merge_many``), and the report counts the three.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from agent_service.core.errors import Invalid
from agent_service.core.language_codes import LanguageCode, supported_language
from agent_service.knowledge_base.store import EntryData, KnowledgeBase

ImportFormat = Literal["faq-json", "faq-csv", "markdown", "text", "pdf"]


class FaqRow(BaseModel):
    """One question/answer pair as an import provides it."""

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=8000)
    language: LanguageCode
    tags: list[str] = Field(default_factory=list)
    valid_until: date | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if isinstance(value, str):  # CSV cells: "promo; vi"
            return [t.strip() for t in re.split(r"[;|]", value) if t.strip()]
        return value

    @field_validator("valid_until", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("external_id", mode="before")
    @classmethod
    def _external_id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # JSON ids are often numbers
        if isinstance(value, str):
            return value.strip() or None  # an empty CSV cell: no id
        return value

    @field_validator("question", "answer", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def entry(self) -> EntryData:
        return EntryData(
            self.question,
            self.answer,
            self.language,
            self.tags,
            self.valid_until,
            self.external_id,
        )


@dataclass
class RowError:
    row: int
    error: str


@dataclass
class Parsed:
    """The rows that can be stored, with their row numbers, and the rows that cannot."""

    entries: list[tuple[int, EntryData]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    created_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    unchanged_ids: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Rows that are in the knowledge base now, whether created, updated or unchanged."""
        return len(self.created_ids) + len(self.updated_ids) + len(self.unchanged_ids)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created_ids),
            "updated": len(self.updated_ids),
            "unchanged": len(self.unchanged_ids),
            "errors": len(self.errors),
        }


class ImportFormatError(Invalid):
    """The whole file cannot be read (not JSON, not a PDF...)."""


def parse_rows(rows: Sequence[Any], first_row: int = 1) -> Parsed:
    parsed = Parsed()
    for number, raw in enumerate(rows, start=first_row):
        if not isinstance(raw, dict):
            parsed.errors.append(RowError(number, "row must be an object"))
            continue
        try:
            parsed.entries.append((number, FaqRow.model_validate(raw).entry()))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
            )
            parsed.errors.append(RowError(number, problems))
    return _without_repeats(parsed)


def _without_repeats(parsed: Parsed) -> Parsed:
    """A row naming the same entry as an earlier row of the file (its external_id, or with
    none its question and language) is refused: which of the two should the entry be?"""
    seen: dict[tuple[str, ...], int] = {}
    kept = Parsed(errors=list(parsed.errors))
    for number, entry in parsed.entries:
        key = (
            ("external_id", entry.external_id)
            if entry.external_id
            else ("question", entry.language, entry.question)
        )
        first = seen.setdefault(key, number)
        if first == number:
            kept.entries.append((number, entry))
        elif entry.external_id:
            kept.errors.append(RowError(number, f"external_id: repeats row {first}"))
        else:
            kept.errors.append(
                RowError(
                    number,
                    f"question: row {first} has the same question and language "
                    "(give each an external_id, or reword one)",
                )
            )
    kept.errors.sort(key=lambda e: e.row)
    return kept


def parse_faq_json(text: str) -> Parsed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list):
        raise ImportFormatError('expected a JSON list of entries (or {"entries": [...]})')
    return parse_rows(data)


def parse_faq_csv(text: str) -> Parsed:
    """CSV with a header row: question, answer, language, tags (';'-separated), valid_until."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        missing = {"question", "answer", "language"} - set(reader.fieldnames or [])
        if missing:
            raise ImportFormatError(f"CSV header lacks column(s): {', '.join(sorted(missing))}")
        rows = list(reader)
    except csv.Error as exc:
        raise ImportFormatError(f"not valid CSV: {exc}") from exc
    # Row numbers count the header as row 1, as spreadsheets show them.
    return parse_rows(rows, first_row=2)


def split_document(
    text: str,
    language: str,
    tags: Sequence[str],
    title: str,
    max_chars: int,
    markdown: bool,
    valid_until: date | None = None,
) -> Parsed:
    """Passages by heading (Markdown) and then by size; each titled by its heading path."""
    sections: list[tuple[str, str]] = []
    path: list[str] = []
    heading, lines = title, list[str]()
    for line in text.splitlines():
        found = re.match(r"^(#{1,6})\s+(.*)$", line) if markdown else None
        if found:
            sections.append((heading, "\n".join(lines)))
            level = len(found[1])
            path = [*path[: level - 1], found[2].strip()]
            heading, lines = " > ".join([title, *path]) if title else " > ".join(path), []
        else:
            lines.append(line)
    sections.append((heading, "\n".join(lines)))
    parsed = Parsed()
    number = 0
    for name, body in sections:
        chunks = _chunks(body, max_chars)
        for i, chunk in enumerate(chunks):
            number += 1
            question = name if len(chunks) == 1 else f"{name} ({i + 1}/{len(chunks)})"
            parsed.entries.append(
                (number, EntryData(question or title, chunk, language, tags, valid_until))
            )
    return _without_repeats(parsed)


def _chunks(body: str, max_chars: int) -> list[str]:
    """Paragraphs packed into passages of at most ``max_chars`` (a long paragraph is cut)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    chunks: list[str] = []
    current = ""
    for paragraph in paragraphs:
        while len(paragraph) > max_chars:
            cut = paragraph.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                chunks.append(current)
                current = ""
            chunks.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if current and len(current) + 2 + len(paragraph) > max_chars:
            chunks.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ImportFormatError(f"not a readable PDF: {exc}") from exc


def parse_file(
    fmt: ImportFormat,
    data: bytes,
    *,
    language: str | None,
    tags: Sequence[str],
    title: str,
    max_chars: int,
    valid_until: date | None = None,
) -> Parsed:
    """Rows from an uploaded file; documents need a ``language``."""
    if fmt == "pdf":
        text = pdf_text(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"the file is not UTF-8 text: {exc}") from exc
    if fmt == "faq-json":
        return parse_faq_json(text)
    if fmt == "faq-csv":
        return parse_faq_csv(text)
    if not language:
        raise ImportFormatError("documents need a language: pass ?language=vi (or en, th, ms)")
    try:
        language = supported_language(language)
    except ValueError as exc:  # the CLI's --language reaches here unchecked
        raise ImportFormatError(str(exc)) from exc
    return split_document(
        text, language, tags, title, max_chars, markdown=fmt == "markdown", valid_until=valid_until
    )


async def import_entries(
    knowledge: KnowledgeBase,
    workspace_id: str,
    parsed: Parsed,
    now: datetime,
    batch: int = 256,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store the good rows batch by batch, each entry created, updated or left as it is; a
    batch that fails is reported row by row."""
    report = ImportReport(errors=list(parsed.errors))
    for start in range(0, len(parsed.entries), batch):
        chunk = parsed.entries[start : start + batch]
        try:
            merged = await knowledge.merge_many(workspace_id, [e for _, e in chunk], now)
        except Exception as exc:
            report.errors.extend(RowError(n, f"not stored: {exc}") for n, _ in chunk)
        else:
            report.created_ids.extend(merged.created)
            report.updated_ids.extend(merged.updated)
            report.unchanged_ids.extend(merged.unchanged)
        if progress is not None:
            progress(len(chunk))
    report.errors.sort(key=lambda e: e.row)
    return report
