"""The jobs' Prometheus metrics: counters by topic, and the outbox's state as gauges.

The gauges come from one query (``JobStore.stats``) made when ``/metrics`` is scraped or
``/readyz`` asked, and at most once a second (``Jobs.stats``): never on an ordinary request.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from agora.platform.jobs.store import OutboxStats


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, what: str) -> Counter:
            return Counter(f"agora_jobs_{name}", what, ["topic"], registry=registry)

        def gauge(name: str, what: str) -> Gauge:
            # every process reads the same table: the freshest reading is the answer
            return Gauge(
                f"agora_jobs_{name}", what, registry=registry, multiprocess_mode="mostrecent"
            )

        self.enqueued = counter("enqueued", "Jobs written to the outbox, by topic")
        self.published = counter("published", "Jobs the broker confirmed, by topic")
        self.started = counter("started", "Job runs started, by topic")
        self.succeeded = counter("succeeded", "Job runs that succeeded, by topic")
        self.failed = counter("failed", "Job runs that failed (each is retried or dies)")
        self.dead = counter("dead", "Jobs that became dead letters, by topic")
        self.backlog = gauge("outbox_backlog", "Jobs in the outbox, not finished and not dead")
        self.oldest = gauge(
            "outbox_oldest_due_seconds", "How long the oldest due, unpublished job has waited"
        )
        self.dead_letters = gauge("dead_letters", "Dead letters in the outbox")

    def show(self, stats: OutboxStats) -> None:
        self.backlog.set(stats.backlog)
        self.oldest.set(stats.oldest_due_seconds)
        self.dead_letters.set(stats.dead)
