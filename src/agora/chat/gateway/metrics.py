"""The gateway's Prometheus metrics, per node (the fan-out's own are in ``platform/fanout.py``:
publications, losses and the pub/sub lag)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "agora_chat_connections",
            "Open WebSocket connections",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.calls = Counter(
            "agora_chat_calls",
            "JSON-RPC calls received (messages in), by method and outcome",
            ["method", "outcome"],
            registry=registry,
        )
        self.frames_out = Counter(
            "agora_chat_frames_sent",
            "Frames written to clients (messages out): answers and notifications",
            registry=registry,
        )
        self.fanout_latency = Histogram(
            "agora_chat_fanout_seconds",
            "From an event's publication to its frame queued for every subscriber on this node",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.closes = Counter(
            "agora_chat_closes",
            "Connections closed by the server, by close code",
            ["code"],
            registry=registry,
        )
        self.slow_consumers = Counter(
            "agora_chat_slow_consumer_disconnects",
            "Connections closed because their client did not read fast enough (4008)",
            registry=registry,
        )
        self.recoveries = Counter(
            "agora_chat_recoveries",
            "Subscriptions that replayed missed events from the log (since, or a gap)",
            registry=registry,
        )
        self.replayed = Counter(
            "agora_chat_replayed_events",
            "Events replayed from the room's log to clients",
            registry=registry,
        )
