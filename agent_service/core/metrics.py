"""Prometheus metrics: what an operator graphs and alerts on (docs/operations.md).

Defined once here, in core, because the facts they count are written in several layers; each
is moved where its fact is written (one writer): a message where the inbox stores it, a turn
where its outcome is saved, a model call where the chat model sends it, a callback where the
dispatcher records the delivery, a stage change when the transaction that wrote it commits. A
move is a counter increment in memory: no I/O on the hot path.

Labels are bounded enums (channel, brain, outcome, status, actor, kind): ``bounded`` counts a
value outside the caller's known set as ``other``, so no id, name, phone or text can become a
label (a label value is a new time series, and a scrape is read by more people than a
conversation is).

Several processes: ``serve --workers N`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory of
its own before the workers start; prometheus_client then keeps each process's values in files
there, and a scrape (answered by whichever worker the kernel picks) sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"

MESSAGES_RECEIVED = Counter(
    "agent_service_messages_received",
    "Customer messages stored (repeats of a stored message are not counted), by channel.",
    ["channel"],
)
TURNS = Counter(
    "agent_service_turns",
    "Turns saved, by the brain that wrote the reply and the outcome: replied, fallback (every "
    "attempt failed), silent (the humans own the conversation), attempt_failed (retried).",
    ["brain", "outcome"],
)
TURN_DURATION = Histogram(
    "agent_service_turn_duration_seconds",
    "Time from a turn's start (its slot granted) to its decision saved, by brain.",
    ["brain"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0),
)
MODEL_CALLS = Counter(
    "agent_service_model_calls",
    "Requests sent to the chat model, each attempt counted: ok or error.",
    ["outcome"],
)
MODEL_TOKENS = Counter(
    "agent_service_model_tokens",
    "Tokens the chat model reported, by direction: input or output.",
    ["direction"],
)
RETRIEVAL_DURATION = Histogram(
    "agent_service_retrieval_duration_seconds",
    "One knowledge search of a turn or a prompt preview (embedding excluded), by the source "
    "that answered: index, database (the index did not answer in time) or none.",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CALLBACKS = Counter(
    "agent_service_callbacks",
    "Callback delivery attempts recorded: delivered, retry (a retry is scheduled) or failed "
    "(the last attempt failed).",
    ["status"],
)
LIFECYCLE_CHANGES = Counter(
    "agent_service_lifecycle_changes",
    "Stage changes and lost marks committed, by actor (ai, human, system) and kind (stage, lost).",
    ["actor", "kind"],
)
TURNS_IN_FLIGHT = Gauge(
    "agent_service_turns_in_flight",
    "Turns holding a slot now (summed over live processes).",
    multiprocess_mode="livesum",
)
TURNS_WAITING = Gauge(
    "agent_service_turns_waiting_for_slot",
    "Turns waiting for a slot now (summed over live processes).",
    multiprocess_mode="livesum",
)

CALLBACK_STATUSES = frozenset({"delivered", "retry", "failed"})
MODEL_OUTCOMES = frozenset({"ok", "error"})
TOKEN_DIRECTIONS = frozenset({"input", "output"})
RETRIEVAL_SOURCES = frozenset({"index", "database", "none"})


def bounded(value: str | None, known: Collection[str]) -> str:
    """``value`` when it is one of ``known``, else ``other``: labels stay a small fixed set."""
    return value if value is not None and value in known else OTHER


def count_model_call(ok: bool) -> None:
    MODEL_CALLS.labels("ok" if ok else "error").inc()


def count_tokens(input_tokens: int, output_tokens: int) -> None:
    if input_tokens > 0:
        MODEL_TOKENS.labels("input").inc(input_tokens)
    if output_tokens > 0:
        MODEL_TOKENS.labels("output").inc(output_tokens)


def multiprocess_dir() -> Path | None:
    """The directory shared by ``serve``'s workers, when this process is one of them."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir(directory: Path) -> None:
    """Empty the directory before the workers start: a previous run's files would be summed
    into this run's counters. This process's own files stay: its metrics, created when this
    module was imported, already write to them."""
    directory.mkdir(parents=True, exist_ok=True)
    own = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(own):
            stale.unlink(missing_ok=True)


def process_stopped(pid: int | None = None) -> None:
    """A worker stops: its ``livesum`` gauges leave the sum (its counters stay counted)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            pid if pid is not None else os.getpid()
        )


def _forget_dead_workers(directory: Path) -> None:
    """A worker killed without its shutdown (kill -9, then restarted by the supervisor) left
    its gauges behind: drop those of processes that are gone."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
                int(pid), str(directory)
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition(extra: Iterable[GaugeMetricFamily] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric (all processes' when several share the directory),
    with ``extra`` gauges read at scrape time; and its content type."""
    directory = multiprocess_dir()
    if directory is not None:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    scraped = CollectorRegistry()
    families = list(extra)
    if families:
        scraped.register(_Families(families))
        body += generate_latest(scraped)
    return body, CONTENT_TYPE_LATEST


class _Families:
    """A collector of gauges read once, at this scrape."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families
