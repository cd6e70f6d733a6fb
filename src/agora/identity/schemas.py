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


# A settings form (the RealWorld Angular front end's, for one) sends every field, "" for those the
# user left alone, as the spec's reference implementation reads them. A request of nothing but
# such blanks cannot come from a form: it asks to blank the field, and is refused (RealWorld's
# suite checks that `{"email": ""}` is a 422).
_EMPTY_MEANS_NOT_SENT = frozenset({"email", "username", "password"})


def _or_empty_string(schema: dict[str, Any]) -> None:
    # "" is accepted, so the documented schema accepts it too
    schema["anyOf"].insert(-1, {"type": "string", "const": ""})


_LEFT_ALONE = Field(
    description="Not changed when absent, or when an empty string beside other fields (as a "
    "settings form sends it); an empty string alone is refused.",
    json_schema_extra=_or_empty_string,
)
_CLEARABLE = Field(description="Cleared with null or an empty string.")


class UpdateUser(Request):
    """Only the fields sent are changed; see each field for what an empty string means."""

    email: Annotated[Email | None, _LEFT_ALONE] = None
    username: Annotated[Username | None, _LEFT_ALONE] = None
    password: Annotated[NewPassword | None, _LEFT_ALONE] = None
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


class UserResponse(BaseModel):
    user: UserPublic


class Profile(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile
