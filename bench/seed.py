"""A fresh benchmark database: created, migrated with ``agora migrate``, bulk-loaded with COPY."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import asyncpg
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url
from tests.support.servers import agora_command

from agora.container import Container
from agora.settings import Settings
from bench.dataset import BENCH_PASSWORD, COLUMNS, Dataset, Scale, generate

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/agora_bench"
# the benchmark drops and recreates its database, so it only ever touches ones named like this
DATABASE_PREFIX = "agora_bench"


def database_url() -> str:
    url = os.environ.get("AGORA_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit(f"bench: AGORA_BENCH_DATABASE_URL must be PostgreSQL, not {url!r}")
    if not (parsed.database or "").startswith(DATABASE_PREFIX):
        raise SystemExit(
            f"bench: refusing to drop database {parsed.database!r}: "
            f"its name must start with {DATABASE_PREFIX!r}"
        )
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def container_for(url: str, *, jwt_secret: str | None = None) -> Container:
    """What a server on the benchmark's database is built of (its hasher, its token codec), from
    the same composition root; ``jwt_secret``: the server's, for tokens it accepts."""
    settings = Settings(database_url=url)
    if jwt_secret is not None:
        settings = settings.model_copy(update={"jwt_secret": SecretStr(jwt_secret)})
    return Container.from_settings(settings)


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Fixture:
    """What the load scenarios need to know about the seeded database."""

    user_ids: list[int]
    slugs: list[str]
    counts: dict[str, int]
    # (user id, slug) of every favorite in the database, for requests that take one back
    favorites: list[tuple[int, str]]
    # how long creating, migrating, generating and loading took; None when reused
    seed_seconds: float | None = None


async def recreate_database(url: str, *, prefix: str = DATABASE_PREFIX) -> None:
    """Drops and creates the database ``url`` names, which must start with ``prefix``."""
    parsed = make_url(url)
    admin = await asyncpg.connect(_libpq(parsed.set(database="postgres")))
    try:
        name = parsed.database
        if name is None or not name.startswith(prefix):  # database_url() checked it
            raise SystemExit(f"bench: refusing to drop database {name!r}")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def migrate(url: str) -> None:
    env = {**os.environ, "AGORA_DATABASE_URL": url}
    subprocess.run(agora_command("migrate"), env=env, check=True, stdout=subprocess.DEVNULL)


async def load(url: str, data: Dataset) -> None:
    connection = await asyncpg.connect(_libpq(make_url(url)))
    try:
        async with connection.transaction():
            # the data set carries each article's favorites_count already: the trigger that keeps
            # it in step with the favorites would count them a second time
            await connection.execute("ALTER TABLE favorites DISABLE TRIGGER USER")
            for table, columns in COLUMNS.items():
                await connection.copy_records_to_table(
                    table, records=data.rows[table], columns=list(columns)
                )
            for table in ("users", "tags", "articles", "comments"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 — our table names
                    f"(SELECT max(id) FROM {table}))"
                )
            await connection.execute("ALTER TABLE favorites ENABLE TRIGGER USER")
        # fresh statistics and visibility map, as autovacuum would leave a live database
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def seed(url: str, scale: Scale) -> Fixture:
    started = time.perf_counter()
    await recreate_database(url)
    migrate(url)
    # one real Argon2 hash with the server's cost, shared by every user: hashing thousands would
    # take minutes
    container = container_for(url)
    try:
        password_hash = await container.passwords.hash(BENCH_PASSWORD)
    finally:
        await container.close()
    data = generate(scale, password_hash=password_hash)
    await load(url, data)
    return Fixture(
        user_ids=data.user_ids,
        slugs=data.slugs,
        counts=data.counts(),
        favorites=[(user_id, data.slugs[article_id - 1]) for user_id, article_id in data.favorites],
        seed_seconds=time.perf_counter() - started,
    )


async def existing(url: str) -> Fixture:
    """The users and slugs of a database seeded by an earlier run (``--reuse``)."""
    connection = await asyncpg.connect(_libpq(make_url(url)))
    try:
        counts = {}
        for table in COLUMNS:
            counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
        return Fixture(
            user_ids=[row[0] for row in await connection.fetch("SELECT id FROM users ORDER BY id")],
            slugs=[
                row[0] for row in await connection.fetch("SELECT slug FROM articles ORDER BY id")
            ],
            counts=counts,
            favorites=[
                (row[0], row[1])
                for row in await connection.fetch(
                    "SELECT user_id, slug FROM favorites JOIN articles ON articles.id = article_id"
                )
            ],
        )
    finally:
        await connection.close()
