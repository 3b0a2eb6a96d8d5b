"""Every shell example of README.md and docs/*.md runs as written, and says what it does.

A reader follows the README's Quick start, then types the examples of each document in order.
This test does the same:

1. A fresh directory stands in for the reader's clone: a symlink to each top-level entry of
   this checkout (so ``evals/``, ``prompts/``... are there) and ``.venv`` for the environment
   the tests run in (``.ci/run`` and the README's test command install it there). Whatever the
   examples write (``data/``, ``runs/``, ``knowledge.csv``) lands in that directory.
2. The service starts there with the Quick start's own command, read out of README.md (its
   environment variables and ``.venv/bin/agent-service serve --port ...``), on the default data
   directory ``./data``; the ``pip install`` before it is what the environment already did.
   The one thing changed is the port: a free one instead of 8000, here and in every example
   (``:8000`` becomes ``:<port>``), so the test runs beside anything else on the machine.
3. Each document's examples run in one bash session, started with ``set -euo pipefail`` in
   that directory, as a reader's terminal after the Quick start: no AGENT_SERVICE_* or OPENAI_*
   variables, the venv's ``bin`` first on PATH (as after ``. .venv/bin/activate``). Variables a
   block sets are there in the next one. Statements run one after another, verbatim.
4. A statement that exits non-zero fails the test (a ``curl --fail-with-body`` on an error
   status does); each ``# => CLAIM`` under a statement is checked against its output.

The convention of the markdown (fences, ``# =>`` claims, ``...``, skip annotations) is in
tests/docs/examples.py and README.md, "Testing". Needs ``jq`` and ``openssl`` (.ci/run
installs them).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.examples import Statement, blocks, check_claim, unchecked_curl
from tests.processes import free_port, healthy
from tests.reliability.harness import wait_until

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PORT_IN_DOCS = "8000"
DOC_TIMEOUT = 240.0


def documents() -> list[Path]:
    """README.md, then docs/*.md in the order README links them, then the rest by name."""
    linked = re.findall(r"\(docs/([\w-]+\.md)", README.read_text(encoding="utf-8"))
    ordered = [README]
    for name in [*linked, *sorted(p.name for p in (REPO / "docs").glob("*.md"))]:
        path = REPO / "docs" / name
        if path.exists() and path not in ordered:
            ordered.append(path)
    return ordered


DOCUMENTS = documents()
# The documents with an example to run (the others are checked by the first test only).
RUNNABLE = [p for p in DOCUMENTS if any(b.skip_reason is None for b in blocks(p))]


def quick_start(port: int) -> tuple[dict[str, str], list[str]]:
    """The environment variables and command the README's Quick start starts the service with,
    on ``port``."""
    command = next(b.text for b in blocks(README) if "agent-service serve" in b.text)
    last = command.strip().split("&&")[-1]
    words = shlex.split(last)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[:2] == [".venv/bin/agent-service", "serve"], f"Quick start: {last}"
    assert "--port" in words, "the Quick start names its port"
    words[words.index("--port") + 1] = str(port)
    return env, words


def reader_env(cwd: Path) -> dict[str, str]:
    """A terminal as the reader has it: nothing of the service's settings, the venv first."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGENT_SERVICE_", "OPENAI_", "OTEL_"))
    }
    env["PATH"] = f"{cwd / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def clone_like(directory: Path) -> Path:
    directory.mkdir()
    for entry in REPO.iterdir():
        if entry.name in (".git", ".venv", "data", "runs") or entry.name.startswith("."):
            continue
        (directory / entry.name).symlink_to(entry)
    venv = REPO / ".venv" if (REPO / ".venv").exists() else Path(sys.prefix)
    (directory / ".venv").symlink_to(venv)
    return directory


@dataclass
class Service:
    cwd: Path
    port: int


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    for tool in ("jq", "openssl", "bash"):
        assert shutil.which(tool), f"the docs' examples use {tool}: apt-get install {tool}"
    cwd = clone_like(tmp_path_factory.mktemp("docs") / "clone")
    port = free_port()
    settings, command = quick_start(port)
    log = (cwd.parent / "service.log").open("wb")
    process = subprocess.Popen(
        command, cwd=cwd, env={**reader_env(cwd), **settings}, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url) or process.poll() is not None, timeout=300)
        assert process.poll() is None, (cwd.parent / "service.log").read_text()[-3000:]
        yield Service(cwd, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


def tail(path: Path) -> str:
    return path.read_text(encoding="utf-8")[-2000:] if path.exists() else ""


def on_port(text: str, port: int) -> str:
    return re.sub(rf"(localhost|127\.0\.0\.1):{PORT_IN_DOCS}\b", rf"\1:{port}", text)


def test_every_example_is_runnable_or_says_why_not() -> None:
    """The markdown itself: each shell example parses into statements, every curl checks its
    status, every skip has a reason, and the Quick start can be read."""
    quick_start(1234)
    problems = []
    examples = 0
    for path in DOCUMENTS:
        for block in blocks(path):
            examples += 1
            for statement in block.statements:
                if unchecked_curl(statement.text):
                    problems.append(
                        f"{path.name}:{statement.line}: a curl that neither fails on an error "
                        "status (--fail-with-body) nor prints it (-w '%{http_code}')"
                    )
    assert examples >= 20
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_examples_run_as_written(path: Path, service: Service) -> None:
    runnable = [b for b in blocks(path) if b.skip_reason is None]
    work = service.cwd.parent / f"session-{path.stem}"
    work.mkdir()
    ran: list[tuple[Statement, Path]] = []
    script = ["set -euo pipefail"]
    for number, statement in enumerate(s for b in runnable for s in b.statements):
        source = work / f"{number:03}.sh"
        source.write_text(on_port(statement.text, service.port), encoding="utf-8")
        output = work / f"{number:03}.out"
        script.append(
            f"source {shlex.quote(str(source))} >{shlex.quote(str(output))} "
            f"2>{shlex.quote(str(output.with_suffix('.err')))}"
        )
        script.append(f"echo {number + 1} >{shlex.quote(str(work / 'done'))}")
        ran.append((statement, output))
    (work / "session.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
    finished = subprocess.run(
        ["bash", "--noprofile", "--norc", str(work / "session.sh")],
        cwd=service.cwd,
        env=reader_env(service.cwd),
        timeout=DOC_TIMEOUT,
        capture_output=True,
        text=True,
    )
    done = int((work / "done").read_text()) if (work / "done").exists() else 0
    failures = []
    for statement, output in ran[:done]:
        if statement.claim is None:
            continue
        why = check_claim(statement.claim, output.read_text(encoding="utf-8"))
        if why:
            failures.append(
                f"{path.name}:{statement.line}: {statement.text.strip()[:200]}\n"
                f"  # => {statement.claim[:200]}\n  {why}"
            )
    if finished.returncode != 0:
        statement, output = ran[done]
        failures.append(
            f"{path.name}:{statement.line} exited {finished.returncode}:\n{statement.text}"
            f"--- stdout\n{tail(output)}--- stderr\n{tail(output.with_suffix('.err'))}"
            f"{finished.stderr[-1000:]}"
        )
    assert not failures, "\n\n".join(failures)
