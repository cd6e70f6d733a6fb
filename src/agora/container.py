"""The composition root: everything the application is made of, built once from settings.

``Container.from_settings(settings)`` is the one place that decides which implementation of each
port runs (SQLite or PostgreSQL, in-process or Redis, ...) and how the parts are tied together.
``create_app`` (the HTTP server), ``agora seed`` and the benchmark build it and nothing else.

Contexts never import this module (``make lint`` checks it): each declares what it needs as a
Protocol (``identity.deps.IdentityServices``, ``blog.deps.BlogServices``, ...), and the container
satisfies them all; mypy checks that where ``create_app`` hands it over.
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.blog import read_cache as blog_read_cache
from agora.blog.reads import BlogReads
from agora.chat.driver_sends import DriverSends
from agora.chat.gateway import domain as chat_gateway_domain
from agora.chat.gateway.node import GatewayNode, build_gateway
from agora.chat.messages import SendLimits
from agora.chat.reads import ChatReads
from agora.chat.send_queue import SendQueue
from agora.chat.sends import SessionSends
from agora.identity import jobs as identity_jobs
from agora.identity import read_cache as identity_read_cache
from agora.identity.passwords import Passwords
from agora.identity.reads import IdentityReads
from agora.identity.token_validity import TokenValidity
from agora.identity.tokens import TokenCodec
from agora.platform.driver_reads import DriverReads
from agora.platform.driver_writes import DriverTransactions
from agora.platform.jobs import housekeeping
from agora.platform.jobs.runtime import Jobs
from agora.platform.mail import Mail, mail_from_settings
from agora.platform.ports import Platform
from agora.platform.uow import UnitOfWork, UnitsOfWork
from agora.settings import Settings
from agora.shop import housekeeping as shop_housekeeping
from agora.shop import read_cache as shop_read_cache
from agora.shop.checkout.config import CheckoutConfig
from agora.shop.orders import topics as shop_order_topics
from agora.shop.reads import ShopReads


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    # the outside resources: database, cache, rate limits, file storage, metrics
    platform: Platform
    # identity
    tokens: TokenCodec
    passwords: Passwords
    # identity's read side: the profiles routes show, cached
    identity_reads: IdentityReads
    # the blog's read side: cached pages, articles, tags and feeds
    blog_reads: BlogReads
    # the chat: the limits on sending, and what the gateway reads (rooms, missed events)
    chat_limits: SendLimits
    chat_sends: SendQueue
    chat_reads: ChatReads
    # the shop's read side: cached category tree, listings, searches and product pages
    shop_reads: ShopReads
    # one per request, RPC call or job: the transaction, its outbox and its after-commit hooks;
    # with the handlers of every context's events, registered here once
    units_of_work: UnitsOfWork
    # background jobs: the outbox's runners and every context's handlers, registered below
    jobs: Jobs
    # the mail port: SMTP, or .eml files on the embedded default
    mail: Mail
    # the chat's WebSocket gateway on this node: connections, fan-out, presence
    chat_gateway: GatewayNode
    # the shop's checkout: shipping zones and rates, the tax rate
    checkout_config: CheckoutConfig

    @classmethod
    def from_settings(cls, settings: Settings, *, passwords: Passwords | None = None) -> Container:
        """``passwords``: a hasher of the caller's (tests that stand in for Argon2's cost)."""
        platform = Platform.from_settings(settings)
        units_of_work = UnitsOfWork(
            platform.db.sessions, autocommit=platform.db.autocommit_connection
        )
        # after a commit: the read caches forget what the blog's and identity's writes changed
        blog_read_cache.register_event_handlers(units_of_work.events, platform.cache)
        identity_read_cache.register_event_handlers(units_of_work.events, platform.cache)
        shop_read_cache.register_event_handlers(units_of_work.events, platform.cache)
        jobs = Jobs(
            settings,
            db=platform.db,
            units_of_work=units_of_work,
            registry=platform.metrics.registry,
        )
        mail = mail_from_settings(settings)
        # every context's job handlers, in one place
        housekeeping.register(
            jobs.handlers,
            retention_seconds=settings.jobs.processed_retention_seconds,
            schedule=settings.jobs.housekeeping,
        )
        identity_jobs.register(jobs.handlers, mail=mail, settings=settings)
        shop_order_topics.register(jobs.handlers)
        shop_housekeeping.register(jobs.handlers, schedule=settings.jobs.housekeeping)
        tokens = TokenCodec.from_settings(settings)
        identity_reads = IdentityReads(
            sessions=platform.db.autocommit_sessions,
            cache=platform.cache,
            ttl_seconds=settings.read_cache_seconds,
            token_validity=TokenValidity(
                sessions=platform.db.autocommit_sessions,
                cache=platform.cache,
                ttl_seconds=settings.token_check_cache_seconds,
            ),
        )
        chat_limits = SendLimits.of(platform.rate_limiter, settings.chat)
        driver_reads = DriverReads(platform.db.engine)
        chat_reads = ChatReads(platform.db.autocommit_sessions, driver_reads)
        chat_sends = SendQueue(
            DriverSends(
                DriverTransactions(platform.db.engine),
                sessions=platform.db.autocommit_sessions,
                events=units_of_work.events,
            )
            if driver_reads.on_postgresql
            else SessionSends(units_of_work),
            chat_limits,
        )
        chat_gateway = build_gateway(
            platform=platform,
            tokens=tokens,
            identity_reads=identity_reads,
            logs=chat_gateway_domain.ChatRoomLogs(
                sessions=platform.db.autocommit_sessions, reads=chat_reads
            ),
            calls=chat_gateway_domain.ChatCalls(
                units_of_work=units_of_work,
                sessions=platform.db.autocommit_sessions,
                limits=chat_limits,
                sends=chat_sends,
            ),
        )
        # after a commit: the chat's events to every node's subscribers
        chat_gateway_domain.register_event_handlers(units_of_work.events, chat_gateway.hub)
        return cls(
            settings=settings,
            platform=platform,
            tokens=tokens,
            passwords=passwords or Passwords.from_settings(settings),
            identity_reads=identity_reads,
            blog_reads=BlogReads(
                sessions=platform.db.autocommit_sessions,
                cache=platform.cache,
                ttl_seconds=settings.read_cache_seconds,
                site_title=settings.site_title,
            ),
            chat_limits=chat_limits,
            chat_reads=chat_reads,
            chat_sends=chat_sends,
            shop_reads=ShopReads(
                sessions=platform.db.autocommit_sessions,
                cache=platform.cache,
                ttl_seconds=settings.read_cache_seconds,
            ),
            units_of_work=units_of_work,
            jobs=jobs,
            mail=mail,
            chat_gateway=chat_gateway,
            checkout_config=CheckoutConfig.from_settings(settings.shop_checkout),
        )

    def unit_of_work(self) -> UnitOfWork:
        return self.units_of_work()

    async def close(self) -> None:
        await self.chat_gateway.stop()
        await self.jobs.close()
        self.passwords.close()
        await self.platform.close()
