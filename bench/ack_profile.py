"""Where an acknowledgement's CPU goes: py-spy on the server while spikes are acknowledged.

    python -m bench.ack_profile [--spikes 3] [--messages 1000] [--out PROFILE.raw]
    python -m bench.ack_profile --steady 200 --seconds 30   # bench.sustained's traffic instead

Starts ``agent-service serve`` (one worker, SQLite unless ``--database postgres``) with burst
windows of 600 s, so no turn starts while the spikes last: what is sampled is the acknowledgement
path (``POST /v1/messages`` with ``Prefer: respond-async``) alone. Warms it up, attaches
``py-spy record --format raw --rate R --subprocesses`` to it, sends ``--spikes`` spikes of
``--messages`` new contacts each (as bench.spike does), stops py-spy and prints the table of
bench/profile_table.py (milliseconds of CPU per acknowledgement by category, the functions with
the most samples of their own) and the server's CPU per acknowledgement measured beside it.
With ``--steady R`` it sends R new messages a second for ``--seconds`` instead (open loop, as
bench.sustained does, contacts of three messages a second apart) and prints their p50/p99: the
small batches of steady traffic cost more per message than a spike's large ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from bench import harness
from bench.harness import Config, Watch, message


async def main(args: argparse.Namespace) -> bool:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.env = [
        *args.env,
        "AGENT_SERVICE_BURST_WINDOW_SECONDS=600",
        "AGENT_SERVICE_BURST_MAX_WAIT_SECONDS=600",
    ]
    out = Path(args.out)
    async with harness.Endpoints() as endpoints:
        args.endpoints = endpoints
        args.workers_supported = await asyncio.to_thread(harness.workers_supported)
        async with harness.service(Config(1, args.database), args) as server:
            server.answers = False  # no turn runs while the windows are open
            await harness.warm_up(server, endpoints, "warm")
            spy = await asyncio.create_subprocess_exec(
                *[py_spy, "record", "--format", "raw", "--rate", str(args.rate)],
                *["--subprocesses", "--threads", "--nonblocking"],
                *["-p", str(server.process.pid), "-o", str(out)],
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(2)  # py-spy attached
            accepted = 0
            cpu = 0.0
            if args.steady:
                with Watch(server) as watch:
                    accepted = await _steady(server, args.steady, args.seconds)
                cpu = watch.usage.server_cpu_s
                print(f"steady: {watch.usage.text}", file=sys.stderr)
            for spike in range(0 if args.steady else args.spikes):
                pool = server.pool
                requests = [
                    message(f"p{spike}-{i}", f"p{spike}-contact-{i}") for i in range(args.messages)
                ]
                await pool.fill(args.messages)
                await asyncio.sleep(0.5)
                try:
                    with Watch(server) as watch:
                        replies = await asyncio.gather(*(pool.send(r) for r in requests))
                finally:
                    pool.close()
                accepted += sum(r.status == 202 for r in replies)
                cpu += watch.usage.server_cpu_s
                print(f"spike {spike}: {watch.usage.text}", file=sys.stderr)
            spy.send_signal(signal.SIGINT)
            _, errors = await spy.communicate()
            if spy.returncode not in (0, -signal.SIGINT):
                print(errors.decode(errors="replace")[-2000:], file=sys.stderr)
    print(f"load average {os.getloadavg()[0]:.1f}; {accepted} acknowledged")
    print(f"server CPU per acknowledgement while sampled: {cpu * 1000 / max(1, accepted):.2f} ms")
    table = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "bench.profile_table", str(out), "--rate", str(args.rate)],
        *["--messages", str(max(1, accepted)), "--top", str(args.top)],
    )
    await table.wait()
    expected: int = args.steady * args.seconds if args.steady else args.spikes * args.messages
    return accepted == expected


async def _steady(server: harness.Server, rate: int, seconds: int) -> int:
    """``rate`` new messages a second for ``seconds``, open loop; prints p50/p99; returns 202s."""
    pool = server.pool
    await pool.fill(64)
    replies = await harness.open_loop(pool, rate, seconds, "s")
    pool.close()
    waits = [r.done - planned for r, planned in replies]
    p50, p99 = harness.percentile(waits, 50) * 1000, harness.percentile(waits, 99) * 1000
    print(f"steady {rate}/s for {seconds} s: ack p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return sum(r.status == 202 for r, _ in replies)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spikes", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--steady", type=int, default=0, metavar="R", help="R messages/s")
    parser.add_argument("--seconds", type=int, default=30, help="of --steady traffic")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="/tmp/ack-profile.raw")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--postgres-url", default=harness.DEFAULT_POSTGRES)
    arguments = parser.parse_args()
    harness.main(lambda: main(arguments))
