"""The database port: one async engine and session factory, SQLite or PostgreSQL by URL alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from agora.platform.sqlite_writes import WriteQueue

# Deterministic constraint names, so migrations name the same thing the same way on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite keeps no zone, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The largest value of an INTEGER column (every id) on every backend: 32 bits on PostgreSQL
# (SQLite would hold 64). A number from a client past it is refused before it reaches the
# database, where binding it would be an error instead of a 4xx.
INTEGER_MAX = 2**31 - 1

# Where a read that may not need the database gets a session: called only when it does.
SessionFactory = Callable[[], AsyncSession]


def utcnow() -> datetime:
    return datetime.now(UTC)


# Anything that runs statements: where a statement must differ between the two databases, the
# code asks `on_postgresql(bind)`, the one place that tells them apart.
Bind = AsyncEngine | AsyncConnection | AsyncSession


def on_postgresql(bind: Bind) -> bool:
    """Whether ``bind`` talks to PostgreSQL (else SQLite)."""
    dialect = bind.get_bind().dialect if isinstance(bind, AsyncSession) else bind.dialect
    return dialect.name == "postgresql"


def dialect_insert(bind: Bind) -> Callable[[Any], PostgresqlInsert | SqliteInsert]:
    """``insert`` with the database's ``ON CONFLICT`` clause, which each dialect builds apart."""
    return postgresql_insert if on_postgresql(bind) else sqlite_insert


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and not _in_memory(url) and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _on_sqlite_connect(busy_timeout_seconds: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
        cursor = dbapi_connection.cursor()
        # first: switching to WAL needs the lock another process may hold at this moment
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


# A pooled connection that sat idle may have been closed under us (a database restart, an idle
# timeout on the way); one returned a moment ago practically never has. So a connection is pinged
# on checkout only after this long unused: the protection of `pool_pre_ping` without its three
# round trips (BEGIN, ping, ROLLBACK) in front of every request.
PING_AFTER_IDLE_SECONDS = 5.0
# SQLite: how long a write waits for another process's write to end before it gets 503
DEFAULT_BUSY_TIMEOUT_SECONDS = 5.0
_RETURNED_AT = "agora_returned_at"


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(engine: AsyncEngine) -> Any:
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return  # brand new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # the pool discards this connection and checks out a fresh one
            raise DisconnectionError("stale pooled connection") from exc

    return on_checkout


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 20,
    timeout_seconds: float = 10.0,
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
) -> AsyncEngine:
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        # a file database is pooled like PostgreSQL; an in-memory one lives in one connection
        pooling: dict[str, Any] = {}
        if not _in_memory(url):
            pooling = {"pool_size": pool_size, "max_overflow": 0}
            pooling["pool_timeout"] = timeout_seconds
        engine = create_async_engine(url, echo=echo, **pooling)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect(busy_timeout_seconds))
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        # opened as needed and kept, up to pool_size: no overflow connection is opened for a
        # burst and closed after it (a new one costs a TCP handshake, authentication, and every
        # prepared statement again; a profile of a disconnect storm had that at a tenth of the
        # node's time), and a burst waits its turn in the pool's queue instead
        pool_size=pool_size,
        max_overflow=0,
        # waiting for a free connection, and opening a new one (asyncpg waits 60 s by default
        # for a server that does not answer)
        pool_timeout=timeout_seconds,
        connect_args={"timeout": timeout_seconds},
    )
    event.listen(engine.sync_engine, "checkin", _note_return)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle(engine))
    return engine


class Database:
    """Owns the engine; hands out one session (one unit of work) per request."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 20,
        timeout_seconds: float = 10.0,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            timeout_seconds=timeout_seconds,
            busy_timeout_seconds=busy_timeout_seconds,
        )
        if url.startswith("sqlite") and not _in_memory(url):
            # one writer at a time, queued in the event loop (an in-memory database has one
            # connection, so nothing to queue); waiting for its turn is waiting for the database
            WriteQueue(wait_seconds=timeout_seconds).install(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # For requests that only read, or write with one statement: each statement runs on its
        # own (autocommit), which saves the BEGIN and COMMIT/ROLLBACK round trips. A statement is
        # atomic by itself, and under READ COMMITTED every statement of a transaction sees its
        # own snapshot anyway, so nobody sees anything different.
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.autocommit_sessions = async_sessionmaker(
            self._autocommit_engine, expire_on_commit=False
        )

    def autocommit_connection(self) -> AsyncConnection:
        """A Core connection whose every statement commits on its own: for a write that is one
        statement, without the ORM session's bookkeeping around it. Use with ``async with``."""
        return self._autocommit_engine.connect()

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
