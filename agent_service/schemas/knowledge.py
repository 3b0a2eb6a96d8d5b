"""Knowledge-base entries, listing, search preview, import and export."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent_service.core.language_codes import CHOICES, LanguageCode
from agent_service.schemas.base import Patch

ENTRY_EXAMPLE: dict[str, Any] = {
    "question": "Giá chăm sóc da mặt cơ bản là bao nhiêu?",
    "answer": "Chăm sóc da mặt cơ bản giá 600,000 VND tại TP. Hồ Chí Minh.",
    "language": "vi",
    "tags": ["price", "facial"],
    "valid_until": None,
}


LANGUAGE = f"One of {CHOICES}; a tag such as vi-VN is stored as vi."

EXTERNAL_ID = (
    "The entry's id in the system it comes from (unique in the workspace); an import row with "
    "the same external_id updates this entry instead of adding another."
)


class EntryCreate(BaseModel):
    """A question/answer pair; expired entries (``valid_until`` in the past) are not retrieved."""

    model_config = ConfigDict(json_schema_extra={"examples": [ENTRY_EXAMPLE]})

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=8000)
    language: LanguageCode = Field(description=LANGUAGE)
    tags: list[str] = Field(default_factory=list, max_length=50)
    valid_until: date | None = Field(default=None, description="Last day it may be retrieved.")
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"\S", description=EXTERNAL_ID
    )


class EntryUpdate(Patch):
    """New values; omitted fields keep their current value."""

    clearable = frozenset({"valid_until", "external_id"})

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"answer": "Giá mới: 650,000 VND.", "tags": ["price"]}]}
    )

    question: str | None = Field(default=None, min_length=1, max_length=2000)
    answer: str | None = Field(default=None, min_length=1, max_length=8000)
    language: LanguageCode | None = Field(default=None, description=LANGUAGE)
    tags: list[str] | None = Field(default=None, max_length=50)
    valid_until: date | None = None
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"\S", description=EXTERNAL_ID
    )


class EntryPublic(BaseModel):
    id: str
    external_id: str | None = None
    question: str
    answer: str
    language: str
    tags: list[str]
    valid_until: date | None
    created_at: datetime
    updated_at: datetime


class EntryPage(BaseModel):
    items: list[EntryPublic]
    total: int
    offset: int
    limit: int


class SearchRequest(BaseModel):
    """A customer message, searched exactly as the agent searches it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"query": "facial giá bao nhiêu?", "k": 3}]}
    )

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=3, ge=1, le=20)


class SearchResult(BaseModel):
    id: str
    score: float = Field(
        description="The entry's best cosine similarity to the message (the planner's answer "
        "threshold reads it)."
    )
    fused_score: float | None = Field(
        default=None,
        description="How far the entry stands out by the fused signals (standard deviations "
        "above the workspace's mean, per signal); the order follows it. None for dense only.",
    )
    keyword_score: float | None = Field(
        default=None, description="BM25 keyword score in [0, 1] when keywords are fused."
    )
    question: str
    answer: str
    language: str


class SearchResponse(BaseModel):
    """Best first."""

    results: list[SearchResult]


class ImportRequest(BaseModel):
    """FAQ rows; each row is checked on its own, so one bad row does not stop the others."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"entries": [ENTRY_EXAMPLE, {"question": "missing answer", "language": "en"}]}
            ]
        }
    )

    entries: list[dict[str, Any]] = Field(min_length=1)


class ImportRowError(BaseModel):
    row: int = Field(description="1-based row number (CSV: the header is row 1).")
    error: str


class ImportReportPublic(BaseModel):
    """A re-import of the same rows creates nothing: each row's entry (by ``external_id``, or
    else by question and language) is updated when the row differs, else left unchanged."""

    created: int
    updated: int = Field(description="Entries already stored that the rows changed.")
    unchanged: int = Field(description="Entries already stored exactly as the rows give them.")
    ids: list[str] = Field(description="The created entries' ids.")
    updated_ids: list[str]
    errors: list[ImportRowError]


class ReindexResult(BaseModel):
    indexed: int
