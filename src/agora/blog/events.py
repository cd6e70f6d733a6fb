"""What the blog's writes tell the rest of the application, once they are committed.

Nothing in the blog's rules knows who listens: the read cache does today
(``read_cache.register_event_handlers``, registered by the composition root).
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.platform.events import Event


@dataclass(frozen=True, slots=True)
class ArticlesChanged(Event):
    """An article was written, edited or deleted (its text, slug or tags)."""


@dataclass(frozen=True, slots=True)
class FavoritesChanged(Event):
    """``user_id`` favorited or unfavorited an article: its count and their set moved."""

    user_id: int
