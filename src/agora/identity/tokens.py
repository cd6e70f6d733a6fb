"""JWT access tokens: HS256, signed with the configured secret, with an expiry.

``iat`` keeps microseconds (RFC 7519 allows a fractional NumericDate): a password reset refuses
the tokens issued before it (``agora.identity.token_validity``), and a whole-second ``iat``
could not tell a token issued just before the reset from one issued just after it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from agora.platform.db import INTEGER_MAX
from agora.platform.errors import Unauthorized
from agora.settings import Settings

ALGORITHM = "HS256"
ISSUER = "agora"


# the subject as we issue it: a user id in decimal, without sign, spaces or leading zeros
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")

# verified tokens remembered per process: a client sends the same token with every request
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    issued_at: float  # Unix seconds; 0 for a token without ``iat`` (the oldest possible)
    expires_at: float


class TokenCodec:
    def __init__(
        self, secret: str, *, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock  # Unix seconds; tests pass a fake one to see tokens expire
        # only tokens whose signature checked out
        self._verified: dict[str, AccessClaims] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        return cls(settings.jwt_secret.get_secret_value(), ttl_seconds=settings.jwt_ttl_seconds)

    def issue(self, user_id: int, *, now: datetime | None = None) -> str:
        issued_at = now or datetime.fromtimestamp(self._clock(), UTC)
        claims = {
            "sub": str(user_id),
            "iat": round(issued_at.timestamp(), 6),
            "exp": issued_at + self._ttl,
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def user_id(self, token: str) -> int:
        """The user a token speaks for; ``Unauthorized`` if it is forged, expired or malformed."""
        return self.claims(token).user_id

    def claims(self, token: str) -> AccessClaims:
        """What a valid token says; ``Unauthorized`` if it is forged, expired or malformed."""
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = known
        if known.expires_at <= self._clock():
            raise Unauthorized("has expired", field="token")
        return known

    def _verify(self, token: str) -> AccessClaims:
        # the signature, issuer and claims here; the expiry against our clock, in `user_id`
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"], "verify_exp": False},
            )
        except jwt.InvalidTokenError:
            raise Unauthorized("is invalid", field="token") from None
        user_id, expires_at = _user_id(claims["sub"]), _unix_seconds(claims["exp"])
        issued_at = _unix_seconds(claims.get("iat", 0))
        # even a token signed with our key is trusted only as far as the claims we would write:
        # an id the users table can hold (a bigger one would reach the database and fail there)
        # and finite times (NaN would never expire, nor compare as older than anything)
        if user_id is None or expires_at is None or issued_at is None:
            raise Unauthorized("is invalid", field="token")
        return AccessClaims(user_id, issued_at, expires_at)


def _user_id(subject: object) -> int | None:
    if not isinstance(subject, str) or not _CANONICAL_ID.fullmatch(subject):
        return None
    user_id = int(subject)
    return user_id if user_id <= INTEGER_MAX else None


def _unix_seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        expiry = float(value)
    except OverflowError:  # an integer past any float
        return None
    return expiry if math.isfinite(expiry) else None
