"""Account rules that go through the mail: verify an address, reset a forgotten password.

A request adds a job (``identity.jobs``) in its unit of work; the job makes the token and sends
the mail. The confirmations spend the token (once: see ``account_tokens``).
"""

from __future__ import annotations

from sqlalchemy import update

from agora.identity import account_tokens
from agora.identity.account_tokens import Purpose
from agora.identity.events import TokensRevoked
from agora.identity.jobs import (
    SEND_PASSWORD_RESET,
    SEND_VERIFICATION,
    SendPasswordReset,
    SendVerification,
)
from agora.identity.models import User
from agora.identity.passwords import Passwords
from agora.platform.db import Database, utcnow
from agora.platform.errors import Invalid, Unauthorized
from agora.platform.uow import UnitOfWork


def verification_requested(uow: UnitOfWork, *, user_id: int, link_base: str) -> None:
    """A verification mail for the user, sent once ``uow`` commits."""
    uow.outbox.add(SEND_VERIFICATION, SendVerification(user_id=user_id, link_base=link_base))


async def request_verification(*, uow: UnitOfWork, user_id: int, link_base: str) -> None:
    """Another verification mail (the last one expired, or the address changed)."""
    user = await uow.session.get(User, user_id)
    if user is None:
        raise Unauthorized("is invalid", field="token")
    if user.verified:
        return
    verification_requested(uow, user_id=user_id, link_base=link_base)
    await uow.commit()


async def verify_email(*, uow: UnitOfWork, token: str) -> None:
    spent = await account_tokens.spend(uow.session, token, Purpose.VERIFY_EMAIL)
    user = await uow.session.get(User, spent.user_id)
    assert user is not None  # a user's tokens are deleted with the user
    if user.email != spent.sent_to:
        # raised before the commit: the token stays unspent, and as useless
        raise Invalid("was sent to an address this account no longer has", field="token")
    user.verified = True
    await uow.commit()


async def request_password_reset(*, uow: UnitOfWork, email: str, link_base: str) -> None:
    """A reset mail, if ``email`` has an account: the job finds out, not this request.

    Every request does the same work (one job written), so neither the answer nor its timing
    tells whether the address has an account.
    """
    uow.outbox.add(SEND_PASSWORD_RESET, SendPasswordReset(email=email.lower(), link_base=link_base))
    await uow.commit()


async def reset_password(
    *,
    uow: UnitOfWork,
    db: Database,
    passwords: Passwords,
    token: str,
    password: str,
) -> None:
    """Sets the new password, spends the token (and the user's other reset tokens), and refuses
    every access token issued before now."""
    # looked at first, outside any transaction: a wrong token costs no Argon2 hash
    async with db.autocommit_sessions() as session:
        await account_tokens.find(session, token, Purpose.RESET_PASSWORD)
    # hashed before the unit of work takes a connection: the pool is never held while Argon2 runs
    password_hash = await passwords.hash(password)
    spent = await account_tokens.spend(uow.session, token, Purpose.RESET_PASSWORD)
    now = utcnow()
    changes: dict[str, object] = {"password_hash": password_hash, "tokens_valid_after": now}
    await uow.session.execute(
        update(User)
        .where(User.id == spent.user_id)
        .values(changes)
        .execution_options(synchronize_session=False)
    )
    # the link reached the address the account still has: that verifies it as well
    await uow.session.execute(
        update(User)
        .where(User.id == spent.user_id, User.email == spent.sent_to)
        .values(verified=True)
        .execution_options(synchronize_session=False)
    )
    await account_tokens.spend_all(
        uow.session, user_id=spent.user_id, purpose=Purpose.RESET_PASSWORD, now=now
    )
    # the cached "tokens valid after" moment is forgotten once this commits
    uow.emit(TokensRevoked(spent.user_id))
    await uow.commit()
