"""What runs beside the API: start-up recovery and the callback dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agent_service.agent.deps import AgentDeps
from agent_service.delivery.dispatcher import CallbackDispatcher
from agent_service.delivery.recovery import recover_unanswered

log = logging.getLogger("agent_service.delivery")


class DeliveryWorkers:
    """Started in the app's lifespan; stopping leaves unfinished work in the database."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps
        self.dispatcher = CallbackDispatcher(deps)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        recovered = await recover_unanswered(self.deps)
        if recovered:
            log.warning("answering unprocessed messages of %d contact(s) after restart", recovered)
        self._task = asyncio.get_running_loop().create_task(self.dispatcher.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.deps.turn_tasks.cancel_all()
        await self.dispatcher.close()
