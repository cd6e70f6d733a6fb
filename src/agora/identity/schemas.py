"""Identity's wire shapes, as the RealWorld spec names them. Secrets never appear in a response."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agora.identity.models import EMAIL_MAX, USERNAME_MAX
from agora.platform.wire import NoNul, omittable

# A URL path segment of "." or ".." is removed by every browser and HTTP client (RFC 3986's dot
# segments): /api/profiles/.. is sent as /api. The pattern lets nothing else through that a URL
# would change: other characters are percent-encoded on the way and decoded on arrival.
_DOT_SEGMENTS = {".", ".."}


def _survives_a_url_path(username: str) -> str:
    if username in _DOT_SEGMENTS:
        raise PydanticCustomError(
            "username_dot_segment",
            "can't be '.' or '..': a browser would drop it from the profile's address",
        )
    return username


_USERNAME_PUNCTUATION = frozenset("_.-")


def _one_spelling(username: str) -> str:
    """A name has one spelling, so no one can pass for another: NFKC folds the spellings that
    look alike into one (fullwidth "ｊａｋｅ" is "jake", "e" with a combining accent is "é"), as
    Django does with usernames; then only letters and digits of any script and "_.-" may remain,
    not the invisible joiners or stray marks that the pattern's ``\\w`` also lets through."""
    folded = unicodedata.normalize("NFKC", username)
    if not all(char.isalnum() or char in _USERNAME_PUNCTUATION for char in folded):
        raise PydanticCustomError(
            "username_characters", "may contain only letters, digits, '_', '.' and '-'"
        )
    if len(folded) > USERNAME_MAX:  # folding may lengthen ("ﬁ" is "fi")
        raise PydanticCustomError(
            "username_too_long", "is too long (maximum is {max} characters)", {"max": USERNAME_MAX}
        )
    return folded


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=USERNAME_MAX),
    Field(
        pattern=r"^[\w.\-]+$",
        examples=["jake"],
        description="Letters and digits of any script, '_', '.' and '-'; stored in Unicode's "
        "NFKC form, so look-alike spellings (fullwidth letters, combining accents) are one name.",
        json_schema_extra={"not": {"enum": sorted(_DOT_SEGMENTS)}},
    ),
    AfterValidator(_one_spelling),
    AfterValidator(_survives_a_url_path),
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


# A settings form (the RealWorld Angular front end's, for one) sends every field, "" for those the
# user left alone, as the spec's reference implementation reads them. A request of nothing but
# such blanks cannot come from a form: it asks to blank the field, and is refused (RealWorld's
# suite checks that `{"email": ""}` is a 422).
_EMPTY_MEANS_NOT_SENT = frozenset({"email", "username", "password"})


def _or_empty_string(schema: dict[str, Any]) -> None:
    # "" is accepted beside other fields, so the documented field accepts it too
    value = {key: schema.pop(key) for key in list(schema) if key not in {"title", "description"}}
    schema["anyOf"] = [value, {"type": "string", "const": ""}]
    schema["description"] = " ".join(filter(None, [schema.get("description"), _LEFT_ALONE]))


def _blanks_alone_refused(schema: dict[str, Any]) -> None:
    # ... and the object says when it does not: only blanks among the fields it knows
    schema["not"] = {
        "properties": {
            **{name: {"const": ""} for name in sorted(_EMPTY_MEANS_NOT_SENT)},
            "bio": False,
            "image": False,
        },
        "anyOf": [{"required": [name]} for name in sorted(_EMPTY_MEANS_NOT_SENT)],
    }


_LEFT_ALONE = (
    "Not changed when absent, or when an empty string beside other fields (as a settings form "
    "sends it); an empty string alone is refused, and so is null."
)
_CLEARABLE = Field(description="Cleared with null or an empty string.")


class UpdateUser(Request):
    """Only the fields sent are changed; see each field for what an empty string means."""

    model_config = ConfigDict(json_schema_extra=_blanks_alone_refused)

    email: Email | None = omittable(also=_or_empty_string)
    username: Username | None = omittable(also=_or_empty_string)
    password: NewPassword | None = omittable(also=_or_empty_string)
    bio: Annotated[Bio | None, _CLEARABLE] = None
    image: Annotated[ImageUrl | None, _CLEARABLE] = None

    @model_validator(mode="before")
    @classmethod
    def _drop_fields_left_alone(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        blank = {field for field in _EMPTY_MEANS_NOT_SENT if data.get(field) == ""}
        if not blank or not (data.keys() & cls.model_fields.keys()) - blank:
            return data  # nothing else was sent: the blanks are refused as such
        return {field: value for field, value in data.items() if field not in blank}


class UpdateUserRequest(Request):
    user: UpdateUser


class UserPublic(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None
    # beyond RealWorld: the owner confirmed the address through the link mailed to it
    verified: bool


class UserResponse(BaseModel):
    user: UserPublic


class Profile(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile


# --- account emails: verification and password reset --------------------------------------------

AccountToken = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    Field(description="The token from the link in the email", examples=["bWFkZSB1cCBmb3IgZG9jcw"]),
]


class VerifyEmailRequest(Request):
    token: AccountToken


class PasswordResetRequest(Request):
    email: Email


class PasswordResetConfirmRequest(Request):
    token: AccountToken
    password: NewPassword
