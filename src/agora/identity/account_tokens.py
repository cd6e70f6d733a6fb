"""Single-use, expiring secrets mailed to a user: made, looked up and spent.

The secret is 32 random bytes (URL-safe base64 on the wire); the table keeps its SHA-256 only.
"Spent" is one ``UPDATE … WHERE used_at IS NULL AND expires_at > now``: of two requests with
one token, even at the same moment, exactly one succeeds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.models import AccountToken
from agora.platform.db import utcnow
from agora.platform.errors import Invalid

TOKEN_BYTES = 32
# base64 of 32 bytes is 43 characters; anything much longer is not one of ours
TOKEN_MAX_LENGTH = 128


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a name, not a password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    session: AsyncSession, *, user_id: int, sent_to: str, purpose: Purpose, lifetime: timedelta
) -> str:
    """Adds a token to the session's transaction and returns the secret (to mail, never store)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    session.add(
        AccountToken(
            token_hash=_digest(token),
            user_id=user_id,
            purpose=purpose.value,
            sent_to=sent_to,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


@dataclass(frozen=True, slots=True)
class Found:
    id: int
    user_id: int
    sent_to: str


async def find(session: AsyncSession, token: str, purpose: Purpose) -> Found:
    """The unspent, unexpired token; ``Invalid`` (on the field ``token``) otherwise, saying why."""
    row = (
        await session.execute(
            select(
                AccountToken.id,
                AccountToken.user_id,
                AccountToken.sent_to,
                AccountToken.expires_at,
                AccountToken.used_at,
            ).where(
                AccountToken.token_hash == _digest(token), AccountToken.purpose == purpose.value
            )
        )
    ).first()
    if row is None:
        raise Invalid("is invalid", field="token")
    if row.used_at is not None:
        raise Invalid("has already been used", field="token")
    if row.expires_at <= utcnow():
        raise Invalid("has expired; ask for a new one", field="token")
    return Found(row.id, row.user_id, row.sent_to)


async def spend(session: AsyncSession, token: str, purpose: Purpose) -> Found:
    """Marks the token used in the session's transaction; what it was for.

    ``Invalid`` if it is unknown, used or expired — or was spent by another request meanwhile.
    """
    found = await find(session, token, purpose)
    now = utcnow()
    spent = await session.execute(
        update(AccountToken)
        .where(
            AccountToken.id == found.id,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        raise Invalid("has already been used", field="token")
    return found


async def spend_all(
    session: AsyncSession, *, user_id: int, purpose: Purpose, now: datetime | None = None
) -> None:
    """Every other token of the user for ``purpose`` stops working too (a reset was done)."""
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
