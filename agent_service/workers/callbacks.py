"""Sends due callbacks: signed, with an idempotency key, retried with back-off until a 2xx.

A row of a message that came through a channel connection is a reply to that platform
instead (channels/sending.py), retried the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from agent_service.agent.deps import AgentDeps
from agent_service.channels import sending
from agent_service.core import metrics
from agent_service.db import models
from agent_service.delivery import callback_settings
from agent_service.delivery.signature import HEADER, sign

log = logging.getLogger("agent_service.callbacks")


class CallbackDispatcher:
    """One background loop per process; the outbox table is the queue, so nothing is lost."""

    def __init__(self, deps: AgentDeps, client: httpx.AsyncClient | None = None) -> None:
        self.deps = deps
        settings = deps.settings
        self.client = client or httpx.AsyncClient(
            timeout=settings.callback_timeout_seconds,
            limits=httpx.Limits(max_connections=settings.callback_concurrency),
        )

    async def run(self) -> None:
        ready, poll = self.deps.outbox_ready, self.deps.settings.callback_poll_seconds
        while True:
            ready.clear()  # before looking, so a wake-up during the look is not lost
            try:
                due = await self._claim_due()
                if due:
                    await asyncio.gather(*(self._send(row) for row in due))
                    continue
            except Exception:  # a busy database must not stop delivery for good
                log.exception("callback dispatch failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), poll)

    async def close(self) -> None:
        await self.client.aclose()

    async def _claim_due(self) -> list[models.OutboxCallback]:
        """Due rows, each leased by pushing its next attempt past the send timeout."""
        now = self.deps.clock()
        async with self.deps.sessions() as session:
            rows = (
                await session.scalars(
                    select(models.OutboxCallback)
                    .where(
                        models.OutboxCallback.status == "pending",
                        models.OutboxCallback.next_attempt_at <= now,
                    )
                    .order_by(models.OutboxCallback.next_attempt_at)
                    .limit(self.deps.settings.callback_concurrency)
                )
            ).all()
        lease = now + timedelta(seconds=self.deps.settings.callback_timeout_seconds * 2 + 5)
        claimed = []
        for row in rows:
            # Another process may hold the same row: only the one whose update lands sends it.
            async with self.deps.write_gate.hold(), self.deps.sessions() as session:
                result = await session.execute(
                    update(models.OutboxCallback)
                    .where(
                        models.OutboxCallback.id == row.id,
                        models.OutboxCallback.status == "pending",
                        models.OutboxCallback.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                )
                await session.commit()
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row)
        return claimed

    async def _send(self, row: models.OutboxCallback) -> None:
        if row.connection_id is not None:
            # A message from a connected platform: the reply goes back to that platform.
            outcome = await sending.deliver(self.client, self.deps.sessions, row, self.deps.clock())
            await self._record(row, outcome.error, outcome.permanent, outcome.parts_sent)
            return
        target = await callback_settings.load(self.deps.sessions, row.workspace_id)
        # A row may name its own URL (a follow-up nudge to the legacy `callback_url` setting).
        url = row.callback_url or (target.callback_url if target is not None else None)
        error: str | None = None
        if not url:
            error = "no callback URL configured: PUT /v1/workspaces/current/delivery"
        else:
            body = (row.body or "").encode()
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": row.idempotency_key,
                "X-Callback-Attempt": str(row.attempts + 1),
            }
            if target is not None and target.callback_secret and url == target.callback_url:
                headers[HEADER] = sign(target.callback_secret, body)
            try:
                response = await self.client.post(url, content=body, headers=headers)
                if not 200 <= response.status_code < 300:
                    error = f"callback answered {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"callback failed: {type(exc).__name__}: {exc}"
        await self._record(row, error)

    async def _record(
        self,
        row: models.OutboxCallback,
        error: str | None,
        permanent: bool = False,
        parts_sent: int | None = None,
    ) -> None:
        """The attempt's outcome; ``permanent``: no retry can change it (failed at once).
        ``parts_sent``: requests of a platform reply accepted so far."""
        settings, now = self.deps.settings, self.deps.clock()
        attempts = row.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_error": error}
        outcome = "retry"
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        if error is None:
            values |= {"status": "delivered", "delivered_at": now}
            outcome = "delivered"
        elif permanent or attempts >= settings.callback_max_attempts:
            values["status"] = outcome = "failed"
            log.error("callback %s failed for good: %s", row.id, error)
        else:
            delay = min(
                settings.callback_retry_base_seconds * 2 ** (attempts - 1),
                settings.callback_retry_max_seconds,
            )
            values["next_attempt_at"] = now + timedelta(seconds=delay)
        async with self.deps.write_gate.hold(), self.deps.sessions() as session:
            await session.execute(
                update(models.OutboxCallback)
                .where(models.OutboxCallback.id == row.id)
                .values(**values)
            )
            await session.commit()
        metrics.CALLBACKS.labels(outcome).inc()
