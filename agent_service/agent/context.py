"""What a turn works on: the contact's state, the decisions made so far, and the tool log."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent_service.conversations.contact_state import ContactState
from agent_service.knowledge_base.index import Hit
from agent_service.qualification.fields import fold
from agent_service.schemas.messages import Action
from agent_service.workspaces.config import WorkspaceConfig


@dataclass
class StageDecision:
    """A stage move or lost mark with its audit trail."""

    kind: str  # "stage" | "lost"
    from_stage: str | None
    to_stage: str
    reason: str
    evidence: str
    confidence: float | None


@dataclass
class HandoffDecision:
    team: str
    reason: str
    summary: str
    # Set when the team is closed or nobody is online ("collect_contact" or
    # "handoff_anyway"), so the reply can say so truthfully.
    fallback: str | None = None


@dataclass
class CallbackDetails:
    """Contact details the customer gave for a call-back, for the contact and the handoff."""

    phone: str | None
    email: str | None
    # The open handoff whose summary gains them; None when it is this turn's own handoff.
    handoff_id: str | None
    summary: str  # that handoff's summary with the details


@dataclass
class ToolCallRecord:
    """A tool call as the model made it, and what the service did with it."""

    name: str
    args: dict[str, Any]
    status: str  # "applied" | "refused" | "error"
    result: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "status": self.status, "result": self.result}


@dataclass
class ToolContext:
    """Handed to every tool; the model never sees or chooses any of it."""

    config: WorkspaceConfig
    contact: ContactState
    customer_words: list[str]
    language: str
    now: datetime
    search: Callable[[str], Awaitable[list[Hit]]]
    actions: list[Action] = field(default_factory=list)
    stage_decisions: list[StageDecision] = field(default_factory=list)
    # Moves into stages that need a human's approval, stored as pending, not applied.
    pending_approvals: list[StageDecision] = field(default_factory=list)
    handoff: HandoffDecision | None = None
    callback: CallbackDetails | None = None
    tool_log: list[ToolCallRecord] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)

    def is_customer_quote(self, evidence: str) -> bool:
        """True when ``evidence`` quotes (or closely paraphrases) what the customer wrote."""
        wanted = fold(evidence).strip(" \"'“”.!?")
        if not wanted:
            return False
        said = [fold(w) for w in self.customer_words]
        if any(wanted in s for s in said):
            return True
        tokens = re.findall(r"\w+", wanted)
        spoken = set(re.findall(r"\w+", " ".join(said)))
        return bool(tokens) and sum(t in spoken for t in tokens) / len(tokens) >= 0.6
