"""OpenAPI descriptions of the error responses, so /docs shows every status a route can give."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    401: "Missing, invalid or expired token, or wrong credentials",
    403: "Signed in, but not allowed to do this",
    404: "No such resource",
    409: "Conflicts with existing data (already taken)",
    413: "The request body is too large",
    415: "The uploaded file is not of an accepted type",
    422: "The request is malformed or a field is invalid",
    429: "Too many attempts; see Retry-After",
}


class GenericError(BaseModel):
    """``{"errors": {"field": ["message", ...]}}``"""

    errors: dict[str, list[str]]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": GenericError, "description": _DESCRIPTIONS[code]} for code in codes}
