"""The answer to a message every attempt at whose turn failed: a truthful fallback.

A poison message (one whose turn always raises) must not wait forever nor block its contact
(the dead-letter pattern). After the last attempt it is answered without the brain: handed to
the workspace's fallback team, as the model's own fallback does, with the phrase that says so
(the team's hours when it is closed); when no handoff can be made, the reply says only that the
message could not be answered. The message is marked ``failed`` with the last error; the
turn records every attempt's model calls (already charged as each attempt failed).
"""

from __future__ import annotations

import time
from typing import Any

from agent_service.agent.answer import Answered, read_turn_inputs
from agent_service.agent.context import ToolContext
from agent_service.agent.deps import AgentDeps
from agent_service.agent.offline_planner import summarize
from agent_service.agent.outcome import TurnRecord, save_silent, save_turn
from agent_service.agent.toolbox import execute_tool
from agent_service.agent.tools.handoff_to_human import unavailable_team_reply
from agent_service.agent.usage import ModelUsage
from agent_service.conversations import inbox
from agent_service.core.ids import new_id
from agent_service.core.language import detect_language
from agent_service.db import models
from agent_service.knowledge_base.index import Hit
from agent_service.schemas.brains import TURN_FAILED
from agent_service.schemas.messages import MessageResponse, Reply


async def answer_failed(
    deps: AgentDeps,
    workspace_id: str,
    message: models.Message,
    attempt_log: list[dict[str, Any]],
) -> Answered:
    """Answer ``message`` with the fallback and mark it ``failed``; raises ``AlreadyAnswered``
    when another worker answered it first."""
    started = time.perf_counter()
    now = deps.clock()
    error = str(attempt_log[-1]["error"]) if attempt_log else "the turn failed"
    inputs = await read_turn_inputs(deps, workspace_id, message)
    config, contact_row = inputs.config, inputs.contact_row
    contact = inbox.contact_state(contact_row)
    contact.handed_back = inputs.handed_back
    answering = message.channel_message_id or message.id
    if contact.owner == "human":  # the humans answer; the agent stays silent, as always
        silent = MessageResponse(
            message_id=answering,
            status="silent",
            reply=None,
            actions=[],
            contact=inbox.contact_summary(contact),
        )
        responses = {message.id: silent}
        due = await save_silent(deps.sessions, workspace_id, responses, now, deps.write_gate)
        return Answered(responses, due)
    locale = (contact_row.locale or "")[:2].lower() or None
    language = detect_language(message.text, contact.language or locale or config.default_language)

    async def no_search(query: str) -> list[Hit]:
        return []

    ctx = ToolContext(
        config=config,
        contact=contact,
        customer_words=[m.text for m in inputs.past if m.direction == "in"] + [message.text],
        language=language,
        now=now,
        search=no_search,
    )
    attempts = len(attempt_log)
    reason = f"the agent cannot answer this message: {attempts} attempt(s) failed"
    record = await execute_tool(
        ctx, "handoff_to_human", {"reason": reason, "summary": summarize(ctx, reason)}
    )
    team = config.team(ctx.handoff.team if ctx.handoff else None) or config.fallback_team
    phrase = "fallback" if record.status == "applied" else "turn_failed"
    reply = unavailable_team_reply(ctx) or config.prompts.phrase(
        phrase,
        language,
        business_name=config.name,
        team=team.name if team else "customer care",
    )
    usage = ModelUsage(
        calls=sum(int(a.get("model_calls", 0)) for a in attempt_log),
        input_tokens=sum(int(a.get("input_tokens", 0)) for a in attempt_log),
        output_tokens=sum(int(a.get("output_tokens", 0)) for a in attempt_log),
    )
    turn_id = new_id("turn")
    response = MessageResponse(
        message_id=answering,
        status="replied",
        reply=Reply(text=reply, language=language),
        actions=ctx.actions,
        contact=inbox.contact_summary(ctx.contact),
        turn_id=turn_id,
        usage=usage.as_turn_usage(TURN_FAILED, deps.model_name, config.prompts.version_label),
    )
    turn = TurnRecord(
        turn_id=turn_id,
        brain=TURN_FAILED,
        model=deps.model_name,
        prompt_version=config.prompts.version_label,
        usage=usage,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        error=f"{attempts} attempt(s) failed; last: {error}",
    )
    responses = {message.id: response}
    due = await save_turn(
        deps.sessions,
        config.id,
        contact_row.id,
        ctx,
        turn,
        responses,
        message.channel,
        deps.write_gate,
        status="failed",
    )
    return Answered(responses, due)
