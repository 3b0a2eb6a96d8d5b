"""The start-up heap kept out of the garbage collector's way, in a serving process.

A serving process holds about 320,000 long-lived objects from its start-up: the models'
wrappers, the imported libraries, the knowledge snapshots. CPython's cyclic collector walks all
of them at every full (oldest-generation) collection, which comes again and again under steady
traffic (whenever the objects that survived the younger collections reach a quarter of the old
ones): 185 ms per full collection in a started service on the 2-core machine (a test run
beside it), during which the event loop answers nothing. It was the largest part of the
sustained benchmark's p99 (docs/performance.md: PostgreSQL, turns held back, p99 308 -> 87 ms
with the freeze).

``gc.freeze()`` after start-up moves those objects to a permanent generation the collector no
longer visits (CPython's documented use for long-running servers); what the process creates
afterwards is collected as before. Only server processes do this (``serve``'s HTTP processes and
turn workers): a test process builds and drops many services, and a frozen object that later
becomes cyclic garbage is never freed.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect the start-up garbage, then freeze what is left; returns how many objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
