"""Users and who follows whom: the one identity every product shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

USERNAME_MAX = 64
EMAIL_MAX = 254


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    # stored lower-cased, so uniqueness and login ignore case as users expect
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    image: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # the owner opened a link sent to ``email`` (agora.identity.emails)
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # access tokens issued before this moment are refused (set by a password reset)
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # may manage the shop's catalog and orders; granted by `agora users staff EMAIL`, never
    # shown in a RealWorld answer
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_followee_id", "followee_id"),)

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountToken(Base):
    """A single-use secret mailed to a user (verify the address, reset the password).

    Only its SHA-256 is stored: a copy of the table opens no account. The secret is 32 random
    bytes, so a plain hash is enough (no salt, no slow hash: nothing to guess).
    """

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    # where the link went: an address verified is this one, even if the user changed it since
    sent_to: Mapped[str] = mapped_column(String(EMAIL_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
