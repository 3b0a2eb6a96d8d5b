"""Sustained intake: 200 new messages per second for 60 s with `Prefer: respond-async`.

    python -m bench.sustained [--rate 200] [--seconds 60] [--workers 1 2] [--database ...]

Open loop: message i is sent at start + i/rate whatever the answers to earlier ones (a
connection is taken from the pool, or opened when all are busy). Contacts each send one
message a second for three seconds (so bursts and per-contact order are exercised, and no
contact passes its own rate limit). Latency is counted from the planned send time to the
whole response, so a server that falls behind cannot hide it by slowing the client down
(the client's own lateness is printed too: if it is large the client, not the server, was
short of CPU). Figures: ack p50/p99/max, answers other than 202. Targets: p99 <= 50 ms and
no refusals. The service answers meanwhile (offline planner, burst window 2 s), as it would.
Exit 1 under target.
"""

from __future__ import annotations

import argparse

from bench import harness
from bench.harness import Figure, Result, Server, Table, Watch, percentile

TARGET_P99_MS = 50.0


def table(rate: int, seconds: int) -> Table:
    return Table(
        f"sustained: {rate} new messages/s for {seconds} s, open loop, Prefer: respond-async",
        "settings: embedded defaults (offline planner, burst window 2 s), fresh data dir; "
        "contacts send 1 message/s for 3 s",
        [
            Figure("ack p50 (ms)", "p50_ms"),
            Figure("ack p99 (ms)", "p99_ms", f"<= {TARGET_P99_MS:g}",
                   lambda v: v <= TARGET_P99_MS),
            Figure("ack max (ms)", "max_ms"),
            Figure("non-202 answers", "refused", "0", lambda v: v == 0),
            Figure("messages sent", "sent"),
            Figure("client late p99 (ms)", "late_ms"),
            Figure("server CPU per 202, turns too (ms)", "cpu_ms", digits=2),
        ],
    )  # fmt: skip


async def main(args: argparse.Namespace) -> bool:
    async with harness.Endpoints() as endpoints:
        args.endpoints = endpoints

        async def measure(server: Server, run: str) -> Result:
            await harness.warm_up(server, endpoints, run)
            pool = server.pool
            await pool.fill(64)
            with Watch(server) as watch:
                replies = await harness.open_loop(pool, args.rate, args.seconds, run)
            pool.close()
            seconds = [r.done - planned for r, planned in replies]
            accepted = sum(r.status == 202 for r, _ in replies)
            return {
                "p50_ms": percentile(seconds, 50) * 1000,
                "p99_ms": percentile(seconds, 99) * 1000,
                "max_ms": max(seconds) * 1000,
                "refused": len(replies) - accepted,
                "sent": len(replies),
                "late_ms": percentile([r.sent - p for r, p in replies], 99) * 1000,
                "cpu_ms": watch.usage.server_cpu_s * 1000 / max(1, accepted),
                "usage": watch.usage,
                "note": harness.statuses([r for r, _ in replies]),
            }

        results = await harness.compare(args, measure)
    return table(args.rate, args.seconds).print(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200, help="messages per second")
    parser.add_argument("--seconds", type=int, default=60)
    harness.add_arguments(parser)
    arguments = parser.parse_args()
    harness.main(lambda: main(arguments))
