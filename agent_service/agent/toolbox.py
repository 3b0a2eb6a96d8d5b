"""Runs tool calls under the workspace policy; a refusal goes back to the model as text."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent_service.agent.context import ToolCallRecord, ToolContext
from agent_service.agent.tools import TOOLS
from agent_service.core import tracing
from agent_service.core.metrics import bounded
from agent_service.lifecycle.policy import PolicyRefusal


async def execute_tool(ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolCallRecord:
    """Run one tool call on the current contact; never raises for the model's mistakes."""
    with tracing.span("turn.tool", {"agent_service.tool": bounded(name, TOOLS)}):
        record = await _execute(ctx, name, args)
        tracing.annotate({"agent_service.tool_status": record.status})
    ctx.tool_log.append(record)
    return record


async def _execute(ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolCallRecord:
    tool = TOOLS.get(name)
    if tool is None:
        record = ToolCallRecord(name, args, "error", f"error: unknown tool '{name}'")
    elif not isinstance(args, dict):
        record = ToolCallRecord(name, {}, "error", "error: arguments must be a JSON object")
    else:
        # The injected context always wins: the model cannot point a tool at another contact.
        safe_args = {k: v for k, v in args.items() if k != "ctx"}
        try:
            result = await tool.ainvoke({**safe_args, "ctx": ctx})
            record = ToolCallRecord(name, safe_args, "applied", str(result))
        except PolicyRefusal as exc:
            record = ToolCallRecord(name, safe_args, "refused", f"refused: {exc}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            record = ToolCallRecord(
                name, safe_args, "error", f"error: invalid arguments: {problems}"
            )
    return record
