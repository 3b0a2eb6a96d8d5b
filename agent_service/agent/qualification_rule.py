"""When a lead becomes qualified: move it to the configured stage and hand it to the team."""

from __future__ import annotations

from agent_service.agent.context import ToolContext
from agent_service.agent.offline_planner import summarize
from agent_service.agent.toolbox import execute_tool


async def apply_qualification_rule(ctx: ToolContext, evidence: str) -> str | None:
    """Runs after the brain's own tool calls; returns the phrase to add to the reply, if any."""
    config, contact = ctx.config, ctx.contact
    qualification = config.qualification
    if (
        not qualification.is_qualified(contact.fields)
        or contact.lost
        or contact.owner != "ai"
        or ctx.handoff is not None
    ):
        return None
    known = ", ".join(f"{k}={contact.fields[k]}" for k in qualification.qualified_when)
    target = config.lifecycle.find(qualification.qualified_stage or "")
    current = config.lifecycle.find(contact.lifecycle_stage)
    if target is not None and current is not None and current.position < target.position:
        await execute_tool(
            ctx,
            "update_lifecycle_stage",
            {
                "stage": target.name,
                "reason": f"qualified: {known}",
                "evidence": evidence,
                "confidence": 1.0,
            },
        )
    if qualification.handoff_team is None:
        return None
    reason = f"the lead is qualified ({known})"
    record = await execute_tool(
        ctx,
        "handoff_to_human",
        {"reason": reason, "summary": summarize(ctx, reason), "team": qualification.handoff_team},
    )
    if record.status != "applied":
        return None
    team = config.team(qualification.handoff_team)
    return config.prompts.phrase(
        "qualified_handoff",
        ctx.language,
        business_name=config.name,
        team=team.name if team else qualification.handoff_team,
    )
