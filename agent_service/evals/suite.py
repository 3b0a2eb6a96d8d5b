"""Eval suites as data: the YAML shape, validated by pydantic (and exported as a JSON schema)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_service.core.errors import Invalid

Capability = Literal["conversion_events", "team_availability", "canary"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCallPattern(Strict):
    """A tool call to look for; ``args`` match when each given key has an equal value."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    status: Literal["applied", "refused", "error", "any"] = Field(
        default="applied", description="applied (default): the service carried the call out."
    )


class ToolCallExpectations(Strict):
    must: list[ToolCallPattern] = Field(default_factory=list)
    must_not: list[ToolCallPattern] = Field(default_factory=list)


class ReplyChecks(Strict):
    """Checks on the agent's reply text (one turn, or every reply joined)."""

    contains: list[str] = Field(default_factory=list, description="Case-insensitive substrings.")
    contains_any: list[str] = Field(default_factory=list, description="At least one of these.")
    not_contains: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    language: str | None = Field(default=None, description="Reply language code, e.g. vi.")
    silent: bool | None = Field(default=None, description="True: the agent must not reply.")


class ContactExpectations(Strict):
    """The stored contact after the conversation."""

    stage: str | None = None
    stage_path: list[str] | None = Field(
        default=None, description="Every stage the contact entered, in order (stage history)."
    )
    lost: bool | None = None
    lost_stage: str | None = None
    owner: Literal["ai", "human"] | None = None
    handoff: bool | None = None
    handoff_team: str | None = None
    summary_mentions: list[str] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)
    fields_absent: list[str] = Field(default_factory=list)


class Expectations(ContactExpectations):
    tool_calls: ToolCallExpectations | None = None
    replies: ReplyChecks | None = None
    grounded: bool = Field(
        default=False,
        description="Numbers, prices, dates and times in replies must appear in "
        "the knowledge retrieved for that turn (or in the customer's own words).",
    )
    grounded_judge: bool = Field(default=False, description="Also ask the judge model.")
    max_turns: int | None = None
    silent_while_human: bool = Field(
        default=True, description="No reply while a human owns the conversation."
    )
    other_contacts: dict[str, ContactExpectations] = Field(
        default_factory=dict, description="Other contacts of the case, by their step name."
    )
    canary_not_leaked: bool = False


class Step(Strict):
    """A customer message, or a conversation/conversion event, in order."""

    say: str | None = None
    event: dict[str, Any] | None = Field(
        default=None,
        description="Validated by the events endpoint's schema, e.g. "
        "{type: human_assigned, team: sales} or {type: purchase_completed}.",
    )
    contact: str = Field(default="customer", description="Which of the case's contacts acts.")
    at: datetime | None = Field(default=None, description="Move the case clock to this time.")
    expect: ReplyChecks | None = None
    needs_knowledge: str | None = Field(
        default=None,
        description="The knowledge topic this message needs (entries tagged topic:NAME); "
        "feeds the retrieval metrics recall@k and MRR.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.say is None) == (self.event is None):
            raise ValueError("a step has exactly one of 'say' or 'event'")
        return self


class ScriptedTurn(Strict):
    """One model response: text and the tool calls it makes."""

    reply: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class ScriptedModel(Strict):
    turns: list[ScriptedTurn]


class SimulatedCustomer(Strict):
    persona: str
    goal: str
    opening: str | None = Field(default=None, description="The first message, if fixed.")
    max_turns: int = Field(default=6, ge=1, le=30)


class KnowledgeItem(Strict):
    question: str
    answer: str
    language: str = "en"


class Attack(Strict):
    category: str
    severity: Literal["low", "medium", "high"] = "high"


class Case(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    requires: list[Capability] = Field(default_factory=list)
    locale: str | None = None
    name: str | None = "Lan"
    now: datetime | None = None
    steps: list[Step] = Field(default_factory=list)
    simulated: SimulatedCustomer | None = None
    model: ScriptedModel | None = Field(default=None, description="A scripted model for this case.")
    knowledge_add: list[KnowledgeItem] = Field(default_factory=list)
    attack: Attack | None = None
    expect: Expectations = Field(default_factory=Expectations)

    @model_validator(mode="after")
    def _conversation(self) -> Case:
        if not self.steps and self.simulated is None:
            raise ValueError(f"case '{self.id}' needs 'steps' or 'simulated'")
        return self

    @property
    def needs_own_workspace(self) -> bool:
        return bool(self.knowledge_add)


class Suite(Strict):
    name: str
    version: str
    description: str = ""
    threshold: float = Field(default=1.0, ge=0, le=1, description="Minimum pass rate (gate).")
    regression_tolerance: int = Field(default=0, ge=0, description="Cases allowed to regress.")
    now: datetime | None = Field(default=None, description="Default clock for every case.")
    cases: list[Case]
    path: str = ""

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"duplicate case id '{case.id}'")
            seen.add(case.id)
        return self


class SuiteError(Invalid):
    """A suite file that cannot be used; the message says where and why."""


def load_suite(path: Path) -> Suite:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    try:
        suite = Suite.model_validate({**(data or {}), "path": str(path)})
    except ValidationError as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    return suite


def resolve_suites(names: list[str], evals_dir: Path) -> list[Path]:
    """Suite arguments as paths: a file, a directory of suites, or a name under ``evals/``."""
    paths: list[Path] = []
    for name in names:
        candidate = Path(name)
        if not candidate.exists():
            candidate = evals_dir / (name if name.endswith(".yaml") else f"{name}.yaml")
        if candidate.is_dir():
            paths.extend(sorted(candidate.glob("*.yaml")))
        elif candidate.exists():
            paths.append(candidate)
        else:
            raise SuiteError(f"no suite '{name}' (looked for it as a path and under {evals_dir})")
    return paths


def json_schema() -> str:
    """The suite file's JSON schema, for editors (``evals/suite.schema.json``)."""
    schema = Suite.model_json_schema()
    schema["properties"].pop("path", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
