"""Requests per second per workspace and per contact: token buckets, 429 with Retry-After.

A repeat delivery of a message already received never reaches the buckets: platforms retry
webhooks, and a retry must be answered from the record, not refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.config import Settings
from agent_service.db import models
from agent_service.schemas.messages import InboundMessage


class RateLimited(Exception):
    """Too many requests; ``retry_after`` is whole seconds until a token is free."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"too many requests for this {scope}; retry after {retry_after}s")
        self.scope, self.retry_after = scope, retry_after


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: int
    tokens: float
    updated: datetime

    def refill(self, now: datetime) -> None:
        elapsed = max(0.0, (now - self.updated).total_seconds())
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_seconds(self) -> float:
        """Seconds until one token is available (0 if one is)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class RateLimits:
    """In-process buckets; each service process enforces its own share."""

    settings: Settings
    clock: Callable[[], datetime]
    buckets: dict[tuple[str, ...], TokenBucket] = field(default_factory=dict)

    def _bucket(
        self, key: tuple[str, ...], rate: float, capacity: int, now: datetime
    ) -> TokenBucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(rate, capacity, float(capacity), now)
        bucket.refill(now)
        return bucket

    def _pair(self, workspace_id: str, contact_id: str) -> tuple[TokenBucket, TokenBucket]:
        """The workspace's and the contact's bucket, refilled to now."""
        s, now = self.settings, self.clock()
        return (
            self._bucket(("ws", workspace_id), s.workspace_rate_per_second, s.workspace_burst, now),
            self._bucket(
                ("ct", workspace_id, contact_id), s.contact_rate_per_second, s.contact_burst, now
            ),
        )

    def has_room(self, workspace_id: str, contact_id: str) -> bool:
        """Whether ``charge`` would pass now; takes nothing."""
        return all(b.wait_seconds() == 0 for b in self._pair(workspace_id, contact_id))

    def charge(self, workspace_id: str, contact_id: str) -> None:
        """Take one token from the workspace's and the contact's bucket, or raise RateLimited."""
        if len(self.buckets) > 100_000:  # forget idle contacts rather than grow without bound
            self.buckets = {k: b for k, b in self.buckets.items() if b.tokens < b.capacity}
        workspace, contact = self._pair(workspace_id, contact_id)
        for scope, bucket in (("workspace", workspace), ("contact", contact)):
            wait = bucket.wait_seconds()
            if wait > 0:
                raise RateLimited(scope, max(1, math.ceil(wait)))
        workspace.tokens -= 1
        contact.tokens -= 1


async def already_received(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, inbound: InboundMessage
) -> bool:
    async with sessions() as session:
        found = await session.scalar(
            select(models.Message.id).filter_by(
                workspace_id=workspace_id,
                channel=inbound.channel,
                channel_message_id=inbound.message_id,
            )
        )
    return found is not None


async def admit(
    limits: RateLimits,
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    inbound: InboundMessage,
) -> None:
    """Charge the rate limits for a new message; a repeat delivery passes free."""
    if await already_received(sessions, workspace_id, inbound):
        return
    limits.charge(workspace_id, inbound.contact.id)
