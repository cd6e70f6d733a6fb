"""SQLite's one writer: writes of this process queue in the event loop, never in a busy loop.

SQLite lets one connection write at a time. The others wait in its busy handler, a thread that
sleeps and polls: unfair (a waiter may lose every round), and after ``busy_timeout`` it gives up
with "database is locked". Under a burst of concurrent writes that was a 500 for some of them.

So a connection of this process takes an asyncio lock before the first write statement of its
transaction and gives it back when the transaction ends: writers wait their turn in order, in the
event loop, and a burst gets slower instead of failing. Reads never wait (WAL lets them run beside
the writer). The busy handler is left to settle the writers of *other* processes
(``serve --workers N``); a write that still finds the database locked gets 503 with
``Retry-After``, never a 500.

The sqlite3 driver's own transaction handling is kept ("legacy" mode: BEGIN right before the first
INSERT/UPDATE/DELETE): a transaction's reads before its first write run outside it, each seeing the
latest commit, as every statement does on PostgreSQL under READ COMMITTED. A deferred BEGIN
before those reads would make the first write fail at once, without the busy handler, whenever
another connection had committed in between (SQLITE_BUSY_SNAPSHOT); holding the lock from the
first read would make every request that reads through a write session queue behind the writers.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.errors import Unavailable

# the statements the sqlite3 driver opens a transaction for: the ones that take the write lock
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_HOLDS_LOCK = "agora_holds_write_lock"
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
RETRY_AFTER_SECONDS = 1


def _autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def database_busy() -> Unavailable:
    return Unavailable("the database is busy, try again", retry_after=RETRY_AFTER_SECONDS)


class WriteQueue:
    """Serializes the write transactions of one engine's connections (see the module)."""

    def __init__(self, *, wait_seconds: float) -> None:
        self._lock = asyncio.Lock()
        self._wait_seconds = wait_seconds

    def install(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", self._before_execute)
        event.listen(sync_engine, "after_cursor_execute", self._after_execute)
        event.listen(sync_engine, "handle_error", self._on_error)
        event.listen(sync_engine, "commit", self._on_transaction_end)
        event.listen(sync_engine, "rollback", self._on_transaction_end)
        # a connection that goes back to the pool, or away, without either: never keep the lock
        for name in ("checkin", "invalidate", "close"):
            event.listen(sync_engine.pool, name, self._on_connection_end)

    async def _acquire(self) -> None:
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._lock.acquire()
        except TimeoutError:
            raise database_busy() from None

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_LOCK, False):
            self._lock.release()

    def _before_execute(
        self, connection: Connection, _cursor: Any, statement: str, *_args: Any
    ) -> None:
        if connection.info.get(_HOLDS_LOCK) or not _WRITE.match(statement):
            return
        # run_async: SQLAlchemy's way to await from a synchronous event handler
        connection.connection.dbapi_connection.run_async(lambda _driver: self._acquire())  # type: ignore[union-attr]
        connection.info[_HOLDS_LOCK] = True

    def _after_execute(self, connection: Connection, *_args: Any) -> None:
        if _autocommit(connection):  # the statement was its own transaction
            self._release(connection.info)

    def _on_transaction_end(self, connection: Connection) -> None:
        self._release(connection.info)

    def _on_connection_end(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        if record is not None:
            self._release(record.info)

    def _on_error(self, context: ExceptionContext) -> Exception | None:
        connection = context.connection
        if connection is not None and _autocommit(connection):
            self._release(connection.info)
        code = getattr(context.original_exception, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _BUSY_CODES:
            # another process held the database longer than busy_timeout
            return database_busy()
        return None
