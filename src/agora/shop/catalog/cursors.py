"""Keyset pagination: the orders a listing may take, and opaque cursors that say where a page
ended.

A page asks for the rows after the last one shown, by the sort key and the id (which breaks ties),
``WHERE (key, id) < (:key, :id) ORDER BY key DESC, id DESC LIMIT n + 1``: an index walk that
costs the same on page 1 and page 1,000, and that rows added meanwhile never shift. The cursor
is that last row's key and id, with the order it belongs to, as unpadded base64url JSON: opaque
to clients, checked on the way back (a cursor that was not made here is a 422, never a 500).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import BigInteger, Float, Integer, SQLColumnExpression, literal, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from agora.platform.db import INTEGER_MAX, UTCDateTime
from agora.platform.errors import Invalid

CURSOR_MAX = 200


class Sort(StrEnum):
    NEWEST = "newest"
    PRICE = "price"
    PRICE_DESC = "-price"
    # searches only: the best match first
    RELEVANCE = "relevance"


# the sort key's kind: how it is written into a cursor and read back
_KINDS = {Sort.NEWEST: "time", Sort.PRICE: "int", Sort.PRICE_DESC: "int", Sort.RELEVANCE: "float"}


# the bound values' SQL types: a time must be bound as the column stores it (SQLite: as text)
_TYPES: dict[str, TypeEngine[Any]] = {"time": UTCDateTime(), "int": BigInteger(), "float": Float()}


def descending(sort: Sort) -> bool:
    return sort is not Sort.PRICE


def ordering(sort: Sort, key: SQLColumnExpression[Any], id_: SQLColumnExpression[int]) -> list[Any]:
    if descending(sort):
        return [key.desc(), id_.desc()]
    return [key.asc(), id_.asc()]


def after(
    sort: Sort,
    key: SQLColumnExpression[Any],
    id_: SQLColumnExpression[int],
    position: Sequence[Any],
) -> ColumnElement[bool]:
    """The rows that come after ``position`` (a decoded cursor) in this order."""
    key_value, id_value = position
    last = tuple_(literal(key_value, _TYPES[_KINDS[sort]]), literal(id_value, Integer()))
    row = tuple_(key, id_)
    return row < last if descending(sort) else row > last


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode(sort: Sort, key: Any, id_: int) -> str:
    raw = orjson.dumps([sort.value, _plain(key), id_])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _refused(message: str = "is not a cursor this listing gave out") -> Invalid:
    return Invalid(message, field="cursor")


def _key(kind: str, value: Any) -> Any:
    if kind == "time" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _refused() from None
        if moment.tzinfo is None:
            raise _refused()
        return moment.astimezone(UTC)
    if kind == "int" and type(value) is int and 0 <= value <= 10**15:
        return value
    if kind == "float" and type(value) in (int, float):
        return float(value)
    raise _refused()


def decode(cursor: str, sort: Sort) -> tuple[Any, int]:
    """The sort key and id a cursor holds; a 422 naming ``cursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _refused() from None
    if not (isinstance(decoded, list) and len(decoded) == 3):
        raise _refused()
    order, key, id_ = decoded
    if order not in _KINDS:
        raise _refused()
    if order != sort.value:
        raise _refused(f"belongs to the order '{order}', not '{sort.value}'")
    if type(id_) is not int or not 0 < id_ <= INTEGER_MAX:
        raise _refused()
    return _key(_KINDS[sort], key), id_
