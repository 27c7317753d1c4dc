"""The engine's Prometheus metrics, in a registry of its own.

Each engine owns one ``Metrics`` (``engine.metrics``) with its own ``CollectorRegistry``, never the
process-wide default: tests build many engines in one process, and two bots in one process must not
add up each other's counters. Labels stay bounded: command names, outcomes, ledger kinds, monitored
hosts (an operator adds a handful), never member ids or message keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from core.delivery.worker import WorkerStats

#: ``WorkerStats`` fields exported as ``snpd_deliveries_total{outcome=...}``
_DELIVERY_OUTCOMES = {
    "sent": "sent",
    "retried": "retried",
    "dead_lettered": "dead",
    "in_doubt": "in_doubt",
    "refused": "refused",
    "expired": "expired",
}


class _DeliveryCollector(Collector):
    """Reads the delivery worker's own tallies when scraped, so sending pays nothing for metrics."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], WorkerStats]] = []

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "snpd_deliveries",
            "Outbox notifications by outcome: sent, retried, dead_lettered, in_doubt, refused, expired",
            labels=["outcome"],
        )
        stats = [source() for source in self.sources]
        for outcome, attribute in _DELIVERY_OUTCOMES.items():
            family.add_metric([outcome], float(sum(getattr(item, attribute) for item in stats)))
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "snpd_commands",
            "Commands run, by command and outcome: ok, refused (the handler said no), failed (our error)",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.monitor_polls = Counter(
            "snpd_monitor_polls", "Monitor polls that reached their store, by host", ["host"], registry=self.registry
        )
        self.monitor_errors = Counter(
            "snpd_monitor_poll_errors",
            "Monitor polls that failed (blocked, rate-limited, bad body, database), by host",
            ["host"],
            registry=self.registry,
        )
        self.ledger_transfers = Counter(
            "snpd_ledger_transfers",
            "Ledger transfers committed, by kind and status (posted or rejected); replays are not counted",
            ["kind", "status"],
            registry=self.registry,
        )
        self._delivery = _DeliveryCollector()
        self.registry.register(self._delivery)

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(name, outcome).inc()

    def monitor_poll(self, host: str, *, ok: bool) -> None:
        self.monitor_polls.labels(host).inc()
        if not ok:
            self.monitor_errors.labels(host).inc()

    def ledger_committed(self, transfers: Iterable[tuple[str, str]]) -> None:
        """Count ``(kind, status)`` pairs once their transaction has committed."""
        for kind, status in transfers:
            self.ledger_transfers.labels(kind, status).inc()

    def watch_delivery(self, stats: Callable[[], WorkerStats]) -> None:
        """Export a delivery worker's tallies; ``stats`` is called on every scrape, so it follows a
        worker that is replaced."""
        self._delivery.sources.append(stats)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric and its content type, in the format the scraper's ``Accept`` header asks for
        (Prometheus text 0.0.4 by default, OpenMetrics when asked)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
