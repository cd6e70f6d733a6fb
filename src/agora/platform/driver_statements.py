"""A hot statement handed to the database driver (asyncpg) on a connection SQLAlchemy holds: the
unit of work's transaction, or an autocommit connection. The shop's cart add and checkout are
the users (``docs/performance.md``, "The checkout's statements on the driver").

Through SQLAlchemy's Core execution a statement pays for the execution context, the adapter's
cursor, its greenlet hop and the result's machinery around asyncpg; a profile of the shop's
checkout scenario had that at about a tenth of the server's time, beside asyncpg's own share.
Here the statement stays SQLAlchemy Core or ``text()`` (one definition, typed, its SQL as
SQLAlchemy writes it for asyncpg), compiled once per dialect; its parameters go through the
columns' own bind processors (a JSON value serialised, a time checked as UTC), and asyncpg runs
it with its own prepared statement. Rows come back as asyncpg's records (index or key access;
plain values: no result processing, so such a statement returns integers, strings, booleans).

Inside a transaction the statement must not be the first: SQLAlchemy's asyncpg adapter sends
``BEGIN`` lazily with the transaction's first statement through it, so a statement handed to the
driver before that would run outside the transaction. ``rows`` checks the driver's own state and
runs through SQLAlchemy when no transaction is open yet on a connection that wants one.

The engine's ``before_cursor_execute`` listeners still see the statement, and the errors stay
SQLAlchemy's: a driver's error is raised as the ``DBAPIError`` SQLAlchemy would
raise, and a connection found closed is invalidated (an outage still reads as one,
``db_outages.py``). PostgreSQL only; on SQLite the statement runs through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Select, TextClause
from sqlalchemy.ext.asyncio import AsyncConnection

from agora.platform.driver_writes import raise_as_sqlalchemy

Record = Sequence[Any]
# what may go to the driver: a statement built once (a Core SELECT or a ``text()``)
Statement = TextClause | Select[*tuple[Any, ...]]
Processor = Callable[[Any], Any] | None


class _Compiled:
    """One statement's SQL for asyncpg, and its parameters in order with their processors."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.params: tuple[tuple[str, Processor], ...] = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [
            values[name] if process is None else process(values[name])
            for name, process in self.params
        ]


# (statement, dialect's name) -> compiled: the statements are built once (``functools.cache``),
# so this holds one entry per hot statement
_compiled: dict[tuple[Statement, str], _Compiled] = {}


async def rows(
    connection: AsyncConnection,
    statement: Statement,
    values: Mapping[str, Any],
    *,
    alone: bool = False,
) -> Sequence[Record]:
    """``statement``'s rows for ``values`` (by its parameters' names), run by the driver on
    ``connection``: a unit of work's connection with its transaction begun, or (``alone``) an
    autocommit connection. Through SQLAlchemy instead on SQLite, or when the transaction is
    not begun yet (this statement then begins it)."""
    if connection.dialect.name != "postgresql":
        return (await connection.execute(statement, values)).all()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # a checked-out connection has its driver's
    if not alone and not driver.is_in_transaction():
        return (await connection.execute(statement, values)).all()
    key = (statement, connection.dialect.name)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compiled[key] = _Compiled(statement, connection.dialect)
    args = compiled.args(values)
    # the engine's statement listeners see it as they see SQLAlchemy's (the tests count round
    # trips by them); none is registered on PostgreSQL in production, so this is an empty call
    sync = connection.sync_connection
    assert sync is not None  # started by get_raw_connection above
    sync.dispatch.before_cursor_execute(sync, None, compiled.sql, args, None, False)
    try:
        found: list[Record] = await driver.fetch(compiled.sql, *args)
    except Exception as exc:
        await raise_as_sqlalchemy(connection, exc, compiled.sql)
    return found
