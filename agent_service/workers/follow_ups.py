"""The server's follow-up tick: runs due follow-ups every ``followup_poll_seconds``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from agent_service.agent.deps import AgentDeps
from agent_service.follow_ups.plan import run_follow_ups
from agent_service.follow_ups.sender import CallbackFollowUpSender, FollowUpSender

log = logging.getLogger("agent_service.follow_ups")


def start_follow_up_loop(state: Any, deps: AgentDeps) -> asyncio.Task[None] | None:
    """A background task (None when disabled); ``state`` may carry a ``follow_up_sender``."""
    interval = deps.settings.followup_poll_seconds
    if interval <= 0:
        return None

    async def tick_forever() -> None:
        while True:
            await asyncio.sleep(interval)  # first pass after one interval, not at start-up
            sender: FollowUpSender = getattr(state, "follow_up_sender", None) or (
                CallbackFollowUpSender()
            )
            try:
                run = await run_follow_ups(deps.sessions, deps.settings, sender, deps.clock())
                if run.queued:
                    deps.outbox_ready.set()  # the dispatcher sends the nudges now
            except Exception:  # keep ticking; the rows stay pending for the next pass
                log.exception("follow-up pass failed")

    return asyncio.create_task(tick_forever(), name="follow-ups")


async def stop_follow_up_loop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
