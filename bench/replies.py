"""Reply throughput: N conversations each post one message at once (`Prefer: respond-async`)
to a service whose model is a fake OpenAI-compatible server taking 2 s per call.

    python -m bench.replies [--conversations 1000] [--model-seconds 2] [--workers 1 2] ...

The fake model and the callback URL are served by the bench process (bench/harness.py:
`Endpoints`). Figures: completed replies (distinct callbacks) per second from the first
message sent to the last callback, callbacks missing at the deadline, answers other than
202, and the resident memory of the service (the server and all its worker processes,
summed, sampled every second): at the start, its peak, at the end, and whether it is flat
(its growth over the run's last minute, or the whole run when shorter, is at most 20 MB or
5 %). Targets: >= 40 replies/s, none missing, memory flat. The baseline acknowledges, calls
the same fake model, then the callback URL: what the machine allows with no service at all.
Settings are the embedded defaults, burst window 2 s included (the product's default: each
reply waits for it). Exit 1 under target.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench import harness
from bench.harness import Figure, Result, Server, Table, Watch, message

TARGET_RATE = 40.0
FLAT_MB, FLAT_SHARE, LAST_MINUTE = 20.0, 0.05, 60.0


def table(args: argparse.Namespace) -> Table:
    return Table(
        f"replies: {args.conversations} conversations, one message each at once, "
        f"fake model {args.model_seconds:g} s per call",
        "settings: embedded defaults (burst window 2 s, 200 turns at once, callback poll 1 s), "
        "fresh data dir; memory: server and workers summed (VmRSS)",
        [
            Figure("replies per second", "rate", f">= {TARGET_RATE:g}",
                   lambda v: v >= TARGET_RATE),
            Figure("last reply after (s)", "last_s"),
            Figure("callbacks missing", "missing", "0", lambda v: v == 0),
            Figure("non-202 answers", "refused", "0", lambda v: v == 0),
            Figure("model calls", "model_calls"),
            Figure("memory start (MB)", "rss_start", digits=0),
            Figure("memory peak (MB)", "rss_peak", digits=0),
            Figure("memory end (MB)", "rss_end", digits=0),
            Figure("memory growth, last minute (MB)", "growth", digits=0),
            Figure("memory flat", "flat", "yes", lambda v: v == "yes"),
        ],
    )  # fmt: skip


def growth(samples: list[tuple[float, float]]) -> float:
    """How much memory grew over the last minute of ``samples`` (time, MB)."""
    end_time, end = samples[-1]
    window = [mb for t, mb in samples if t >= end_time - LAST_MINUTE]
    return end - window[0]


async def main(args: argparse.Namespace) -> bool:
    async with harness.Endpoints(args.model_seconds) as endpoints:
        args.endpoints = endpoints

        async def measure(server: Server, run: str) -> Result:
            await harness.warm_up(server, endpoints, run, count=4)
            pool = server.pool
            n = args.conversations
            requests = [message(f"{run}-{i}", f"{run}-contact-{i}") for i in range(n)]
            await pool.fill(n)
            await asyncio.sleep(0.5)
            samples = [(time.monotonic(), server.rss_mb())]

            async def sample() -> None:
                while True:
                    await asyncio.sleep(1)
                    samples.append((time.monotonic(), server.rss_mb()))

            sampler = asyncio.create_task(sample())
            try:
                with Watch(server) as watch:
                    replies = await asyncio.gather(*(pool.send(r) for r in requests))
                    pool.close()
                    accepted = sum(r.status == 202 for r in replies)
                    await endpoints.wait_callbacks(accepted, args.deadline)
                    samples.append((time.monotonic(), server.rss_mb()))
            finally:
                sampler.cancel()
            first = min(r.sent for r in replies)
            last = max(endpoints.callbacks.values(), default=first)
            memory = [mb for _, mb in samples]
            grew = growth(samples)
            result = {
                "rate": len(endpoints.callbacks) / max(last - first, 1e-3),
                "last_s": last - first,
                "missing": accepted - len(endpoints.callbacks),
                "refused": n - accepted,
                "model_calls": endpoints.model_calls,
                "rss_start": memory[0],
                "rss_peak": max(memory),
                "rss_end": memory[-1],
                "growth": grew,
                "flat": "yes" if grew <= max(FLAT_MB, FLAT_SHARE * memory[0]) else "no",
                "usage": watch.usage,
                "note": harness.statuses(replies),
            }
            endpoints.reset()
            return result

        results = await harness.compare(args, measure, endpoints.url)
    return table(args).print(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--model-seconds", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=300, help="seconds to wait for replies")
    harness.add_arguments(parser)
    arguments = parser.parse_args()
    harness.main(lambda: main(arguments))
