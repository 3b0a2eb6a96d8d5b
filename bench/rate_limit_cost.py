"""What the shared rate limits cost storing a message, and the alternative that was not chosen.

    PYTHONPATH=. python bench/rate_limit_cost.py [--postgres postgresql+asyncpg://.../postgres]

Stores messages with ``inbox.receive`` (the path of POST /v1/messages without the turn) on a
fresh database, each from a new contact as in a campaign spike, three ways:

- ``none``: no rate limit (what storing costs by itself);
- ``bucket``: the shared token buckets (conversations/rate_limits.py: one upsert of two rows,
  the last statement of the storing transaction);
- ``window``: a sliding-window count over the stored messages of the workspace and of the
  contact in the same transaction, served by an index on (workspace_id, created_at), behind a
  lock on the workspace's row so that racing processes cannot both pass the last slot.

Prints, per way, wall and CPU milliseconds per message one at a time (after ``--prefill``
messages already in the window), and messages per second with 32 stores at once.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.conversations import inbox
from agent_service.conversations.rate_limits import Charged, RateLimited, RateLimits
from agent_service.core.config import Settings
from agent_service.db import models
from agent_service.db.migrate import upgrade_to_head
from agent_service.db.session import create_engine
from agent_service.db.write_gate import WriteGate
from agent_service.schemas.messages import InboundMessage

WS = "ws_bench"
WINDOW = timedelta(hours=1)


class Timed(RateLimits):
    """Adds up the wall and CPU time of each charge (one at a time, so CPU is the charge's)."""

    wall = cpu = seq_wall = seq_cpu = 0.0
    count = 0

    async def charge_many(
        self,
        session: AsyncSession,
        charges: Sequence[tuple[str, str, int]],
        now: datetime,
        arrived: Mapping[int, datetime] | None = None,
    ) -> tuple[Charged, dict[int, RateLimited]]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return await self.charge_once(session, charges, now, arrived)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu
            self.count += 1

    async def charge_once(
        self,
        session: AsyncSession,
        charges: Sequence[tuple[str, str, int]],
        now: datetime,
        arrived: Mapping[int, datetime] | None = None,
    ) -> tuple[Charged, dict[int, RateLimited]]:
        return await super().charge_many(session, charges, now, arrived)


class WindowLimits(Timed):
    """The alternative: count what the window already holds (limits set so nothing refuses)."""

    async def charge_once(
        self,
        session: AsyncSession,
        charges: Sequence[tuple[str, str, int]],
        now: datetime,
        arrived: Mapping[int, datetime] | None = None,
    ) -> tuple[Charged, dict[int, RateLimited]]:
        for workspace_id, contact_id, _ in charges:
            await self.count_window(session, workspace_id, contact_id, now)
        return Charged({}), {}

    async def count_window(
        self, session: AsyncSession, workspace_id: str, contact_id: str, now: datetime
    ) -> None:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                select(models.Workspace.id)
                .where(models.Workspace.id == workspace_id)
                .with_for_update(key_share=True)
            )
        since = now - WINDOW
        in_workspace = await session.scalar(
            select(func.count()).where(
                models.Message.workspace_id == workspace_id, models.Message.created_at > since
            )
        )
        in_contact = await session.scalar(
            select(func.count())
            .select_from(models.Message)
            .join(models.Contact, models.Contact.id == models.Message.contact_id)
            .where(
                models.Contact.workspace_id == workspace_id,
                models.Contact.external_id == contact_id,
                models.Message.created_at > since,
            )
        )
        if (in_workspace or 0) >= 10**9 or (in_contact or 0) >= 10**9:
            raise RateLimited("workspace", 1)


def inbound(i: int, run: str) -> InboundMessage:
    return InboundMessage.model_validate(
        {
            "message_id": f"m-{run}-{i}",
            "channel": "whatsapp",
            "contact": {"id": f"c-{run}-{i}", "name": "Lan"},
            "text": "hello",
            "sent_at": "2026-11-22T06:00:00Z",
        }
    )


async def prepare(url: str) -> async_sessionmaker[AsyncSession]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        session.add(
            models.Workspace(id=WS, name="bench", settings={}, created_at=datetime.now(UTC))
        )
        await session.flush()
        session.add(
            models.LifecycleStage(id="st_bench", workspace_id=WS, name="New Lead", position=0)
        )
    async with engine.begin() as connection:  # what the window way needs to count quickly
        await connection.execute(
            text("CREATE INDEX ix_bench_ws_created ON messages (workspace_id, created_at)")
        )
    return sessions


async def run(
    sessions: async_sessionmaker[AsyncSession],
    limits: RateLimits | None,
    run: str,
    n: int,
    at_once: int,
) -> tuple[float, float, float]:
    gate = WriteGate(enabled=sessions.kw["bind"].dialect.name == "sqlite")
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await inbox.receive(
            sessions, WS, inbound(i, run), datetime.now(UTC), gate=gate, limits=limits
        )
    wall, cpu = (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000
    if isinstance(limits, Timed):  # the charge's share of the one-at-a-time figures
        limits.seq_wall, limits.seq_cpu = limits.wall, limits.cpu
    queue = iter(range(n, n + 20 * at_once))

    async def worker() -> None:
        for i in queue:
            await inbox.receive(
                sessions, WS, inbound(i, run), datetime.now(UTC), gate=gate, limits=limits
            )

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(at_once)))
    rate = 20 * at_once / (time.perf_counter() - start)
    return wall, cpu, rate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="a server URL; a fresh database is made and dropped")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--prefill", type=int, default=1000)
    args = parser.parse_args()
    name = f"bench_rate_{uuid.uuid4().hex[:8]}"
    admin = args.postgres.replace("+asyncpg", "") if args.postgres else ""
    if args.postgres:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        sessions = await prepare(url)
        roomy = Settings(workspace_burst=10**9, workspace_rate_per_second=10**6)
        ways = {
            "none": None,
            "bucket": Timed(roomy, lambda: datetime.now(UTC)),
            "window": WindowLimits(roomy, lambda: datetime.now(UTC)),
        }
        await run(sessions, None, "prefill", args.prefill, 1)  # messages in the window
        print(
            f"{url.split(':')[0]}: ms per message one at a time (wall, CPU); per second, 32 at once"
        )
        for rounds in range(2):
            for way, limits in ways.items():
                if isinstance(limits, Timed):
                    limits.wall = limits.cpu = limits.count = 0
                wall, cpu, rate = await run(sessions, limits, f"{way}{rounds}", args.messages, 32)
                charge = ""
                if isinstance(limits, Timed):
                    n = args.messages
                    charge = f"  charge alone: {limits.seq_wall / n * 1000:.2f} ms, "
                    charge += f"{limits.seq_cpu / n * 1000:.2f} ms CPU"
                print(f"  {way:7} {wall:6.2f} ms  {cpu:6.2f} ms CPU  {rate:5.0f}/s{charge}")
        await sessions.kw["bind"].dispose()
    finally:
        if args.postgres:
            connection = await asyncpg.connect(admin)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
