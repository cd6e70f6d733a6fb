"""Counting the SQL an app sends: the N+1 guards and the "a warm read costs nothing" tests.

Every statement is recorded by a SQLAlchemy ``before_cursor_execute`` listener on the app's own
engine, so the counts hold on SQLite and PostgreSQL alike. The jobs runtime's own statements are
left out: it polls the outbox in the background (``AGORA_JOBS_POLL_SECONDS``), whenever it
likes, and a poll landing during a request is not the request's cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from agora.platform.db import Database
from agora.platform.provided import ProvidingApp
from tests.support.apps import platform_of

# the tables the jobs runtime polls
_BACKGROUND = re.compile(r"\b(outbox|periodic_jobs)\b")


@contextmanager
def recorded_statements(app: ProvidingApp | Database) -> Iterator[list[str]]:
    """The statements ``app`` (or a database of it) executes inside the block, in order (clear
    the list at will)."""
    executed: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not _BACKGROUND.search(statement):
            executed.append(statement)

    db = app if isinstance(app, Database) else platform_of(app).db
    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def recorded_round_trips(db: Database) -> Iterator[list[str]]:
    """As ``recorded_statements``, with ``BEGIN`` and ``COMMIT`` or ``ROLLBACK`` recorded where a
    transaction begins and ends: what a request costs in round trips to the database. A
    connection in autocommit sends none of them, so none is recorded for it."""
    engine = db.engine.sync_engine

    def ends(word: str) -> Any:
        def record(connection: Any) -> None:
            if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                executed.append(word)

        return record

    listeners = [
        ("begin", ends("BEGIN")),
        ("commit", ends("COMMIT")),
        ("rollback", ends("ROLLBACK")),
    ]
    with recorded_statements(db) as executed:
        for name, listener in listeners:
            event.listen(engine, name, listener)
        try:
            yield executed
        finally:
            for name, listener in listeners:
                event.remove(engine, name, listener)
