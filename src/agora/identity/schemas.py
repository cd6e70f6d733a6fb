"""Identity's wire shapes, as the RealWorld spec names them. Secrets never appear in a response."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agora.identity.models import USERNAME_MAX
from agora.platform.wire import NoNul

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


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=USERNAME_MAX),
    Field(pattern=r"^[\w.\-]+$", examples=["jake"]),
    AfterValidator(_survives_a_url_path),
]
# NIST 800-63B: at least 8 characters, long passphrases welcome, no composition rules
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Email = Annotated[EmailStr, Field(examples=["jake@jake.jake"])]
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


# Settings forms (the RealWorld Angular front end's, for one) send every field, "" for those the
# user left alone; the spec's reference implementation takes "" there as not sent, and so do we.
_EMPTY_MEANS_NOT_SENT = ("email", "username", "password")


def _or_empty_string(schema: dict[str, Any]) -> None:
    # "" is accepted, so the documented schema accepts it too
    schema["anyOf"].insert(-1, {"type": "string", "const": ""})


_LEFT_ALONE = Field(
    description="Not changed when absent or an empty string.", json_schema_extra=_or_empty_string
)


class UpdateUser(Request):
    """Only the fields sent are changed. ``email``, ``username`` and ``password`` sent as ``""``
    count as not sent; ``bio`` and ``image`` are cleared with ``null`` or ``""``."""

    email: Annotated[Email | None, _LEFT_ALONE] = None
    username: Annotated[Username | None, _LEFT_ALONE] = None
    password: Annotated[NewPassword | None, _LEFT_ALONE] = None
    bio: Annotated[Bio | None, Field(description="Cleared with null or an empty string.")] = None
    image: Annotated[
        ImageUrl | None, Field(description="Cleared with null or an empty string.")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_strings(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        return {
            field: value
            for field, value in data.items()
            if not (field in _EMPTY_MEANS_NOT_SENT and value == "")
        }


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
