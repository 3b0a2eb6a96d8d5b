"""One trial of one case: set up, play, check; the result as stored in the run directory."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from agent_service.agent.canary import canary_for
from agent_service.agent.deps import AgentDeps
from agent_service.evals.conversation import (
    CaseClock,
    CaseSetup,
    UnsupportedEvent,
    placeholders,
    play,
    scripted_model,
    type_rejected,
)
from agent_service.evals.environment import clone_workspace, warm_up
from agent_service.evals.expectations import (
    Failure,
    evaluators_for,
    tool_stats,
    wrong_lost_marks,
)
from agent_service.evals.groundedness import judge
from agent_service.evals.observation import Observation
from agent_service.evals.suite import Capability, Case, Suite
from agent_service.schemas.contacts import ContactEventIn
from agent_service.teams.hours import TeamConfig

Status = Literal["passed", "failed", "skipped", "error"]
DEFAULT_NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # a Sunday; 14:00 in Kuala Lumpur


@dataclass
class TrialResult:
    suite: str
    case: str
    trial: int
    status: Status
    failures: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, int] = field(default_factory=dict)
    judge: list[dict[str, Any]] = field(default_factory=list)
    attack: dict[str, str] | None = None
    model: str = ""
    seconds: float = 0.0
    # The case's contacts marked lost although the case did not expect it (a gate rule).
    wrong_lost_marks: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.case}#{self.trial}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialResult:
        return cls(**data)


def missing_capability(requires: list[Capability], deps: AgentDeps) -> str | None:
    """The first capability a case needs that this service build lacks."""
    for cap in requires:
        if cap == "conversion_events":
            try:
                ContactEventIn.model_validate({"type": "purchase_completed"})
            except ValidationError as exc:
                if type_rejected(exc):
                    return cap
        elif cap == "team_availability" and not hasattr(TeamConfig, "unavailable_because"):
            return cap
    return None


@dataclass
class TrialContext:
    deps: AgentDeps
    workspace_id: str
    run_id: str
    prompt_overrides: dict[str, str]
    customer_model: BaseChatModel | None = None
    judge_model: BaseChatModel | None = None


async def run_trial(suite: Suite, case: Case, trial: int, ctx: TrialContext) -> TrialResult:
    """Run one case once; errors become an ``error`` result, never an exception."""
    started = time.perf_counter()
    attack = case.attack.model_dump() if case.attack else None
    model_name = "scripted" if case.model is not None else ctx.deps.model_name
    result = TrialResult(suite.name, case.id, trial, "passed", attack=attack, model=model_name)
    missing = missing_capability(case.requires, ctx.deps)
    if missing is not None:
        result.status, result.reason = "skipped", f"requires {missing}, not available yet"
        return result
    if case.simulated is not None and ctx.customer_model is None:
        result.status, result.reason = "skipped", "simulated customer: no customer model configured"
        return result
    obs = Observation()
    try:
        start = case.now or suite.now or DEFAULT_NOW
        deps = dataclasses.replace(ctx.deps, clock=CaseClock(start))
        prefix = f"{ctx.run_id}.{case.id}.t{trial}"
        workspace_id = ctx.workspace_id
        if case.needs_own_workspace:
            workspace_id = await clone_workspace(
                ctx.deps, ctx.workspace_id, start, None, case.knowledge_add
            )
            await warm_up(ctx.deps, workspace_id)
        obs.canary = canary_for(deps.settings, workspace_id)
        if case.model is not None:
            names = placeholders(case, prefix, obs.canary)
            deps.chat_model, deps.model_name = scripted_model(case.model, names), "scripted"
        setup = CaseSetup(deps, workspace_id, prefix, ctx.customer_model, obs.canary)
        await play(case, setup, obs)
        failures = evaluators_for(case).check(obs)
        if case.expect.grounded_judge and ctx.judge_model is not None:
            for i, turn in enumerate(obs.turns):
                if turn.reply:
                    verdict = await judge(ctx.judge_model, turn)
                    result.judge.append(
                        {"turn": i, "votes": verdict.votes, "spread": verdict.spread}
                    )
                    if not verdict.supported:
                        failures.append(Failure("grounded_judge", "judge: unsupported claim", i))
        result.failures = [asdict(f) for f in failures]
        result.status = "failed" if failures else "passed"
        result.tools = tool_stats(case, obs)
    except UnsupportedEvent as exc:
        skip = "conversion_events" in case.requires
        result.status, result.reason = ("skipped" if skip else "error"), str(exc)
    except Exception as exc:  # the report shows it; one broken case must not stop the run
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
    # Counted on errored trials too: a lost mark applied before the error still happened.
    result.wrong_lost_marks = wrong_lost_marks(case, obs)
    result.transcript = obs.as_json()
    result.contacts = {k: asdict(v) for k, v in obs.contacts.items()}
    result.seconds = round(time.perf_counter() - started, 3)
    return result
