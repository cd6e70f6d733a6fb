"""Demo content for ``make run``: a few users who write, follow, favorite and comment, and a small
shop whose staff member is jake."""

from __future__ import annotations

from sqlalchemy import exists, select

from agora.blog import favorites
from agora.blog import service as blog
from agora.blog.schemas import NewArticle
from agora.container import Container
from agora.identity import follows
from agora.identity import service as identity
from agora.identity.emails import link_base
from agora.identity.follows import SqlFollows
from agora.identity.models import User
from agora.identity.schemas import NewUser
from agora.identity.service import profile_of
from agora.identity.staff import set_staff
from agora.settings import Settings
from agora.shop.catalog import demo as shop_demo

DEMO_PASSWORD = "password123"  # noqa: S105 — demo accounts, printed by `agora seed`

USERS = [
    ("jake", "jake@example.com", "I work at statefarm"),
    ("jane", "jane@example.com", "Backend engineer; PostgreSQL and coffee."),
    ("ada", "ada@example.com", None),
    ("linus", "linus@example.com", "Talk is cheap. Show me the code."),
]

ARTICLES = [
    (
        "jake",
        "How to train your dragon",
        "Ever wonder how?",
        ["dragons", "training"],
        "# Step one\n\nIt takes a **Jacobian**.\n\n- patience\n- fish\n- a saddle",
    ),
    (
        "jane",
        "Indexes that pay for themselves",
        "Reading EXPLAIN without fear",
        ["postgresql", "performance"],
        "An index is a promise the database keeps on every write.\n\n"
        "```sql\nCREATE INDEX ON articles (created_at DESC);\n```",
    ),
    (
        "jane",
        "Transactions, briefly",
        "One unit of work per request",
        ["postgresql", "python"],
        "Commit once, after every check passed. *Publish events after the commit*, never inside.",
    ),
    (
        "ada",
        "Notes on the Analytical Engine",
        "The first program",
        ["history", "python"],
        "The engine *weaves algebraical patterns* just as the Jacquard loom weaves flowers.",
    ),
    (
        "linus",
        "Good taste in code",
        "Removing the special case",
        ["c", "style"],
        "Sometimes you can see a problem in a different way and rewrite it so that "
        "a special case goes away and becomes the normal case.",
    ),
    (
        "jake",
        "Async Python without tears",
        "asyncio in practice",
        ["python", "asyncio"],
        "Never block the event loop: hash passwords in a thread, "
        "talk to the database with asyncpg.",
    ),
]

COMMENTS = [
    ("jane", "How to train your dragon", "Great advice, the fish part especially."),
    ("ada", "How to train your dragon", "Does this scale to several dragons?"),
    ("jake", "Indexes that pay for themselves", "EXPLAIN ANALYZE changed my life."),
    ("linus", "Transactions, briefly", "Short and right."),
]
FAVORITES = [
    ("jake", "Indexes that pay for themselves"),
    ("ada", "Indexes that pay for themselves"),
    ("linus", "Notes on the Analytical Engine"),
    ("jane", "How to train your dragon"),
]
# may manage the demo shop
STAFF_EMAIL = "jake@example.com"
FOLLOWS = [("jake", "jane"), ("jane", "ada"), ("ada", "linus"), ("linus", "jake"), ("jake", "ada")]


async def seed_demo(settings: Settings, *, only_if_empty: bool = True) -> bool:
    """Loads the demo content; returns False (and changes nothing) when users already exist."""
    # what a server on these settings is built of, so its caches learn of the new content too
    container = Container.from_settings(settings)
    tokens, passwords = container.tokens, container.passwords
    events = container.units_of_work.events
    try:
        async with container.units_of_work() as uow:
            session = uow.session
            if only_if_empty and await session.scalar(select(exists().where(User.id > 0))):
                return False
            users: dict[str, User] = {}
            for username, email, bio in USERS:
                await identity.register(
                    uow=uow,
                    tokens=tokens,
                    passwords=passwords,
                    new_user=NewUser(username=username, email=email, password=DEMO_PASSWORD),
                    link_base=link_base(settings, settings.public_url or ""),
                )
                user = await session.scalar(select(User).where(User.username == username))
                assert user is not None
                user.bio = bio
                # demo addresses receive no mail: taken as verified (their verification job,
                # committed with them, finds that and sends nothing)
                user.verified = True
                users[username] = user
            await uow.commit()
            slugs: dict[str, str] = {}
            for author, title, description, tags, body in ARTICLES:
                slugs[title] = await blog.create_article(
                    uow=uow,
                    author=users[author],
                    new_article=NewArticle(
                        title=title, description=description, body=body, tagList=tags
                    ),
                )
            comments = await session.connection()
            for author, title, body in COMMENTS:
                await blog.add_comment(
                    connection=comments,
                    author_id=users[author].id,
                    author=profile_of(users[author], following=False),
                    slug=slugs[title],
                    body=body,
                )
            await uow.commit()
            for username, title in FAVORITES:
                await favorites.favorite(
                    connection=await session.connection(),
                    events=events,
                    user_id=users[username].id,
                    slug=slugs[title],
                )
            await uow.commit()
            for follower, followee in FOLLOWS:
                await follows.follow(
                    uow=uow,
                    follows=SqlFollows(session),
                    username=followee,
                    follower_id=users[follower].id,
                )
        await set_staff(container.platform.db, email=STAFF_EMAIL, staff=True)
        await shop_demo.load(container.platform.db, events=events)
        return True
    finally:
        await container.close()
