"""One service instance assembled from the settings: store, hub, pipeline, owner/follower role,
action executor, relay and metrics (``build``). ``ctibridge.web.serve`` serves it over HTTP."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.ami.operations import ChannelOperations
from ctibridge.config import Settings
from ctibridge.core.ami_parse import RawMessage
from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.gws.agents import GwsAgents
from ctibridge.gws.settings import GwsAgent, GwsSettings
from ctibridge.hub.protocol import ActionMessage, ActionResult
from ctibridge.hub.server import Hub, Principal
from ctibridge.identity.verifiers import Verifiers
from ctibridge.logs.eventlog import EventLogWriter, Rotation
from ctibridge.logs.timeline_index import TimelineIndex
from ctibridge.service.actions import ActionExecutor, SourceOperations
from ctibridge.service.following import SessionFollowing
from ctibridge.service.identity import hello_checker, phone_logins, verifiers
from ctibridge.service.metrics import Metrics
from ctibridge.service.pipeline import Pipeline
from ctibridge.service.ratelimit import RateLimiter
from ctibridge.service.relay import ActionRelay
from ctibridge.service.role import InstanceRole, Sources
from ctibridge.store import MemoryStore, RedisStore, StateStore

log = logging.getLogger("ctibridge.service")


@dataclass
class Components:
    """Built by ``ctibridge.service.assemble.build`` (tests build them around their own peers)."""

    store: StateStore
    hub: Hub
    pipeline: Pipeline
    role: InstanceRole
    executor: ActionExecutor
    verifier: Verifiers
    metrics: Metrics
    rate_limiter: RateLimiter  # REST requests, per verified agent (else per address)
    action_limiter: RateLimiter  # agent actions, per agent, over every socket and REST
    timeline: TimelineIndex
    log_writer: EventLogWriter  # the event log file (when configured) and the timeline index
    relay: ActionRelay | None = None  # Redis mode: followers' actions go to the owner


def correlator_settings(settings: Settings) -> CorrelatorSettings:
    return CorrelatorSettings(
        trunk_endpoints=frozenset({settings.gateway.trunk_endpoint}),
        dns=frozenset(settings.gateway.dns) or None,
        grace=settings.correlation.grace_period_s,
        fallback_window=settings.correlation.fallback_window_s,
        repairs=settings.correlation.repairs(),
    )


def source_factory(settings: Settings, clock: Callable[[], float],
                   log_writer: EventLogWriter) -> Callable[[Pipeline], Sources]:
    """What the owner connects to: Asterisk AMI and one GWS session per configured agent."""
    ami_settings = AmiSettings(
        host=settings.ami.host, port=settings.ami.port, username=settings.ami.username,
        secret=SecretStr(settings.ami.secret_value), ping_interval=settings.ami.ping_interval_s,
        ping_timeout=settings.ami.ping_deadline_s, action_timeout=settings.actions.step_timeout_s,
        backoff_initial=settings.ami.reconnect_min_s, backoff_max=settings.ami.reconnect_max_s)
    gws_settings = GwsSettings(
        base_url=str(settings.gws.base_url), dialect=settings.gws.dialect,
        agents=[GwsAgent(username=a.username, password=SecretStr(a.password_value), dn=a.dn)
                for a in settings.gws.agents])

    def log_sent(raw: RawMessage, t: float) -> None:  # the AMI actions the bridge sends
        log_writer.write("ami", "out", dict(raw), t, "ami")

    def open_sources(pipeline: Pipeline) -> Sources:
        ami = AmiClient(ami_settings, pipeline.feed_ami, pipeline.feed_ami_link,
                        on_sent=log_sent, clock=clock)
        gws = (GwsAgents(gws_settings, on_message=pipeline.feed_gws, on_link=pipeline.feed_gws_link,
                         clock=clock) if gws_settings.agents or settings.gws.follow == "session" else None)
        return Sources(ami=ami, gws=gws, channel_ops=ChannelOperations(
            ami, confirm_timeout_s=settings.actions.step_timeout_s))

    return open_sources


def build(settings: Settings, *, clock: Callable[[], float] = time.time,
          store: StateStore | None = None,
          open_sources: Callable[[Pipeline], Sources] | None = None) -> Components:
    """Every component of one instance. Tests pass their own ``store`` or ``open_sources``."""
    metrics = Metrics()
    if store is None:
        store = (RedisStore(settings.store.redis_url or "", owner_ttl=settings.store.ownership_ttl_s)
                 if settings.store.kind == "redis" else MemoryStore())
    log = settings.log
    timeline = TimelineIndex(max_calls=log.timeline_calls)
    log_writer = EventLogWriter(log.event_log, observers=[timeline.observe], rotation=Rotation(
        max_bytes=log.event_log_max_mb * 1_000_000 or None, max_age_s=log.event_log_max_age_h * 3600 or None,
        keep=log.event_log_keep))
    verifier = verifiers(settings, clock=clock)

    async def on_action(agent: Principal, msg: ActionMessage) -> ActionResult:
        return await executor.execute(agent, msg)

    rate = settings.auth.rate_limit
    following = SessionFollowing(lambda: role.sources.gws, settings.gws.linger_s)
    action_limiter = RateLimiter(settings.actions.per_agent_per_second, settings.actions.per_agent_burst)
    hub = Hub(store, authenticate=hello_checker(verifier), on_action=on_action,
              origin_allowed=settings.auth.origin_allowed, sip_credentials=phone_logins(settings),
              on_presence=following.presence if settings.gws.follow == "session" else None,
              max_msg_size=settings.auth.max_frame_bytes, rate_per_second=rate.per_second,
              rate_burst=rate.burst, action_allowed=lambda agent: action_limiter.allow(agent.agent))
    pipeline = Pipeline(Correlator(correlator_settings(settings)), store, metrics=metrics,
                        clock=clock, log_writer=log_writer)
    role = InstanceRole(store, pipeline, hub, correlator_settings(settings),
                open_sources or source_factory(settings, clock, log_writer),
                instance_id=settings.store.instance_id or f"{socket.gethostname()}-{os.getpid()}",
                lease_interval_s=settings.store.ownership_ttl_s / 3)
    redis_url = settings.store.redis_url if settings.store.kind == "redis" else None
    relay = ActionRelay(redis_url) if redis_url else None
    executor = ActionExecutor(
        pipeline, SourceOperations(lambda: role.sources, log_writer, clock), metrics=metrics,
        is_owner=lambda: role.owner, relay=relay, clock=clock,
        control=settings.actions.control, step_timeout_s=settings.actions.step_timeout_s,
        confirm_timeout_s=settings.actions.confirm_timeout_s)
    pipeline.on_repair = executor.repair
    if relay is not None:
        role.serve_actions = lambda: relay.serve(executor.execute)
    return Components(store=store, hub=hub, pipeline=pipeline, role=role, executor=executor,
                      verifier=verifier, metrics=metrics, log_writer=log_writer, relay=relay,
                      timeline=timeline,
                      rate_limiter=RateLimiter(rate.per_second, rate.burst), action_limiter=action_limiter)
