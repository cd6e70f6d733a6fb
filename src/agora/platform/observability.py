"""Structured logs (one JSON line per request) and Prometheus metrics, as one ASGI middleware."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator

import structlog
from asgi_correlation_id.context import correlation_id
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora.platform.route_index import RouteIndex

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


# Set by the operator, or by `agora serve --workers N` (N > 1) to a temporary directory: each
# worker process writes its metrics into files there, and whichever worker answers a scrape
# reports the sum over all of them.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

_POOL_FIGURES = (
    ("size", "size"),
    ("checked_out", "checkedout"),
    ("overflow", "overflow"),
    ("checked_in", "checkedin"),
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def _pool_figures(engine: AsyncEngine) -> Iterator[tuple[str, int]]:
    pool = engine.pool
    for name, reader in _POOL_FIGURES:
        method = getattr(pool, reader, None)
        if method is not None:
            yield name, method()


def _pool_help(name: str) -> str:
    return f"Database connection pool: {name}"


class PoolCollector(Collector):
    """Reads the connection pool at scrape time instead of tracking it on every checkout."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, value in _pool_figures(self._engine):
            yield GaugeMetricFamily(f"agora_db_pool_{name}", _pool_help(name), value=value)


class Metrics:
    def __init__(self, registry: CollectorRegistry, engine: AsyncEngine) -> None:
        self.registry = registry
        self._engine = engine
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
        # several workers: the sum of the live processes' values
        self.in_flight = Gauge(
            "agora_http_requests_in_flight",
            "Requests being served now",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._pool_gauges: dict[str, Gauge] = {}
        if multiprocess_dir() is None:
            registry.register(PoolCollector(engine))
        else:
            # a collector would only see the pool of the worker answering the scrape
            self._pool_gauges = {
                name: Gauge(
                    f"agora_db_pool_{name}",
                    _pool_help(name),
                    registry=registry,
                    multiprocess_mode="livesum",
                )
                for name, _ in _pool_figures(engine)
            }
            self.record_pool()

    def record_pool(self) -> None:
        """With several workers, each writes down its pool after every request it serves."""
        if not self._pool_gauges:
            return
        for name, value in _pool_figures(self._engine):
            self._pool_gauges[name].set(value)

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's metrics, or every worker's, summed."""
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # untyped in the library
        return generate_latest(merged)


def worker_ended() -> None:
    """At a worker's shutdown: its live gauges (requests in flight, its pool) stop counting."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped in the library


class RequestObservabilityMiddleware:
    """Times every HTTP request, counts it by route template and logs it once, after it ends."""

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, routes: RouteIndex, access_log: bool = True
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
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
            template = self.routes.template(scope) or "<unmatched>"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(duration)
            self.metrics.record_pool()
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
