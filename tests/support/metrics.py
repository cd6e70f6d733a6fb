"""Reading the Prometheus text format that ``/metrics`` answers with."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_total(text: str, *, method: str, route: str, status: str) -> float:
    labels = frozenset({"method": method, "route": route, "status": status}.items())
    return samples(text).get(("agora_http_requests_total", labels), 0.0)
