"""JWT access tokens: HS256, signed with the configured secret, with an expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from agora.platform.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "agora"


class TokenCodec:
    def __init__(self, secret: str, *, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(self, user_id: int, *, now: datetime | None = None) -> str:
        issued_at = now or datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iat": issued_at,
            "exp": issued_at + self._ttl,
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def user_id(self, token: str) -> int:
        """The user a token speaks for; ``Unauthorized`` if it is forged, expired or malformed."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
            return int(claims["sub"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("has expired", field="token") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthorized("is invalid", field="token") from None
