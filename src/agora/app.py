"""``create_app(settings)``: builds the container and mounts every context's routes in one place."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from agora import __version__
from agora.blog.api import api as blog_api
from agora.blog.deps import BLOG
from agora.chat.api import api as chat_api
from agora.chat.deps import CHAT
from agora.chat.gateway.deps import CHAT_GATEWAY
from agora.chat.gateway.routes import WEBSOCKET_PATH, chat_socket
from agora.chat.gateway.routes import api as chat_gateway_api
from agora.container import Container
from agora.identity.accounts_api import api as accounts_api
from agora.identity.api import api as identity_api
from agora.identity.deps import IDENTITY, required_user_id
from agora.platform.body_limit import BodyLimitMiddleware
from agora.platform.deps import PLATFORM
from agora.platform.error_boundary import ErrorBoundaryMiddleware
from agora.platform.error_formats import REALWORLD, Api, ErrorFormats
from agora.platform.forwarded import ForwardedHeaders, ForwardedHeadersMiddleware
from agora.platform.health import router as health_router
from agora.platform.heap import collect_rarely, freeze_startup_objects
from agora.platform.http_errors import install_error_handlers
from agora.platform.jobs.runtime import Jobs
from agora.platform.observability import (
    RequestObservabilityMiddleware,
    configure_logging,
    worker_ended,
)
from agora.platform.openapi import document_api
from agora.platform.ports import Platform
from agora.platform.provided import ProvidingApp
from agora.platform.route_index import RouteIndex
from agora.platform.security_headers import SecurityHeadersMiddleware
from agora.platform.trailing_slash import TrailingSlashMiddleware
from agora.platform.websocket_routes import WebSocketRoutes, WebSocketsFirstApp
from agora.settings import Environment, Settings
from agora.shop.cart.api import api as shop_cart_api
from agora.shop.catalog.api import api as shop_catalog_api
from agora.shop.catalog.staff_api import api as shop_staff_catalog_api
from agora.shop.checkout.config import SHOP_CHECKOUT
from agora.shop.deps import SHOP
from agora.shop.early_reads import EarlyReads
from agora.shop.orders.api import api as shop_orders_api
from agora.shop.orders.staff_api import api as shop_staff_orders_api
from agora.shop.search.api import api as shop_search_api

UPLOAD_PATHS = ("/api/user/image",)
# WebSocket endpoints are served ahead of the HTTP middleware (see platform/websocket_routes.py)
WEBSOCKETS = {WEBSOCKET_PATH: chat_socket}
# a product's pictures: /api/shop/products/{slug}/images
SHOP_IMAGES = re.compile(r"^/api/shop/products/[^/]+/images/?$")
MULTIPART_OVERHEAD = 64 * 1024
PONG = b'{"pong":true}'

DESCRIPTION = """
Agora's Blog API is the [RealWorld](https://realworld-docs.netlify.app/) ("Conduit") API:
any RealWorld front end works against it.

Authenticate with the header `Authorization: Token <jwt>`; the token comes from
`POST /api/users` (register) or `POST /api/users/login`. Errors have the shape
`{"errors": {"field": ["message"]}}`.
"""

# the contexts whose routes the server mounts, each with the error format its clients read
APIS = (
    identity_api,
    accounts_api,
    blog_api,
    chat_api,
    chat_gateway_api,
    shop_cart_api,
    shop_orders_api,
    shop_staff_orders_api,
    shop_catalog_api,
    shop_search_api,
    shop_staff_catalog_api,
)


def _metrics_route(platform: Platform, jobs: Jobs) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        with contextlib.suppress(Exception):  # the database away: the other figures still count
            await jobs.stats()  # the outbox's gauges: one query, at most once a second
        return Response(platform.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


def _ceiling_route() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/api/ping",
        summary="A fixed tiny answer: the benchmark's ceiling",
        response_class=Response,
        responses={200: {"content": {"application/json": {"example": {"pong": True}}}}},
    )
    async def ping() -> Response:
        # pre-encoded bytes: nothing to validate or serialize, the cheapest answer there is
        return Response(PONG, media_type="application/json")

    return router


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    apis: Sequence[Api] = APIS,
) -> ProvidingApp:
    """The application for ``settings`` (from the environment when None), on ``container`` when
    given (built from the settings otherwise); it closes the container when it stops."""
    if container is None:
        container = Container.from_settings(settings or Settings())
    settings = container.settings
    configure_logging(level=settings.log_level, json=settings.log_json)
    platform = container.platform

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.environment is not Environment.TEST:
            # full collections stay short and rare, and with them the slowest requests (p99)
            freeze_startup_objects()
            collect_rarely()
        await container.jobs.start_in_server()
        container.chat_gateway.start()
        yield
        await container.close()
        worker_ended()

    forwarded = ForwardedHeaders(trusted_hosts=settings.forwarded_allow_ips)
    app = WebSocketsFirstApp(
        websockets=WebSocketRoutes(WEBSOCKETS, forwarded=forwarded),
        title="Agora",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    # each context's routes get what they asked for (mypy checks the container has it)
    PLATFORM.provide(app, container)
    IDENTITY.provide(app, container)
    BLOG.provide(app, container)
    CHAT.provide(app, container)
    CHAT_GATEWAY.provide(app, container)
    SHOP_CHECKOUT.provide(app, container)
    SHOP.provide(app, container)

    # failures on paths no context owns (a typo, /docs) speak RealWorld, as the API always did
    formats = ErrorFormats(default=REALWORLD)
    for api in apis:
        formats.own(api.router.prefix, api.errors)
    routers = [
        *(api.router for api in apis),
        health_router,
        _metrics_route(platform, container.jobs),
        _ceiling_route(),
    ]
    for router in routers:
        app.include_router(router)
    app.mount(
        settings.media_url,
        StaticFiles(directory=settings.media_dir, check_dir=False),
        name="media",
    )
    # the app router holds the documentation's routes (/docs, /openapi.json) and the mount
    every_route = [*app.router.routes, *(route for router in routers for route in router.routes)]
    routes = RouteIndex(every_route)
    install_error_handlers(app, formats=formats, routes=routes)

    def body_limit(path: str) -> int:
        if path.startswith(UPLOAD_PATHS) or SHOP_IMAGES.match(path):
            return settings.avatar_max_bytes + MULTIPART_OVERHEAD
        return settings.max_body_bytes

    document_api(app, routes=every_route, signed_in=required_user_id, formats=formats)

    # Outermost last: request id → metrics and log → CORS → headers → error boundary → body
    # limit → one route for both spellings of a path → the shop's cached catalog reads
    # (shop/early_reads.py) → routes. The WebSockets of WEBSOCKETS are served before all of it
    # (WebSocketsFirstApp).
    if shop_catalog_api in apis and shop_search_api in apis:
        app.add_middleware(EarlyReads, reads=container.shop_reads, routes=every_route)
    app.add_middleware(TrailingSlashMiddleware, routes=routes)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit, formats=formats)
    app.add_middleware(ErrorBoundaryMiddleware, formats=formats)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=settings.environment is Environment.PRODUCTION
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            "Idempotency-Key",
            "X-Cart-Token",
        ],
        expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"],
        max_age=600,
    )
    app.add_middleware(
        RequestObservabilityMiddleware,
        metrics=platform.metrics,
        routes=routes,
        access_log=settings.access_log,
    )
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    # outermost: everything inside sees the client and the URL it used, not the proxy's
    app.add_middleware(ForwardedHeadersMiddleware, forwarded=forwarded)
    return app
