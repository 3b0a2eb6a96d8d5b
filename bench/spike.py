"""Spike: 1,000 first messages from 1,000 new contacts posted at the same moment with
`Prefer: respond-async`, as when a campaign goes live.

    python -m bench.spike [--messages 1000] [--workers 1 2] [--database sqlite postgres]

Each request has a keep-alive connection of its own, opened before the clock starts; all are
written in one pass of the event loop. Figures: the time from the first write until all are
acknowledged, acknowledgement latency p50/p99/max (write to whole response), the count of
answers other than 202, and the server's CPU time per message during the spike (its turns
start after the burst window, 2 s by default, so while the spike lasts less than that this is
the cost of accepting). Target: all accepted (no non-202) and acknowledged within 2 s.
A few messages are answered one at a time first (not measured): models loaded, caches warm.
Exit 1 under target. See bench/harness.py for the servers, the baseline and the client.
"""

from __future__ import annotations

import argparse
import asyncio

from bench import harness
from bench.harness import Figure, Result, Server, Table, Watch, message, percentile

TARGET_SECONDS = 2.0


def table(messages: int) -> Table:
    return Table(
        f"spike: {messages} first messages from {messages} new contacts at once, "
        "Prefer: respond-async",
        "settings: embedded defaults (offline planner, burst window 2 s), fresh data dir",
        [
            Figure("all acknowledged after (s)", "all_s", f"<= {TARGET_SECONDS:g}",
                   lambda v: v <= TARGET_SECONDS, 2),
            Figure("ack p50 (ms)", "p50_ms"),
            Figure("ack p99 (ms)", "p99_ms"),
            Figure("ack max (ms)", "max_ms"),
            Figure("non-202 answers", "refused", "0", lambda v: v == 0),
            Figure("server CPU per 202 (ms)", "cpu_ms", digits=2),
        ],
    )  # fmt: skip


async def main(args: argparse.Namespace) -> bool:
    async with harness.Endpoints() as endpoints:
        args.endpoints = endpoints

        async def measure(server: Server, run: str) -> Result:
            await harness.warm_up(server, endpoints, run)
            pool = server.pool
            requests = [message(f"{run}-{i}", f"{run}-contact-{i}") for i in range(args.messages)]
            await pool.fill(args.messages)
            await asyncio.sleep(0.5)  # the server accepts the connections
            try:
                with Watch(server) as watch:
                    replies = await asyncio.gather(*(pool.send(r) for r in requests))
            finally:
                pool.close()
            seconds = [r.seconds for r in replies]
            accepted = sum(r.status == 202 for r in replies)
            return {
                "all_s": max(r.done for r in replies) - min(r.sent for r in replies),
                "p50_ms": percentile(seconds, 50) * 1000,
                "p99_ms": percentile(seconds, 99) * 1000,
                "max_ms": max(seconds) * 1000,
                "refused": len(replies) - accepted,
                "cpu_ms": watch.usage.server_cpu_s * 1000 / max(1, accepted),
                "usage": watch.usage,
                "note": harness.statuses(replies),
            }

        results = await harness.compare(args, measure)
    return table(args.messages).print(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    harness.add_arguments(parser)
    arguments = parser.parse_args()
    harness.main(lambda: main(arguments))
