"""Eval runs through the API: what QA asks for and what it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class EvalRunCreate(BaseModel):
    """Run shipped suites on a throwaway copy of this workspace."""

    suites: list[str] = Field(
        min_length=1,
        max_length=20,
        description="Suite names under evals/, e.g. ['faq', 'red_team'].",
    )
    trials: int = Field(default=1, ge=1, le=10, description="Trials per case (pass^k up to this).")
    concurrency: int = Field(default=4, ge=1, le=16)
    prompt_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Prompt name -> body to try instead of the active version (system, phrases).",
    )
    prompt_versions: dict[str, int] = Field(
        default_factory=dict,
        description="Prompt name -> a stored version to use instead of the active one "
        "(e.g. a draft an admin has not activated yet).",
    )


class EvalRunPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "completed", "failed"]
    suites: list[str]
    trials: int
    summary: dict[str, Any] | None = Field(
        default=None, description="Metrics and the gate verdict once the run has finished."
    )
    error: str | None = None
    trials_done: int | None = Field(
        default=None, description="While running: the trials finished so far."
    )
    created_at: datetime
    finished_at: datetime | None


class EvalRunResults(BaseModel):
    """The whole report: per-case results with transcripts, metrics per suite, the gate."""

    id: str
    status: str
    report: dict[str, Any]


class EvalRunPage(BaseModel):
    """Newest first."""

    items: list[EvalRunPublic]


class EvalRunComparison(BaseModel):
    """A finished run against a finished baseline run, as `agent-service eval compare`."""

    id: str
    baseline: str
    passed: bool = Field(description="The gate's verdict with the baseline.")
    reasons: list[str] = Field(description="Why the gate failed (empty when it passed).")
    regressions: list[str] = Field(description="Cases passed in the baseline, not now.")
    improvements: list[str]
    metric_deltas: dict[str, dict[str, Any]] = Field(
        description="Metric name -> {baseline, current, delta}."
    )
