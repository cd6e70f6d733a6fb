"""The hottest reads, run by the database driver itself: the one fast path past SQLAlchemy.

A chat node reads the database on every subscribe (the room's head and the membership), every
recovery (a page of the room's log) and every user who comes online (their rooms). Through
SQLAlchemy, a statement costs 400-575 µs of CPU here (measured: 20 tasks running ``SELECT 1``
through an autocommit session or a Core connection), most of it the session, the execution
context and the result's machinery around asyncpg; through asyncpg's own prepared statement on a
connection from the same pool, about 200 µs. A storm of reconnects is thousands of those at
once.

So these reads keep their statement as SQLAlchemy Core (one definition, typed, portable), and
this object compiles it once for PostgreSQL and hands the SQL with its parameters in order to
asyncpg's ``fetch`` on a connection of the engine's pool (the pool, its limits and its checks
stay SQLAlchemy's). On SQLite (the embedded default) the same statement runs through
SQLAlchemy as before. What is given up: SQLAlchemy's type processing of parameters and
results, so a statement here binds plain values (integers, strings) and returns what asyncpg
returns (``timestamptz`` as an aware ``datetime``, ``text`` as ``str``); rows come back as
tuples on both databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine

Row = tuple[Any, ...]
AnySelect = Select[*tuple[Any, ...]]


class DriverReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # where a statement's shape must differ (an array parameter), its builder asks this
        self.on_postgresql = engine.dialect.name == "postgresql"
        # statement -> (its SQL for asyncpg, the names of its parameters in order)
        self._compiled: dict[AnySelect, tuple[str, tuple[str, ...]]] = {}

    async def rows(self, statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
        """``statement``'s rows for ``params`` (by its parameters' names), as tuples."""
        if not self.on_postgresql:
            async with self._engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(statement, params)]
        sql, names = self._sql(statement)
        async with self._engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None  # a checked-out connection has its driver's
            # a connection the server dropped, or a read cancelled mid-way, is dealt with by
            # the pool as it returns (its reset fails, or asyncpg cancels the statement)
            records = await driver.fetch(sql, *(params[name] for name in names))
        return [tuple(record) for record in records]

    async def first(self, statement: AnySelect, params: Mapping[str, Any]) -> Row | None:
        rows = await self.rows(statement, params)
        return rows[0] if rows else None

    def _sql(self, statement: AnySelect) -> tuple[str, tuple[str, ...]]:
        compiled = self._compiled.get(statement)
        if compiled is None:
            query = statement.compile(dialect=self._engine.dialect)
            compiled = (str(query), tuple(query.positiontup or ()))
            self._compiled[statement] = compiled
        return compiled
