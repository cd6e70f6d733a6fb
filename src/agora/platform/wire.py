"""Formats on the wire that every context shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer
from pydantic_core import PydanticCustomError


def iso_utc_millis(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: ``2026-11-22T13:49:06.123Z``."""
    # isoformat() truncates to milliseconds like the spec's examples, and is several times faster
    # than strftime(): every timestamp of every article list goes through here
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


Timestamp = Annotated[datetime, PlainSerializer(iso_utc_millis, return_type=str, when_used="json")]


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it here, the same on every database, not as a 500
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    return value


# any text from a client that may reach the database: bodies, path and query parameters
NoNul = AfterValidator(_refuse_nul)
SafeStr = Annotated[str, NoNul]
