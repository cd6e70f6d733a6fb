"""Who is asking: ``Authorization: Token <jwt>`` (``Bearer`` is accepted too)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from agora.identity.models import User
from agora.identity.passwords import Passwords
from agora.identity.reads import IdentityReads
from agora.identity.schemas import Profile
from agora.identity.service import get_user
from agora.identity.staff import check_staff
from agora.identity.tokens import AccessClaims, TokenCodec
from agora.platform.deps import SessionDep
from agora.platform.errors import Unauthorized
from agora.platform.observability import USER_ID_SCOPE_KEY
from agora.platform.provided import Provided

_authorization = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="`Token <jwt>` — the token comes from register or login",
    auto_error=False,
)
_SCHEMES = {"token", "bearer"}


# The dependencies below are `async def` although they never await: FastAPI runs a plain `def`
# dependency in a worker thread, and that hop costs more than the work itself.


class IdentityServices(Protocol):
    """What identity's routes need from the composition root."""

    @property
    def tokens(self) -> TokenCodec: ...

    @property
    def passwords(self) -> Passwords: ...

    @property
    def identity_reads(self) -> IdentityReads: ...


IDENTITY: Provided[IdentityServices] = Provided("identity's services")


async def get_token_codec(request: Request) -> TokenCodec:
    return IDENTITY.of(request.app).tokens


TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]


async def get_passwords(request: Request) -> Passwords:
    return IDENTITY.of(request.app).passwords


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


async def get_identity_reads(request: Request) -> IdentityReads:
    return IDENTITY.of(request.app).identity_reads


IdentityReadsDep = Annotated[IdentityReads, Depends(get_identity_reads)]


def _claims_from_header(header: str | None, tokens: TokenCodec) -> AccessClaims | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES or not token.strip():
        raise Unauthorized("is invalid", field="token")
    return tokens.claims(token.strip())


async def optional_user_id(
    request: Request, authorization: Annotated[str | None, Depends(_authorization)]
) -> int | None:
    """The signed-in user's id, or None for an anonymous request. A bad token is still a 401, and
    so is one issued before the user's last password reset."""
    # the codec and the read side straight from the app, not as dependencies: this runs on every
    # request
    identity = IDENTITY.of(request.app)
    claims = _claims_from_header(authorization, identity.tokens)
    if claims is None:
        return None
    await identity.identity_reads.check_not_revoked(claims.user_id, issued_at=claims.issued_at)
    request.scope[USER_ID_SCOPE_KEY] = claims.user_id
    return claims.user_id


async def required_user_id(user_id: Annotated[int | None, Depends(optional_user_id)]) -> int:
    if user_id is None:
        raise Unauthorized("is missing", field="token")
    return user_id


OptionalUserId = Annotated[int | None, Depends(optional_user_id)]
CurrentUserId = Annotated[int, Depends(required_user_id)]


async def current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    return await get_user(session=session, user_id=user_id)


CurrentUser = Annotated[User, Depends(current_user)]


async def current_profile(reads: IdentityReadsDep, user_id: CurrentUserId) -> Profile:
    """The signed-in user's public profile, from the cache when it can: for routes that only need
    to show who acted (a new comment's author), not to change the user."""
    profile = await reads.own_profile(user_id)
    if profile is None:
        # a valid signature for a user who no longer exists
        raise Unauthorized("is invalid", field="token")
    return profile


CurrentProfile = Annotated[Profile, Depends(current_profile)]


async def require_staff(session: SessionDep, user_id: CurrentUserId) -> int:
    """The signed-in user's id, if they are staff (403 otherwise). Read in the request's unit of
    work, so a staff write and the check share one connection."""
    await check_staff(session, user_id=user_id)
    return user_id


StaffUserId = Annotated[int, Depends(require_staff)]
