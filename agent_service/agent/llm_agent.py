"""The LLM agent: one model call in the common case, tools executed under the policy."""

from __future__ import annotations

import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent_service.agent.chat_model import invoke_model
from agent_service.agent.context import ToolCallRecord, ToolContext
from agent_service.agent.knowledge_context import quote_passages
from agent_service.agent.toolbox import execute_tool
from agent_service.agent.tools import TOOLS
from agent_service.agent.usage import ModelUsage
from agent_service.core.config import Settings
from agent_service.core.language import language_name


def system_prompt(ctx: ToolContext, channel: str, canary: str = "") -> str:
    config, contact = ctx.config, ctx.contact
    lifecycle, qualification = config.lifecycle, config.qualification
    missing = [
        f"{f.name} (ask: {f.question_in(ctx.language)})"
        + (f" [one of: {', '.join(f.choices)}]" if f.choices else "")
        for f in qualification.fields
        if f.name not in contact.fields
    ]
    return config.prompts.render_system(
        business_name=config.name,
        business_description=config.business_description,
        channel=channel,
        language_name=language_name(ctx.language),
        ai_stages=", ".join(s.name for s in lifecycle.active if s.ai_settable),
        lost_stages=", ".join(s.name for s in lifecycle.lost),
        protected_stages=", ".join(s.name for s in lifecycle.stages if not s.ai_settable) or "none",
        teams="; ".join(f"{t.key} ({t.name}: {t.description})" for t in config.teams) or "none",
        today=ctx.now.date().isoformat(),
        contact_name=contact.name or "unknown",
        current_stage=contact.lifecycle_stage + (" (lost)" if contact.lost else ""),
        missing_fields="; ".join(missing) or "none",
        known_fields=", ".join(f"{k}={v}" for k, v in contact.fields.items()) or "nothing",
        knowledge=quote_passages(ctx.retrieved),
        canary=canary,
    )


async def run_llm_agent(
    ctx: ToolContext,
    model: BaseChatModel,
    history: list[BaseMessage],
    text: str,
    channel: str,
    settings: Settings,
    usage: ModelUsage,
    canary: str = "",
) -> str:
    """Run the model with tools bound until it replies; returns the reply text ('' if none)."""
    bound = model.bind_tools(list(TOOLS.values()))
    messages: list[BaseMessage] = [
        SystemMessage(system_prompt(ctx, channel, canary)),
        *history,
        HumanMessage(text),
    ]
    reply = ""
    for iteration in range(settings.max_tool_iterations):
        started = time.perf_counter()
        ai = await invoke_model(bound, messages, settings, usage)
        usage.add(ai, (time.perf_counter() - started) * 1000)
        messages.append(ai)
        reply = ai.text.strip() if isinstance(ai.text, str) else str(ai.content).strip()
        if not ai.tool_calls and not ai.invalid_tool_calls:
            return reply
        needs_another_look = False
        for call in ai.tool_calls:
            record = await execute_tool(ctx, call["name"], call["args"])
            messages.append(ToolMessage(record.result, tool_call_id=call["id"] or call["name"]))
            needs_another_look |= (
                record.status != "applied" or call["name"] == "search_knowledge_base"
            )
        for bad in ai.invalid_tool_calls:
            error = f"error: arguments are not valid JSON: {bad.get('error') or bad.get('args')}"
            ctx.tool_log.append(ToolCallRecord(bad.get("name") or "unknown", {}, "error", error))
            messages.append(ToolMessage(error, tool_call_id=bad.get("id") or "invalid"))
            needs_another_look = True
        if ctx.handoff is not None:
            return reply  # handoff_to_human ends the turn
        if reply and not needs_another_look:
            return reply
        if iteration == settings.max_tool_iterations - 1:
            break
    return reply
