"""Identity's wire shapes, as the RealWorld spec names them. Secrets never appear in a response."""

from __future__ import annotations

from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from agora.identity.models import EMAIL_MAX, USERNAME_MAX
from agora.platform.wire import NoNul, omittable

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=USERNAME_MAX),
    Field(pattern=r"^[\w.\-]+$", examples=["jake"]),
]
# NIST 800-63B: at least 8 characters, long passphrases welcome, no composition rules
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def _email_address(value: str) -> str:
    # email-validator's rules: RFC 5322 syntax, internationalized addresses too, and no
    # special-use domain (RFC 6761: .test, .localhost, ...), which can never receive mail. Not
    # pydantic EmailStr's extras: a display name ("Jake <jake@example.com>") or surrounding
    # spaces are refused, not silently dropped, so that the schema below is the whole rule.
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError("email", "is invalid") from None


def _any_case(word: str) -> str:
    # JSON Schema patterns have no case-insensitive flag
    return "".join(f"[{letter.lower()}{letter.upper()}]" for letter in word)


_SPECIAL_USE_DOMAIN = "[.@](?:{})$".format("|".join(map(_any_case, SPECIAL_USE_DOMAIN_NAMES)))

Email = Annotated[
    str,
    StringConstraints(max_length=EMAIL_MAX),
    AfterValidator(_email_address),
    Field(
        json_schema_extra={"format": "idn-email", "not": {"pattern": _SPECIAL_USE_DOMAIN}},
        examples=["jake@jake.jake"],
        description="Compared case-insensitively; stored lower-cased. Not at a special-use "
        "domain (.test, .localhost, ...).",
    ),
]
Bio = Annotated[str, StringConstraints(max_length=10_000), NoNul]
ImageUrl = Annotated[str, StringConstraints(max_length=2048), NoNul]


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewUser(Request):
    username: Username
    email: Email
    password: NewPassword


class NewUserRequest(Request):
    user: NewUser


class LoginUser(Request):
    email: Email
    password: Password


class LoginUserRequest(Request):
    user: LoginUser


def _or_empty(schema: dict[str, Any]) -> None:
    # many forms send every field: "" keeps the value as it is, like leaving the field out
    value = {key: schema.pop(key) for key in list(schema) if key != "title"}
    schema["anyOf"] = [value, {"const": "", "description": "unchanged, as if left out"}]


class UpdateUser(Request):
    """Only the fields sent are changed; ``bio`` and ``image`` may be cleared with ``null`` or "".
    ``email``, ``username`` and ``password`` cannot be null; "" leaves them unchanged."""

    email: Email | None = omittable(also=_or_empty)
    username: Username | None = omittable(also=_or_empty)
    password: NewPassword | None = omittable(also=_or_empty)
    bio: Bio | None = None
    image: ImageUrl | None = None


class UpdateUserRequest(Request):
    user: UpdateUser


class UserPublic(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(BaseModel):
    user: UserPublic


class Profile(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile
