"""The vector index catching up: knowledge stored while the index did not answer reaches it
once it answers again, without a restart or a re-index (knowledge_base/store.py)."""

from __future__ import annotations

import asyncio
import logging

from agent_service.agent.deps import AgentDeps

log = logging.getLogger("agent_service.knowledge")


async def keep_index_caught_up(deps: AgentDeps) -> None:
    """Forever, every ``index_sync_seconds``: send the stored entries of workspaces whose index
    is behind. Starts with a round at once (a previous process may have left work behind)."""
    while True:
        try:
            await deps.knowledge.catch_up_index()
        except Exception:  # the loop must outlive a bad moment of the database or the index
            log.exception("knowledge index catch-up failed")
        await asyncio.sleep(deps.settings.index_sync_seconds)
