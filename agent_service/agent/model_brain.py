"""The LLM path of a turn under guards: circuit breaker, daily token cap, turn deadline,
the per-conversation turn cap, and rollback of a failed attempt's effects."""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass

from langchain_core.messages import BaseMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agent.chat_model import ModelUnavailable
from agent_service.agent.context import ToolContext
from agent_service.agent.deps import AgentDeps
from agent_service.agent.llm_agent import run_llm_agent
from agent_service.agent.toolbox import execute_tool
from agent_service.agent.usage import ModelUsage
from agent_service.db import models

log = logging.getLogger("agent_service.turn")


@dataclass
class ModelOutcome:
    """What the model path produced; ``skipped`` when the model was not called at all."""

    reply: str = ""
    error: str | None = None
    skipped: bool = False


def endpoint_key(deps: AgentDeps) -> str:
    return f"{deps.settings.openai_base_url or 'default'}|{deps.model_name}"


async def run_model_brain(
    deps: AgentDeps,
    ctx: ToolContext,
    history: list[BaseMessage],
    text: str,
    channel: str,
    usage: ModelUsage,
    canary: str,
    used_today: int,
) -> ModelOutcome:
    """Ask the model unless a guard says not to; on any failure undo what it did and say why.

    ``used_today``: the workspace's model tokens so far today (``model_usage.tokens_used``).
    """
    assert deps.chat_model is not None
    settings = deps.settings
    if used_today >= settings.max_tokens_per_workspace_per_day:
        return ModelOutcome(error="skipped model: daily token cap reached", skipped=True)
    breaker = deps.breakers.for_endpoint(endpoint_key(deps))
    if not breaker.allow():
        return ModelOutcome(error="skipped model: circuit open", skipped=True)

    saved = copy.deepcopy(ctx.contact)
    kept_actions, kept_decisions = len(ctx.actions), len(ctx.stage_decisions)
    kept_tools = len(ctx.tool_log)
    try:
        async with asyncio.timeout(settings.turn_deadline_seconds):
            reply = await run_llm_agent(
                ctx, deps.chat_model, history, text, channel, settings, usage, canary
            )
    except Exception as exc:  # whatever failed, the customer still gets an answer
        breaker.record_failure()
        if isinstance(exc, TimeoutError):
            error = f"model deadline of {settings.turn_deadline_seconds}s exceeded"
        elif isinstance(exc, ModelUnavailable):
            error = f"model unavailable: {exc}"
        else:
            log.exception("the model path failed")
            error = f"model path failed: {type(exc).__name__}: {exc}"
        # Nothing half-applied: the fallback starts from the contact as it was.
        vars(ctx.contact).update(vars(saved))
        del ctx.actions[kept_actions:], ctx.stage_decisions[kept_decisions:]
        ctx.handoff = None
        for record in ctx.tool_log[kept_tools:]:
            if record.status == "applied":
                record.status = "discarded"
        return ModelOutcome(error=error)
    # ``usage`` (also of a failed attempt) is charged by whoever stores the outcome: the
    # turn's save, in its transaction, or the prompt preview.
    breaker.record_success()
    return ModelOutcome(reply=reply)


async def turns_since_release(session: AsyncSession, contact_row_id: str) -> int:
    """Agent turns in this conversation since a human last released it."""
    released = await session.scalar(
        select(func.max(models.Handoff.released_at)).where(
            models.Handoff.contact_id == contact_row_id
        )
    )
    query = select(func.count(models.Turn.id)).where(models.Turn.contact_id == contact_row_id)
    if released is not None:
        query = query.where(models.Turn.created_at > released)
    return int(await session.scalar(query) or 0)


async def conversation_cap_reply(
    deps: AgentDeps, ctx: ToolContext, turns_so_far: int
) -> str | None:
    """At the cap on turns per conversation, hand off and say so truthfully; else None."""
    cap = deps.settings.max_turns_per_conversation
    if turns_so_far < cap:
        return None
    reason = f"the conversation reached {cap} agent turns"
    record = await execute_tool(
        ctx,
        "handoff_to_human",
        {"reason": reason, "summary": f"{reason}; please read the conversation and take over"},
    )
    config = ctx.config
    team = config.team(ctx.handoff.team if ctx.handoff else None) or config.fallback_team
    phrase = "handoff" if record.status == "applied" else "fallback"
    return config.prompts.phrase(
        phrase, ctx.language, business_name=config.name, team=team.name if team else "customer care"
    )
