"""A write run by the database driver itself (asyncpg), on a connection of SQLAlchemy's pool:
the hottest write's fast path past the session, as ``driver_reads.py`` is the hottest reads'.
One statement in autocommit (``call``: a database function that takes its locks and writes, as
``chat_write_sends`` does), which is one round trip where a transaction is three (``BEGIN``,
the statement, ``COMMIT``).

Through an ORM session a statement costs 400-575 µs of the node's CPU here, most of it the
session, the execution context and the result around asyncpg.

The pool, its limits and its checks stay SQLAlchemy's, and so do the errors: a driver's error is
raised as the ``DBAPIError`` SQLAlchemy would raise, and a connection that may still be running
the statement (the task was cancelled mid-statement) is invalidated, so the pool never hands out
a connection holding its locks, and an outage still reads as one (``db_outages.py``).
"""

from __future__ import annotations

import contextlib
from typing import Any, NoReturn

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class DriverTransactions:
    """PostgreSQL only: statements in autocommit on the driver of ``engine``'s pooled
    connections."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def call(self, sql: str, *args: Any) -> list[Any]:
        """``sql``'s rows, run with ``args`` as one statement in autocommit (it commits or
        leaves nothing, as a whole)."""
        async with self._engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None  # a checked-out connection has its driver's
            try:
                rows: list[Any] = await driver.fetch(sql, *args)
            except Exception as exc:
                await raise_as_sqlalchemy(connection, exc, sql)
            except BaseException:
                # cancelled mid-statement (the server may still be running it, holding its
                # locks): never handed out again
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                raise
            return rows


def as_sqlalchemy_error(
    dialect: Dialect, adapted: Any, exc: Exception, sql: str, *, invalidated: bool
) -> Exception:
    """The error SQLAlchemy raises for the driver's ``exc``: its adapter (``adapted``, the
    DB-API connection around the driver's) maps it to a DB-API error with the SQLSTATE, wrapped
    in the matching ``DBAPIError``; an error that is not the database's (a reset socket) comes
    back as it is."""
    try:
        adapted._handle_exception(exc)  # raises the DB-API error it maps to
    except dialect.loaded_dbapi.Error as translated:
        return DBAPIError.instance(
            sql, None, translated, dialect.loaded_dbapi.Error, connection_invalidated=invalidated
        )
    except Exception:  # noqa: S110 (not the database's: raised as it is)
        pass
    return exc


async def raise_as_sqlalchemy(connection: AsyncConnection, exc: Exception, sql: str) -> NoReturn:
    """Raises ``exc``, a driver's error from ``sql`` run on ``connection``'s driver, as
    ``as_sqlalchemy_error`` maps it; a connection found closed is invalidated first, so the pool
    opens a new one next time."""
    raw = await connection.get_raw_connection()
    closed = bool(raw.driver_connection is None or raw.driver_connection.is_closed())
    error = as_sqlalchemy_error(
        connection.dialect, raw.dbapi_connection, exc, sql, invalidated=closed
    )
    if closed:
        await connection.invalidate()
    raise error from exc
