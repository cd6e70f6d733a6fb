"""Structured logs (one JSON line per request) and Prometheus metrics, as one ASGI middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import structlog
from asgi_correlation_id.context import correlation_id
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

USER_ID_SCOPE_KEY = "agora.user_id"


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        # no file given: each line goes to sys.stdout as it is *then*, not as it was when the
        # first message cached its logger (a replaced stdout, e.g. a test's capture, may be closed)
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    # uvicorn's own access log would duplicate ours, without the user or the route
    logging.getLogger("uvicorn.access").disabled = True


class PoolCollector(Collector):
    """Reads the connection pool at scrape time instead of tracking it on every checkout."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pool = self._engine.pool
        for name, reader in (
            ("size", "size"),
            ("checked_out", "checkedout"),
            ("overflow", "overflow"),
            ("checked_in", "checkedin"),
        ):
            method = getattr(pool, reader, None)
            if method is None:
                continue
            yield GaugeMetricFamily(
                f"agora_db_pool_{name}", f"Database connection pool: {name}", value=method()
            )


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "agora_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "agora_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.in_flight = Gauge(
            "agora_http_requests_in_flight", "Requests being served now", registry=registry
        )


class RequestObservabilityMiddleware:
    """Times every HTTP request, counts it by route template and logs it once, after it ends."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.log = structlog.get_logger("agora.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.in_flight.dec()
            duration = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(duration)
            if self.access_log:
                self.log.info(
                    "request",
                    request_id=correlation_id.get(),
                    user_id=scope.get(USER_ID_SCOPE_KEY),
                    method=method,
                    route=template,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(duration * 1000, 2),
                )
