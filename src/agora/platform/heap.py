"""Keeping the garbage collector's full collections short, and rare, in long-running processes.

Everything alive once a process has started (modules, routes, schemas, mappers, the broker's
client) lives as long as the process. CPython's full collection walks every tracked object each
time; with the startup heap of a worker (SQLAlchemy, FastStream, Pydantic) that was 110–200 ms,
every few seconds under load: the p99 of the jobs' latency. ``gc.freeze()`` moves what exists
now out of the collector's reach, so a full collection walks only what came after.

What comes after, in a chat node, is its connections: each holds a few hundred tracked objects
for as long as its client stays. While thousands connect, the heap keeps growing, and CPython
runs a full collection after every ten young-generation ones (its third threshold) whenever the
heap grew by a quarter: a node taking 10,000 connections spent 2.6 s of its 8 s in eleven full
collections, the last ones half a second each, with the event loop stopped. Nothing is freed by
them: a connection's objects are alive, and when it closes, reference counting frees almost
all of them. So a server runs a full collection after a thousand young-generation ones instead
(``collect_rarely``): the same accept rate then costs one full collection, not eleven
(docs/performance.md has the figures); cyclic garbage still goes, a little later.
"""

from __future__ import annotations

import gc

# CPython's defaults are (700, 10, 10): a young collection every 700 allocations net, the middle
# one every 10 of those, a full one every 10 middle ones (and only once the heap grew by 25 %)
SERVER_THRESHOLDS = (700, 10, 1000)


def freeze_startup_objects() -> None:
    """Call once the process has started (not per test: tests build many apps in one process,
    and frozen objects are never freed)."""
    gc.collect()
    gc.freeze()


def collect_rarely() -> None:
    """A full collection after a thousand middle-generation ones, not ten (a server's long-lived
    connections; see the module's docstring). Process-wide: call at a server's startup."""
    gc.set_threshold(*SERVER_THRESHOLDS)
