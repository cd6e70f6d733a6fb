"""Formats on the wire that every context shares."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, PlainSerializer
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


def iso_utc_millis(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: ``2026-11-22T13:49:06.123Z``."""
    # isoformat() truncates to milliseconds like the spec's examples, and is several times faster
    # than strftime(): every timestamp of every article list goes through here
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


Timestamp = Annotated[datetime, PlainSerializer(iso_utc_millis, return_type=str, when_used="json")]


# --- text from clients ------------------------------------------------------------------------
#
# Each rule is checked in Python with a message of its own, and shown in /openapi.json as a JSON
# Schema `pattern` built from the same character classes, so the document says what the server
# enforces (tests/test_openapi.py fuzzes the two against each other). Both classes are spelled out
# code point by code point: `\s` means something else in Python, ECMA-262 and Rust regexes.
# (Lone surrogates, which JSON's "\ud800" escapes can carry, pydantic refuses for every string.)

# what str.isspace() and str.strip() call whitespace
SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# the C0 and C1 control characters, and U+FFFE and U+FFFF, which XML 1.0 cannot carry either
CONTROL = r"\x00-\x1f\x7f-\x9f\ufffe\uffff"
_CONTROL = re.compile(f"[{CONTROL}]")


@dataclass(frozen=True, slots=True)
class TextRule:
    """An ``Annotated`` marker: ``check`` runs after the type's own constraints (so lengths count
    what the client sent) and may normalize the value; ``pattern`` documents the same rule."""

    check: Callable[[str], str]
    pattern: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it here, the same on every database, not as a 500
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    return value


def _refuse_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "can't be blank")
    return value


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("control_character", "must not contain control characters")
    return _refuse_blank(value).strip()


# any text from a client that may reach the database: bodies, path and query parameters
NoNul = TextRule(_refuse_nul, pattern=r"^[^\x00]*$")
SafeStr = Annotated[str, NoNul]

# Multi-line text (an article's or a comment's Markdown body): any character but NUL, and not
# blank; kept as sent, since leading spaces mean something in Markdown.
NotBlank = TextRule(
    lambda value: _refuse_blank(_refuse_nul(value)),
    pattern=rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$",
)

# Single-line text (a title, a description, a tag): shown as one line in lists, page titles,
# slugs, Atom feeds and logs, where a control character is never meant and can do harm (a
# terminal escape in a log, XML that no longer parses), so it is refused with a clear 422 rather
# than dropped in silence. Format characters such as bidi marks stay: right-to-left text needs
# them. Stored without surrounding whitespace.
SingleLine = TextRule(
    _single_line,
    pattern=rf"^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$",
)


# the type of a validation error whose message is written for clients, case included (codes such
# as "ISO 4217" or "FR"): shown as it is, where other messages are lower-cased
VERBATIM = "verbatim"


def matching(pattern: str, message: str) -> TextRule:
    """Text that must match ``pattern`` (anchored; documented as it), refused with ``message``
    rather than a generic "does not match" that leaves the client guessing."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.search(value):
            raise PydanticCustomError(VERBATIM, message)
        return value

    return TextRule(check, pattern=pattern)


def omittable(also: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """``Field`` of a field a client may leave out (unchanged) but not send as null: declare it
    ``T | None = omittable()`` and refuse null in a validator. ``None`` is only the model's "not
    sent", so the document shows neither null nor a default; ``also`` may describe more."""

    def document(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        variants = [variant for variant in schema.pop("anyOf", []) if variant != {"type": "null"}]
        if len(variants) == 1:
            schema.update(variants[0])
        elif variants:
            schema["anyOf"] = variants
        if also is not None:
            also(schema)

    return Field(default=None, json_schema_extra=document)
