"""A realistic blog, generated in memory from a fixed seed: users, articles, tags and activity.

Popularity is skewed everywhere, as on a real site: a few authors write most articles, a few tags
are on most of them, and a few articles collect most favorites and comments. Rows come out as
tuples in the column order of ``COLUMNS``, ready for PostgreSQL's COPY.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slugify import slugify

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": (
        "id",
        "username",
        "email",
        "password_hash",
        "bio",
        "image",
        "created_at",
        "updated_at",
    ),
    "tags": ("id", "name"),
    "articles": (
        "id",
        "slug",
        "title",
        "description",
        "body",
        "author_id",
        "favorites_count",
        "created_at",
        "updated_at",
    ),
    "article_tags": ("article_id", "tag_id"),
    "favorites": ("user_id", "article_id", "created_at"),
    "comments": ("id", "article_id", "author_id", "body", "created_at", "updated_at"),
    "follows": ("follower_id", "followee_id", "created_at"),
}

TAGS = (
    "programming", "python", "javascript", "webdev", "tutorial", "beginners", "devops", "react",
    "postgresql", "career", "productivity", "opensource", "typescript", "docker", "rust",
    "testing", "performance", "security", "architecture", "go", "kubernetes", "linux", "sql",
    "fastapi", "asyncio", "databases", "redis", "api", "cloud", "aws", "machinelearning",
    "datascience", "css", "html", "vue", "graphql", "microservices", "git", "algorithms",
    "design", "ux", "mobile", "android", "ios", "networking", "observability", "startups",
    "writing", "hiring", "interview",
)  # fmt: skip

FIRST_NAMES = (
    "ada", "alan", "grace", "linus", "guido", "barbara", "ken", "dennis", "margaret", "edsger",
    "donald", "frances", "john", "radia", "tim", "sophie", "katherine", "brian", "bjarne", "anita",
    "yukihiro", "rasmus", "james", "lin", "mei", "ivan", "olga", "pedro", "lucia", "amara",
    "kwame", "priya", "arjun", "noor", "omar", "sara", "jake", "jane", "hugo", "emma",
)  # fmt: skip
LAST_NAMES = (
    "lovelace", "turing", "hopper", "torvalds", "rossum", "liskov", "thompson", "ritchie",
    "hamilton", "dijkstra", "knuth", "allen", "mccarthy", "perlman", "berners", "wilson",
    "johnson", "kernighan", "stroustrup", "borg", "matsumoto", "lerdorf", "gosling", "chen",
    "wang", "petrov", "ivanova", "silva", "garcia", "okafor", "mensah", "sharma", "patel",
    "haddad", "nasser", "cohen", "smith", "doe", "meyer", "dubois",
)  # fmt: skip

TOPICS = (
    "PostgreSQL indexes", "async Python", "FastAPI dependencies", "connection pooling",
    "Rust lifetimes", "Kubernetes operators", "React hooks", "TypeScript generics", "Redis streams",
    "event sourcing", "database migrations", "zero-downtime deploys", "load testing",
    "structured logging", "JWT authentication", "rate limiting", "CSS grid", "GraphQL schemas",
    "Docker layers", "Git rebasing", "code review", "technical interviews", "on-call rotations",
    "feature flags", "property-based testing", "SQL window functions", "query planners",
    "memory leaks", "profiling Python", "HTTP caching", "WebSockets", "message queues",
    "type checking", "monorepos", "microservices", "a side project", "open source maintenance",
    "remote work", "technical writing", "the first year as a developer",
)  # fmt: skip
TITLE_SHAPES = (
    "How I learned to stop worrying about {t}",
    "A practical guide to {t}",
    "{T}: what nobody tells you",
    "Ten things I wish I knew about {t}",
    "Why {t} matters more than you think",
    "{T} in production",
    "Understanding {t} from first principles",
    "The hidden cost of {t}",
    "Getting started with {t}",
    "{T}, revisited",
    "What I learned shipping {t}",
    "Debugging {t} at 3 a.m.",
    "Stop misusing {t}",
    "{T} for the impatient",
    "Lessons from a year of {t}",
)

_VOCABULARY = (
    "the of and to in is it that for on with as this was be by are you at from not or have an "
    "but we they which one all can will there if more when what so about out up some time only "
    "into just like than then also how our first way well even new because any these most after "
    "system data query index table request response server client latency throughput cache "
    "database connection pool worker thread process memory queue message event handler route "
    "schema migration deploy release test bug fix performance error retry timeout session token "
    "user article comment feed tag profile service module function class method interface type "
    "value result record batch stream buffer lock transaction commit rollback replica primary "
    "shard partition cluster node container image build pipeline review design pattern trade "
    "simple small large fast slow careful explicit implicit correct wrong better worse clean "
    "measure profile benchmark observe monitor alert trace log metric budget limit scale grow "
    "read write update delete insert select join filter sort group count order offset cursor"
)
WORDS = tuple(_VOCABULARY.split())

CODE_SNIPPETS = (
    "```python\nasync def handler(request):\n    rows = await db.fetch(query, request.user_id)\n"
    "    return [Row(**r) for r in rows]\n```",
    "```sql\nEXPLAIN ANALYZE\nSELECT id, title FROM articles\nORDER BY created_at DESC\n"
    "LIMIT 20;\n```",
    "```bash\n$ wrk -t2 -c32 -d15s --latency http://127.0.0.1:8000/api/articles\n```",
    "```ts\nexport function debounce<T>(fn: (arg: T) => void, ms: number) {\n  let timer: number;\n"
    "  return (arg: T) => { clearTimeout(timer); timer = setTimeout(() => fn(arg), ms); };\n}\n```",
    "```rust\nfn main() {\n    let total: u64 = (1..=10).map(|n| n * n).sum();\n"
    '    println!("{total}");\n}\n```',
)

BENCH_PASSWORD = "benchmark-password"  # noqa: S105 — every seeded user's password, on purpose


@dataclass(frozen=True, slots=True)
class Scale:
    users: int = 1_000
    articles: int = 10_000
    favorites: int = 110_000
    comments: int = 55_000
    follows_per_user: int = 20

    def times(self, factor: float) -> Scale:
        return Scale(
            users=max(50, round(self.users * factor)),
            articles=max(200, round(self.articles * factor)),
            favorites=max(1_000, round(self.favorites * factor)),
            comments=max(500, round(self.comments * factor)),
            follows_per_user=self.follows_per_user,
        )


@dataclass
class Dataset:
    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    slugs: list[str] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)
    # (user id, article id) of each favorite, typed (the rows are plain tuples for COPY)
    favorites: list[tuple[int, int]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}


class _Weighted:
    """Draws from ``items`` with the given weights in O(log n) per draw."""

    def __init__(self, items: list[int], weights: list[float]) -> None:
        self.items = items
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> int:
        point = rng.random() * self.cumulative[-1]
        index = bisect.bisect_right(self.cumulative, point)
        return self.items[min(index, len(self.items) - 1)]

    def distinct(self, rng: random.Random, count: int, *, exclude: int | None = None) -> set[int]:
        count = min(count, len(self.items) - (exclude is not None))
        chosen: set[int] = set()
        while len(chosen) < count:
            item = self.draw(rng)
            if item != exclude:
                chosen.add(item)
        return chosen


def _sentence(rng: random.Random, low: int = 6, high: int = 18) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + rng.choice(".....?!")


def _paragraph(rng: random.Random) -> str:
    text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 7)))
    if rng.random() < 0.3:
        word = rng.choice(WORDS)
        text = text.replace(f" {word} ", f" **{word}** ", 1)
    return text


def _markdown_body(rng: random.Random, topic: str) -> str:
    """A post of 1–6 KB: sections with paragraphs, sometimes a list, a quote or code."""
    parts = [_paragraph(rng)]
    for _ in range(rng.randint(2, 5)):
        parts.append(f"## {_sentence(rng, 2, 5).rstrip('.?!')}")
        parts.extend(_paragraph(rng) for _ in range(rng.randint(1, 3)))
        roll = rng.random()
        if roll < 0.25:
            parts.append("\n".join(f"- {_sentence(rng, 3, 8)}" for _ in range(rng.randint(2, 5))))
        elif roll < 0.45:
            parts.append(rng.choice(CODE_SNIPPETS))
        elif roll < 0.55:
            parts.append(f"> {_sentence(rng)}")
    parts.append(f"More on {topic} soon — [the docs](https://example.com/docs) are a good start.")
    return "\n\n".join(parts)


def _after(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max((end - start).total_seconds(), 1.0)
    return start + timedelta(seconds=rng.random() * span)


def generate(scale: Scale, *, password_hash: str, seed: int = 20261122) -> Dataset:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    site_opened = now - timedelta(days=3 * 365)
    data = Dataset()

    # --- users: some write a lot, most a little or nothing ----------------------------------
    users: list[tuple[object, ...]] = []
    user_created: dict[int, datetime] = {}
    taken: set[str] = set()
    for user_id in range(1, scale.users + 1):
        base = f"{rng.choice(FIRST_NAMES)}_{rng.choice(LAST_NAMES)}"
        username = base if base not in taken else f"{base}{user_id}"
        taken.add(username)
        created = _after(rng, site_opened, now - timedelta(days=30))
        user_created[user_id] = created
        bio = _sentence(rng, 4, 14) if rng.random() < 0.6 else None
        image = f"https://images.example.com/avatars/{user_id}.jpg" if rng.random() < 0.4 else None
        users.append(
            (
                user_id,
                username,
                f"{username}@example.com",
                password_hash,
                bio,
                image,
                created,
                created,
            )
        )
    data.rows["users"] = users
    data.user_ids = list(range(1, scale.users + 1))
    activity = _Weighted(data.user_ids, [rng.paretovariate(1.2) for _ in data.user_ids])

    data.rows["tags"] = [(tag_id, name) for tag_id, name in enumerate(TAGS, start=1)]
    tag_ids = list(range(1, len(TAGS) + 1))
    tag_popularity = _Weighted(tag_ids, [1.0 / rank**1.1 for rank in tag_ids])

    # --- articles: ids follow created_at, as they would on a live site -------------------------
    drafts: list[tuple[datetime, int, str]] = []
    for _ in range(scale.articles):
        author_id = activity.draw(rng)
        drafts.append((_after(rng, user_created[author_id], now), author_id, rng.choice(TOPICS)))
    drafts.sort()
    articles: list[list[object]] = []
    article_created: list[datetime] = []
    article_tags: list[tuple[object, ...]] = []
    slugs_taken: set[str] = set()
    for article_id, (created, author_id, topic) in enumerate(drafts, start=1):
        title = rng.choice(TITLE_SHAPES).format(t=topic, T=topic[0].upper() + topic[1:])
        slug = slugify(title, max_length=247)
        while slug in slugs_taken:
            slug = f"{slugify(title, max_length=247)}-{rng.getrandbits(24):06x}"
        slugs_taken.add(slug)
        updated = _after(rng, created, now) if rng.random() < 0.2 else created
        articles.append(
            [
                article_id,
                slug,
                title,
                _sentence(rng, 8, 20),
                _markdown_body(rng, topic),
                author_id,
                0,
                created,
                updated,
            ]
        )
        article_created.append(created)
        n_tags = rng.choices((1, 2, 3, 4, 5), weights=(15, 30, 30, 15, 10))[0]
        article_tags.extend((article_id, tag) for tag in tag_popularity.distinct(rng, n_tags))
    data.slugs = [str(row[1]) for row in articles]
    article_ids = list(range(1, len(articles) + 1))
    appeal = _Weighted(article_ids, [rng.paretovariate(1.1) for _ in article_ids])

    # --- favorites: heavy readers and popular articles; favorites_count follows from them ------
    favorites: list[tuple[object, ...]] = []
    favorites_count = [0] * len(articles)
    per_user = [rng.lognormvariate(0, 0.8) for _ in data.user_ids]
    total_weight = sum(per_user)
    for user_id, weight in zip(data.user_ids, per_user, strict=True):
        count = max(1, round(scale.favorites * weight / total_weight))
        for article_id in appeal.distinct(rng, count):
            created = max(article_created[article_id - 1], user_created[user_id])
            favorites.append((user_id, article_id, _after(rng, created, now)))
            data.favorites.append((user_id, article_id))
            favorites_count[article_id - 1] += 1

    # --- comments: popular articles get the conversation --------------------------------------
    comments: list[tuple[object, ...]] = []
    for comment_id in range(1, scale.comments + 1):
        article_id = appeal.draw(rng)
        created = _after(rng, article_created[article_id - 1], now)
        body = " ".join(_sentence(rng, 4, 16) for _ in range(rng.randint(1, 4)))
        comments.append((comment_id, article_id, activity.draw(rng), body, created, created))

    # --- follows: about twenty each, mostly of the prolific authors ---------------------------
    follows: list[tuple[object, ...]] = []
    for user_id in data.user_ids:
        count = rng.randint(scale.follows_per_user // 2, scale.follows_per_user * 3 // 2)
        for followee in sorted(activity.distinct(rng, count, exclude=user_id)):
            since = max(user_created[user_id], user_created[followee])
            follows.append((user_id, followee, _after(rng, since, now)))

    for row, count in zip(articles, favorites_count, strict=True):
        row[6] = count
    data.rows["articles"] = [tuple(row) for row in articles]
    data.rows["article_tags"] = article_tags
    data.rows["favorites"] = favorites
    data.rows["comments"] = comments
    data.rows["follows"] = follows
    return data
