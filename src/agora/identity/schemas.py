"""Identity's wire shapes, as the RealWorld spec names them. Secrets never appear in a response."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
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


class UpdateUser(Request):
    """Only the fields sent are changed; ``bio`` and ``image`` may be cleared with ``null``."""

    email: Email | None = None
    username: Username | None = None
    password: NewPassword | None = None
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
