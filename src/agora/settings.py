"""All configuration, read once from ``AGORA_*`` environment variables.

Settings of the platform and the blog are fields of ``Settings`` itself (``AGORA_DATABASE_URL``).
A context that arrives with settings of its own groups them in a ``SettingsGroup`` with a prefix
of its own, and ``Settings`` holds the group as one field::

    class JobsSettings(SettingsGroup):
        model_config = SettingsConfigDict(env_prefix="AGORA_JOBS_")

        max_attempts: int = Field(default=10, ge=1)        # AGORA_JOBS_MAX_ATTEMPTS

    class Settings(BaseSettings):
        ...
        jobs: JobsSettings = Field(default_factory=JobsSettings)   # settings.jobs.max_attempts

The group reads its own variables when ``Settings`` is built (a test passes
``jobs=JobsSettings(max_attempts=1)``), and refuses bad values as ``Settings`` does.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The development secret is public on purpose: it is fine for `make run` and refused in production.
DEVELOPMENT_JWT_SECRET = "agora-development-secret-not-for-production"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class RateLimitFallback(StrEnum):
    MEMORY = "memory"
    OPEN = "open"
    CLOSED = "closed"


# OWASP's Argon2id configurations trade memory for iterations (47104 KiB × 1 ... 7168 KiB × 5);
# the cheapest of them, as memory × iterations
MIN_PRODUCTION_PASSWORD_COST = 7168 * 5

# the longest chat message the API documents; AGORA_CHAT_MAX_MESSAGE_CHARS may only lower it
MESSAGE_CHARS_CEILING = 4000


def _usable_cpus() -> int:
    # the CPUs this process may run on, which a container or taskset may make fewer than the host's
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class SettingsGroup(BaseSettings):
    """The settings of one context, from variables of its own prefix (see the module docstring)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)


class JobsSettings(SettingsGroup):
    """Background jobs (``agora.platform.jobs``): ``AGORA_JOBS_*``."""

    model_config = SettingsConfigDict(env_prefix="AGORA_JOBS_")

    # runs of a job before it becomes a dead letter
    max_attempts: int = Field(default=8, ge=1, le=100)
    # the first retry waits about this long, each next one twice as long, up to the maximum
    backoff_seconds: float = Field(default=2.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=600.0, gt=0, le=7 * 24 * 3600)
    # a claimed job whose runner went silent this long is taken for lost and runs again
    lease_seconds: float = Field(default=300.0, gt=0, le=24 * 3600)
    # how often runners look for due jobs besides being woken by a commit (delayed jobs, retries)
    poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    # jobs one process runs at once (a worker: RabbitMQ's prefetch count; `agora worker
    # --concurrency` overrides it)
    concurrency: int = Field(default=16, ge=1, le=1000)
    # the most jobs whose transactions end in one COMMIT (group commit: jobs running at the same
    # moment write in one transaction, `platform/jobs/group_commit.py`); 1 turns it off
    group_max: int = Field(default=32, ge=1, le=1000)
    # the server moves its jobs on: runs them (embedded default) or relays them to the broker
    # (AGORA_BROKER_URL); false leaves both to `agora worker` processes
    run_in_server: bool = True
    # the RabbitMQ queue of the jobs; deployments (or test runs) sharing a broker need their own
    queue: str = Field(default="agora.jobs", pattern=r"^[A-Za-z0-9_.:-]{1,200}$")
    # connecting to the broker, and each publish's confirm, give up after this long
    broker_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    # on SIGTERM a worker stops taking jobs and gives those running this long to finish
    graceful_seconds: float = Field(default=20.0, ge=0, le=3600)
    # hourly purges of what jobs leave behind (finished jobs' records, spent account tokens)
    housekeeping: bool = True
    # a finished job's record (its idempotency key) is kept this long
    processed_retention_seconds: int = Field(default=7 * 24 * 3600, ge=3600)


class ChatSettings(SettingsGroup):
    """The chat's rules (``agora.chat``): ``AGORA_CHAT_*``, a prefix the gateway's group shares."""

    model_config = SettingsConfigDict(env_prefix="AGORA_CHAT_")

    # the longest message, in characters (an edit too); at most the documented 4000
    max_message_chars: int = Field(default=MESSAGE_CHARS_CEILING, ge=1, le=MESSAGE_CHARS_CEILING)
    # messages one user may send, in the `limits` notation ("20/5seconds"), over every room
    send_rate: str = "20/5seconds"


class ChatGatewaySettings(SettingsGroup):
    """The chat's real-time gateway (``agora.chat.gateway``): ``AGORA_CHAT_*``."""

    model_config = SettingsConfigDict(env_prefix="AGORA_CHAT_")

    # frames waiting to be written to one WebSocket; a client that lets more pile up is closed
    # with 4008 ("slow consumer") and recovers on reconnect, instead of the node's memory growing
    send_queue_frames: int = Field(default=1000, ge=8, le=1_000_000)
    # the largest frame a client may send; a larger one closes the connection with 1009
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # how long a ticket from POST /api/chat/tickets may wait to be used (it works once)
    ticket_seconds: int = Field(default=30, ge=1, le=3600)
    # a connection that has not authenticated after this long is closed with 4001
    auth_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # a node refreshes its users' presence this often; a dead node's users go offline within
    # about twice this (presence_seconds is the entries' lifetime)
    presence_seconds: float = Field(default=15.0, ge=1, le=3600)
    # events one recovery page reads from the room's log (subscribe with `since`)
    replay_page: int = Field(default=500, ge=1, le=10_000)
    # a live event that arrives before one it follows waits this long for it before the missing
    # ones are read from the database (pub/sub does not keep two publishers' order)
    reorder_seconds: float = Field(default=0.1, ge=0, le=10)


class ShopCheckoutSettings(SettingsGroup):
    """The shop's checkout (``agora.shop.checkout``): ``AGORA_SHOP_*``."""

    model_config = SettingsConfigDict(env_prefix="AGORA_SHOP_")

    # the tax added to every order, in basis points of its discounted subtotal plus shipping
    # (2000 = 20 %); one rate for the whole shop
    tax_rate_basis_points: int = Field(default=2000, ge=0, le=10_000)
    # shipping zones, methods and rates as JSON (see shop/checkout/shipping.py), validated at
    # start-up; unset: the built-in three zones and two methods
    shipping: dict[str, Any] | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGORA_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///var/agora.db"
    database_echo: bool = False
    database_pool_size: int = Field(default=20, ge=1)
    # how long a request waits for a database connection (a free one in the pool, or a new one)
    # before it is answered 503
    database_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # SQLite: how long a write waits for another process's write before it gets 503
    database_busy_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    redis_url: str | None = None
    # prefix of every Redis key (cache, rate limits): deployments sharing one Redis need their own
    redis_namespace: str = Field(default="agora", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # a Redis that does not answer within this is taken for down (connecting, and each command)
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    # connections to Redis per worker, opened as needed and kept; a burst waits for a free one
    redis_pool_size: int = Field(default=32, ge=1, le=1024)
    # after a Redis failure, how long this process leaves Redis alone (the cache is bypassed, rate
    # limits use their fallback) before trying it again
    redis_breaker_seconds: float = Field(default=2.0, gt=0, le=3600)
    # how long cached pages, articles and per-viewer sets may live; writes invalidate them at once
    # (see agora.blog.read_cache); 0 turns the read cache off
    read_cache_seconds: int = Field(default=60, ge=0)

    # Argon2id cost (pwdlib's recommendation by default); production refuses less than OWASP's
    # minimum. Hashes made with other parameters still verify and are redone at the next login.
    password_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_time_cost: int = Field(default=3, ge=1, le=100)
    password_parallelism: int = Field(default=4, ge=1, le=64)
    # hashes that run at once (per worker process), and how many more may wait for a thread
    # before a request is refused with 503 (see agora.identity.passwords)
    password_hashing_threads: int = Field(default_factory=_usable_cpus, ge=1, le=256)
    password_hashing_queue: int = Field(default=64, ge=0, le=100_000)

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    media_dir: Path = Path("var/media")
    media_url: str = "/media"
    avatar_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)

    # "N/period" in the `limits` notation: "10/minute", "100/hour".
    login_rate_limit: str = "10/minute"
    register_rate_limit: str = "10/minute"
    rate_limits_enabled: bool = True
    # while the rate-limit storage (Redis) is unreachable: "memory" counts in each process,
    # "open" lets every attempt through, "closed" refuses them with 503
    rate_limits_fallback: RateLimitFallback = RateLimitFallback.MEMORY

    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True

    # background jobs: RabbitMQ ("amqp://guest:guest@127.0.0.1:5672/") for a relay and
    # `agora worker` processes; unset, the server runs the jobs itself (the embedded default)
    broker_url: str | None = None
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    # the chat's rules: message length, send rate
    chat: ChatSettings = Field(default_factory=ChatSettings)
    # the chat's WebSocket gateway: queues, frame sizes, tickets, presence
    chat_gateway: ChatGatewaySettings = Field(default_factory=ChatGatewaySettings)
    # the shop's checkout: tax rate, shipping zones and rates
    shop_checkout: ShopCheckoutSettings = Field(default_factory=ShopCheckoutSettings)

    # account emails (agora.identity.emails): SMTP when a URL is set —
    # "smtp://user:password@host:587?starttls=true", "smtps://user:password@host:465" (implicit
    # TLS); unset, each message is written as an .eml file under ``mail_dir`` (the embedded default)
    smtp_url: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    mail_dir: Path = Path("var/mail")
    mail_from: str = Field(default="Agora <no-reply@localhost>", min_length=3, max_length=320)
    # where the links in account emails point: "<base>/verify-email?token=..." and
    # "<base>/reset-password?token=...", pages of the front end that POST the token to the API.
    # Unset, the base is ``public_url``, else the address the request that caused the mail came to
    frontend_url: str | None = None
    # how long a link works; each works once
    verification_token_seconds: int = Field(default=3 * 24 * 3600, ge=60, le=30 * 24 * 3600)
    password_reset_token_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # requests that send an account email: per client address (a reset) or per user (a new
    # verification link); resets besides per email address, whether it has an account or not
    account_email_rate_limit: str = "5/minute"
    reset_address_rate_limit: str = "3/hour"
    # attempts with a mailed token ("verify", "confirm"), per client address
    mailed_link_rate_limit: str = "30/minute"

    # how long the answer to "were this user's tokens revoked, and when" is cached (a password
    # reset revokes them, and deletes the entry at once; with the in-process cache and several
    # processes, the others may go on accepting old tokens up to this long). Never 0: the check
    # runs on every signed-in request, and must not cost a database read each time
    token_check_cache_seconds: int = Field(default=60, ge=1, le=3600)

    site_title: str = "Agora"
    # the absolute base of links the server hands out (avatars, feeds), such as
    # "https://blog.example"; unset, each link is built from the request that asks for it
    public_url: str | None = None
    # peers whose X-Forwarded-For/-Proto/-Host are believed: comma-separated addresses or
    # networks, "*" for any (`agora serve --forwarded-allow-ips` sets it)
    forwarded_allow_ips: str = "127.0.0.1"

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        origins = data.get("cors_origins")
        if isinstance(origins, str):
            data["cors_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            secret = self.jwt_secret.get_secret_value()
            if secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "AGORA_JWT_SECRET must be set to a random value of at least 32 characters "
                    "in production"
                )
        return self

    @model_validator(mode="after")
    def _check_password_cost(self) -> Self:
        if self.password_memory_kib < 8 * self.password_parallelism:
            raise ValueError(
                "AGORA_PASSWORD_MEMORY_KIB must be at least 8 × AGORA_PASSWORD_PARALLELISM "
                "(Argon2's own minimum)"
            )
        cost = self.password_memory_kib * self.password_time_cost
        if self.environment is Environment.PRODUCTION and cost < MIN_PRODUCTION_PASSWORD_COST:
            raise ValueError(
                "AGORA_PASSWORD_MEMORY_KIB × AGORA_PASSWORD_TIME_COST must be at least "
                f"{MIN_PRODUCTION_PASSWORD_COST} in production (OWASP's least Argon2id cost; "
                "19456 × 2, for instance)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
