"""Prometheus metrics of one service instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_in = Counter("ctibridge_events_in", "Inbound events by source and type",
                                 ["source", "type"], registry=r)
        self.parse_errors = Counter("ctibridge_parse_errors", "Messages that could not be parsed",
                                    ["source"], registry=r)
        self.deltas_out = Counter("ctibridge_deltas_out", "Call deltas published", registry=r)
        self.clients = Gauge("ctibridge_widget_clients", "Connected widget WebSockets", registry=r)
        self.action_latency = Histogram(
            "ctibridge_action_latency_seconds", "Agent action: request to confirmation", ["action"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0), registry=r)
        self.action_outcomes = Counter("ctibridge_action_outcomes", "Agent actions by outcome",
                                       ["action", "outcome"], registry=r)
        self.repairs = Counter("ctibridge_repairs", "Automatic repairs by kind and outcome",
                               ["kind", "outcome"], registry=r)
        self.reconnects = Counter("ctibridge_reconnects", "Links connected again after a loss",
                                  ["link"], registry=r)
        self.refusals = Counter("ctibridge_refused", "Input refused or not understood, by where and why",
                                ["where", "reason"], registry=r)

    def count_clients_with(self, count: Callable[[], int]) -> None:
        self.clients.set_function(lambda: float(count()))

    def count_divergences_with(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Divergences by rule, as the (current) correlator counts them."""
        self.registry.register(_ByLabel(
            "ctibridge_divergences", "Calls that became diverged, by rule", "rule", counts))

    def count_stats_with(self, name: str, doc: str, stats: Callable[[], object]) -> None:
        """The integer counters of a component's stats object (``HubStats``, ``StoreStats``), read at
        scrape time, as one counter family labelled by ``event``."""
        self.registry.register(_ByLabel(name, doc, "event", lambda: _counters(stats())))

    def count_refusals_with(self, where: str, counts: Callable[[], Mapping[str, int]]) -> None:
        """Refusals another object counts (the hub, the connection guard, the AMI client), read at
        scrape time into ``ctibridge_refused_from_<where>_total{reason}``."""
        self.registry.register(_ByLabel(
            f"ctibridge_refused_from_{where}", f"Refused or dropped by the {where}, by reason", "reason",
            counts))

    def gauge_with(self, name: str, doc: str, label: str, values: Callable[[], Mapping[str, float]]) -> None:
        """A gauge family read at scrape time (link states, registrations)."""
        self.registry.register(_ByLabel(name, doc, label, values, GaugeMetricFamily))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _counters(stats: object) -> dict[str, int]:
    """The int fields of a stats dataclass (slotted or not); flags and per-reason maps are left out."""
    values = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}  # type: ignore[arg-type]
    return {name: value for name, value in values.items() if type(value) is int}


class _ByLabel(Collector):
    """A counter (or gauge) family read at scrape time from values another object keeps."""

    def __init__(self, name: str, doc: str, label: str, values: Callable[[], Mapping[str, float]],
                 family: type[CounterMetricFamily | GaugeMetricFamily] = CounterMetricFamily) -> None:
        self.name, self.doc, self.label, self.values, self.family = name, doc, label, values, family

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        family = self.family(self.name, self.doc, labels=[self.label])
        for value, number in sorted(self.values().items()):
            family.add_metric([value], number)
        yield family
