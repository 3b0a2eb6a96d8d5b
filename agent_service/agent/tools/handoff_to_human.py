from typing import Annotated

from langchain_core.tools import InjectedToolArg, tool

from agent_service.agent.context import HandoffDecision, ToolContext
from agent_service.lifecycle.policy import PolicyRefusal
from agent_service.schemas.messages import HandoffAction
from agent_service.teams.callback_requests import CALLBACK_REQUESTED
from agent_service.teams.handoff_guard import check_repeat


@tool
async def handoff_to_human(
    reason: str,
    summary: str,
    ctx: Annotated[ToolContext, InjectedToolArg],
    team: str | None = None,
) -> str:
    """Hand the conversation to a human team. This ends your turn; the humans reply next.

    Use it when the customer asks for a person, when the knowledge base cannot answer and you
    would have to guess, or when the lead is qualified. Do not hand off for questions you can
    answer from the knowledge base. If the team already handled a handoff for the same reason
    and gave the conversation back, keep helping unless the customer asks for a person.

    Args:
        reason: why a human is needed, in one sentence.
        summary: what the customer wants and every detail they gave, so nobody asks again.
        team: the team key; leave empty for the default team.
    """
    if not summary.strip():
        raise PolicyRefusal("summary must say what the customer wants and what they told you")
    chosen = ctx.config.team(team) if team else ctx.config.fallback_team
    if chosen is None:
        known = ", ".join(t.key for t in ctx.config.teams) or "none configured"
        raise PolicyRefusal(f"unknown team '{team}'; teams are: {known}")
    if ctx.handoff is not None or ctx.contact.owner == "human":
        raise PolicyRefusal("the conversation is already handed to a human")
    check_repeat(
        ctx.contact.handed_back, reason, ctx.customer_words[-1] if ctx.customer_words else ""
    )
    # A closed or unstaffed team still gets the conversation (it is their queue), but the
    # reply must not pretend someone answers now: see unavailable_team_reply.
    why = chosen.unavailable_because(ctx.now)
    fallback = chosen.fallback if why else None
    if why:
        action = CALLBACK_REQUESTED if fallback == "collect_contact" else "handed off anyway"
        reason = f"{reason} [team unavailable: {why}; {action}]"
    ctx.handoff = HandoffDecision(
        team=chosen.key, reason=reason, summary=summary, fallback=fallback
    )
    ctx.actions.append(HandoffAction(team=chosen.key, reason=reason, summary=summary))
    ctx.contact.owner, ctx.contact.assigned_to = "human", chosen.key
    if why:
        return f"handed off to {chosen.name}, who are unavailable now ({why})"
    return f"handed off to {chosen.name}"


def unavailable_team_reply(ctx: ToolContext) -> str | None:
    """The truthful reply when this turn handed off to a team that cannot answer now."""
    if ctx.handoff is None or ctx.handoff.fallback is None:
        return None
    team = ctx.config.team(ctx.handoff.team)
    if team is None:
        return None
    key = (
        "team_closed_collect_contact"
        if ctx.handoff.fallback == "collect_contact"
        else "team_closed_handoff"
    )
    return ctx.config.prompts.phrase(
        key, ctx.language, business_name=ctx.config.name, team=team.name, hours=team.hours_text()
    )
