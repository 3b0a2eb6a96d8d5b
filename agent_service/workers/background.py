"""What runs beside the API: start-up recovery, the sweep for unanswered messages and the
lease renewal, the callback dispatcher and the vector index's catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from agent_service.agent.deps import AgentDeps
from agent_service.workers.callbacks import CallbackDispatcher
from agent_service.workers.index_sync import keep_index_caught_up
from agent_service.workers.recovery import keep_leases, recover_unanswered, sweep_unanswered

log = logging.getLogger("agent_service.delivery")


class DeliveryWorkers:
    """Started in the app's lifespan; stopping leaves unfinished work in the database."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps
        self.dispatcher = CallbackDispatcher(deps)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        recovered = await recover_unanswered(self.deps)
        if recovered:
            log.warning("answering unprocessed messages of %d contact(s) after restart", recovered)
        self._run(sweep_unanswered(self.deps))

    def _run(self, finding_work: Coroutine[Any, Any, None]) -> None:
        """Start the loops: ``finding_work`` (what finds the messages to answer), the lease
        renewal, the callback dispatcher and the index catch-up."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.dispatcher.run()),
            loop.create_task(finding_work),
            loop.create_task(keep_leases(self.deps)),
            loop.create_task(keep_index_caught_up(self.deps)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.deps.turn_tasks.cancel_all()
        await self.dispatcher.close()
