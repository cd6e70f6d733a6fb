"""The jobs' Prometheus metrics, by topic."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, what: str) -> Counter:
            return Counter(f"agora_jobs_{name}", what, ["topic"], registry=registry)

        self.enqueued = counter("enqueued", "Jobs written to the outbox, by topic")
        self.published = counter("published", "Jobs the broker confirmed, by topic")
        self.started = counter("started", "Job runs started, by topic")
        self.succeeded = counter("succeeded", "Job runs that succeeded, by topic")
        self.failed = counter("failed", "Job runs that failed (each is retried or dies)")
        self.dead = counter("dead", "Jobs that became dead letters, by topic")
