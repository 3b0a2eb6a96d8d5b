"""One Chroma server for the worker processes of ``agent-service serve --workers N``.

An embedded Chroma directory has one owner per process: each process keeps the directory's
nearest-neighbour graph in its own memory and writes its changes back to the directory's files.
Several processes writing one directory at once is not something Chroma supports: three
processes upserting and deleting in one directory crashed (segmentation fault) and left a
directory that crashed every later reader. With one worker the service is that directory's
only writer (a ``kb import`` beside it is the accepted exception, see docs/reliability.md); with
N workers every knowledge change could come through any of them.

So when ``serve`` runs several workers on an embedded index (no ``chroma_host``), the parent
process starts ``chroma run --path <data_dir>/chroma`` on a free local port and points the
workers at it (``AGENT_SERVICE_CHROMA_HOST``/``PORT`` in their environment): one process owns
the directory, every worker queries one graph, nothing is reopened on a knowledge change. The
directory is the same one the embedded index uses, so a service can go from one worker to
several and back without re-indexing.

The server lives exactly as long as the parent: stopped after the workers on a normal exit,
and killed by the kernel when the parent dies (``PR_SET_PDEATHSIG``). While it runs, its
address is in ``<data_dir>/chroma-server.json``, so the ``agent-service kb`` commands run
beside the service write through it instead of opening the directory a second time.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent_service.core.config import Settings

log = logging.getLogger("agent_service")

START_TIMEOUT_SECONDS = 120.0  # a cold start on a loaded 2-core machine takes a few seconds
STOP_TIMEOUT_SECONDS = 15.0
ADDRESS_FILE = "chroma-server.json"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChromaAddress:
    host: str
    port: int


class ChromaServerFailed(RuntimeError):
    """The Chroma server for the workers could not be started."""


def chroma_command() -> str:
    """The ``chroma`` CLI of this environment (beside the interpreter, else on PATH)."""
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if found is None:
        raise ChromaServerFailed(
            "several workers on an embedded index need the `chroma` command (chromadb) to "
            "run one Chroma server; install it or set AGENT_SERVICE_CHROMA_HOST"
        )
    return found


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """Linux: the kernel sends this process SIGTERM when the process that started it dies
    (for the Chroma server: called between fork and exec; for a worker: at its start)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _alive(address: ChromaAddress) -> bool:
    try:
        url = f"http://{address.host}:{address.port}/api/v2/heartbeat"
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def chroma_server(settings: Settings, host: str = "127.0.0.1") -> Iterator[ChromaAddress]:
    """Run ``chroma run`` on the settings' embedded directory until the block ends."""
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    address = ChromaAddress(host, _free_port(host))
    command = [chroma_command(), "run", "--path", str(settings.chroma_dir)]
    command += ["--host", host, "--port", str(address.port)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal reaches the workers, which finish their
        # turns, and the server is stopped only after them.
        start_new_session=True,
        preexec_fn=die_with_parent,  # only prctl; the parent has no threads yet
    )
    address_file = settings.data_dir / ADDRESS_FILE
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _alive(address):
            if process.poll() is not None:
                raise ChromaServerFailed(
                    f"the Chroma server for the workers exited ({process.returncode}): "
                    f"{' '.join(command)}"
                )
            if time.monotonic() > deadline:
                raise ChromaServerFailed(
                    f"the Chroma server for the workers did not answer in "
                    f"{START_TIMEOUT_SECONDS:.0f} s: {' '.join(command)}"
                )
            time.sleep(0.1)
        address_file.write_text(
            json.dumps({"host": host, "port": address.port, "pid": process.pid})
        )
        log.info(
            "chroma server for the workers started",
            extra={"fields": {"chroma_pid": process.pid, "chroma_port": address.port}},
        )
        yield address
    finally:
        with contextlib.suppress(FileNotFoundError):
            address_file.unlink()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def running_server(settings: Settings) -> ChromaAddress | None:
    """The Chroma server a running ``serve --workers N`` started on these settings' embedded
    directory, if any (its address file names a live process)."""
    if settings.chroma_host:
        return None
    try:
        recorded = json.loads((settings.data_dir / ADDRESS_FILE).read_text())
        os.kill(int(recorded["pid"]), 0)
        return ChromaAddress(str(recorded["host"]), int(recorded["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def beside_running_server(settings: Settings) -> Settings:
    """``settings``, pointed at the running service's Chroma server when it has one, so a
    command run beside ``serve --workers N`` does not open its directory a second time."""
    address = running_server(settings)
    if address is None:
        return settings
    print(
        f"knowledge index: the running service's Chroma server at {address.host}:{address.port}",
        file=sys.stderr,
    )
    return settings.model_copy(update={"chroma_host": address.host, "chroma_port": address.port})
