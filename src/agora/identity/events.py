"""What identity's writes tell the rest of the application, once they are committed.

Other contexts show profiles and follow flags; they register handlers for these events
(today the read caches: ``read_cache.register_event_handlers``, by the composition root), so
identity never needs to know who shows what.
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.platform.events import Event


@dataclass(frozen=True, slots=True)
class ProfileChanged(Event):
    """The user's public profile (username, bio, image) or account changed."""

    user_id: int


@dataclass(frozen=True, slots=True)
class TokensRevoked(Event):
    """Every access token issued to ``user_id`` before now is refused (a password reset)."""

    user_id: int


@dataclass(frozen=True, slots=True)
class FollowsChanged(Event):
    """``follower_id`` followed or unfollowed someone."""

    follower_id: int
