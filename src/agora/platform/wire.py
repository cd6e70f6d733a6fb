"""Formats on the wire that every context shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def iso_utc_millis(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: ``2026-11-22T13:49:06.123Z``."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


Timestamp = Annotated[datetime, PlainSerializer(iso_utc_millis, return_type=str, when_used="json")]
