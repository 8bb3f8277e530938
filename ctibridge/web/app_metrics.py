"""What ``/metrics`` reads at scrape time besides the counters the service increments itself:
widget clients, divergences, every refusal the hub and the AMI client count, and the state of
each link and of each DN's registration toward Genesys (for the alert rules in deploy/)."""

from __future__ import annotations

from ctibridge.hub.server import HubStats
from ctibridge.service.assemble import Components


def hub_refusals(stats: HubStats) -> dict[str, int]:
    """Sign-in refusals by their reason (expired, origin_not_allowed, dn_not_allowed, ...), and the
    hub's own refusals of connected sockets."""
    return {**stats.refusals, "bad_hello": stats.bad_hellos, "bad_message": stats.bad_messages,
            "rate_limited": stats.rate_limited, "slow_consumer": stats.slow_consumers,
            "action_rate_limited": stats.actions_refused}


def wire_metrics(components: Components) -> None:
    metrics = components.metrics

    def registrations() -> dict[str, float]:
        ami = components.role.sources.ami
        states = ami.registrations() if ami is not None else {}
        return {dn: float(state == "Registered") for dn, state in states.items()}

    def oversized() -> dict[str, int]:
        ami = components.role.sources.ami
        return {"oversized_frame": ami.oversized_frames if ami is not None else 0}

    metrics.count_clients_with(components.hub.clients_count)
    metrics.count_stats_with("ctibridge_hub_events", "Widget socket events by kind",
                             lambda: components.hub.stats)
    metrics.count_stats_with("ctibridge_store_events", "State store events by kind",
                             lambda: components.store.stats)
    metrics.count_divergences_with(lambda: components.pipeline.correlator.stats.divergences)
    metrics.count_refusals_with("widget_hub", lambda: hub_refusals(components.hub.stats))
    metrics.count_refusals_with("ami", oversized)
    metrics.gauge_with("ctibridge_link_up", "1 when the link (ami, gws:<dn>) is connected", "link",
                       lambda: {link: float(status == "connected")
                                for link, status in components.pipeline.links.items()})
    metrics.gauge_with("ctibridge_registration_up",
                       "1 when Asterisk's registration of the DN toward Genesys is Registered", "dn",
                       registrations)
