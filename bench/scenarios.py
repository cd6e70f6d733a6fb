"""What is measured, and the targets from the performance issue.

Every target is relative to the ceiling — ``GET /api/ping``, a fixed tiny JSON answer that goes
through the same server, middlewares and router as everything else — so the figures say what an
endpoint's own work costs, on whatever machine runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

COMMENT_BODY = (
    '{"comment":{"body":"Thanks for writing this up: the part about measuring before '
    'optimizing saved me an afternoon."}}'
)


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    label: str
    method: str
    path: str
    signed_in: bool = False
    body: str | None = None
    expected_status: int = 200
    ceiling: bool = False
    # targets: requests/s as a share of the ceiling's, and a bound on the 99th percentile
    min_share: float | None = None
    max_p99_ms: float | None = None
    # each request a (user, article) pair of its own, never repeated: "new" ones the user has
    # not favorited, or "favorited" ones (so a favorite or an unfavorite always changes a row)
    pairs: Literal["new", "favorited"] | None = None

    @property
    def rotates_slugs(self) -> bool:
        return "{slug}" in self.path and self.pairs is None


SCENARIOS = (
    Scenario("ping", "GET /api/ping (the ceiling)", "GET", "/api/ping", ceiling=True),
    Scenario(
        "articles",
        "GET /api/articles?limit=20, anonymous",
        "GET",
        "/api/articles?limit=20",
        min_share=0.25,
    ),
    Scenario(
        "articles-signed-in",
        "GET /api/articles?limit=20, signed in",
        "GET",
        "/api/articles?limit=20",
        signed_in=True,
        min_share=0.35,
        max_p99_ms=25.0,
    ),
    Scenario(
        "feed",
        "GET /api/articles/feed, signed in",
        "GET",
        "/api/articles/feed",
        signed_in=True,
        min_share=0.25,
    ),
    Scenario(
        "article",
        "GET /api/articles/{slug}, anonymous",
        "GET",
        "/api/articles/{slug}",
        min_share=0.25,
    ),
    Scenario(
        "comment",
        "POST /api/articles/{slug}/comments, signed in",
        "POST",
        "/api/articles/{slug}/comments",
        signed_in=True,
        body=COMMENT_BODY,
        expected_status=201,
        min_share=0.25,
    ),
    Scenario(
        "favorite",
        "POST /api/articles/{slug}/favorite, signed in",
        "POST",
        "/api/articles/{slug}/favorite",
        signed_in=True,
        pairs="new",
        min_share=0.25,
    ),
    Scenario(
        "unfavorite",
        "DELETE /api/articles/{slug}/favorite, signed in",
        "DELETE",
        "/api/articles/{slug}/favorite",
        signed_in=True,
        pairs="favorited",
        min_share=0.25,
    ),
)
