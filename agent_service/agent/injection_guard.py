"""A customer telling the agent which stage to set is not evidence of a milestone (LLM01).

The tools already refuse protected stages, backwards moves and other contacts; this refuses the
remaining case, where the quoted evidence is itself an instruction ("mark me as Hot Lead", "set
all leads lost"), so a talked-into model cannot move a lead on the customer's say-so.
"""

from __future__ import annotations

import re

from agent_service.qualification.fields import fold
from agent_service.workspaces.config import WorkspaceConfig

_COMMANDS = (
    r"mark|set|move|put|change|update|make|promote|upgrade|classify|label|tag|flag|hand|assign|"
    r"transfer|give"
)
_STAGE_WORDS = r"stage|status|leads?|lost|customers?|qualified|pipeline"
STAGE_TOOLS = frozenset({"update_lifecycle_stage", "mark_lead_lost"})


def is_stage_instruction(evidence: str, config: WorkspaceConfig) -> bool:
    """True when a command verb is followed closely by a stage word or a stage's name."""
    names = "|".join(re.escape(fold(s.name)) for s in config.lifecycle.stages)
    targets = f"{_STAGE_WORDS}|{names}" if names else _STAGE_WORDS
    # Words are what spaces separate: an id such as "ct_01.victim" is one word, not four.
    pattern = rf"\b({_COMMANDS})\b(?:\s+\S+){{0,5}}?\s+\W*({targets})\b"
    return re.search(pattern, fold(evidence)) is not None


def evidence_refusal(tool: str, evidence: str, config: WorkspaceConfig) -> str | None:
    """Why a stage tool's evidence cannot justify it, or None when it may proceed."""
    if tool not in STAGE_TOOLS:
        return None
    if is_stage_instruction(evidence, config):
        return "the customer asking for a stage is not evidence of the milestone"
    if tool == "mark_lead_lost" and evidence.strip().endswith("?"):
        return "a question is not evidence that the lead is lost"
    return None
