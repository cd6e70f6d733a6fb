"""Which database errors mean "the database cannot serve right now" (503, try again) rather than
"this request or this code is wrong" (a 4xx, or a 500 for a bug).

A restart of PostgreSQL (a few seconds), a connection killed under the pool, a pool with no free
connection in time, a SQLite file that cannot be opened: none is the client's fault, and the same
request will succeed once the database is back — the pool reconnects on its own. A constraint or
a value the database refuses (``IntegrityError``, ``DataError``) is never one of them.
"""

from __future__ import annotations

import socket
import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# seconds a client should wait before trying again: about what a PostgreSQL restart takes
RETRY_AFTER_SECONDS = 5

# SQLSTATE classes and codes that say the server or the connection is gone, or out of resources:
# 08 connection exception, 53 insufficient resources (disk full, out of memory, too many
# connections), 57P01-57P03 shut down by an administrator, after a crash, or starting up
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53"})
_OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})

# SQLite's primary result codes for a file that cannot be used now (busy/locked are not here:
# a write that waits for the lock is another matter)
_OUTAGE_SQLITE_CODES = frozenset(
    {
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
    }
)

# raised as they are, not wrapped, when a new connection cannot be opened (refused, reset, timed
# out, a host name that does not resolve)
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, socket.gaierror)


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (PoolTimeout, *UNREACHABLE_ERRORS)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES or sqlstate in _OUTAGE_SQLSTATES
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _OUTAGE_SQLITE_CODES  # the extended code's primary part
    return False
