"""One structured log line per turn: which brain, model calls, tokens, latency, tool calls."""

from __future__ import annotations

import logging

from agent_service.agent.context import ToolContext
from agent_service.agent.outcome import TurnRecord

log = logging.getLogger("agent_service.turn")


def log_turn_trace(record: TurnRecord, ctx: ToolContext, text: str) -> None:
    """The text is logged (redacted by the formatter) so an operator can follow a conversation."""
    log.info(
        "turn",
        extra={
            "fields": {
                "turn_id": record.turn_id,
                "workspace_id": ctx.config.id,
                "contact": ctx.contact.external_id,
                "brain": record.brain,
                "model": record.model,
                "prompt_version": record.prompt_version,
                "model_calls": record.usage.calls,
                "model_latencies_ms": record.usage.latencies_ms,
                "input_tokens": record.usage.input_tokens,
                "output_tokens": record.usage.output_tokens,
                "latency_ms": record.latency_ms,
                "tool_calls": [{"name": t.name, "status": t.status} for t in ctx.tool_log],
                "stage": ctx.contact.lifecycle_stage,
                "error": record.error,
                "retrieval": record.retrieval,
                "text": text[:500],
            }
        },
    )
