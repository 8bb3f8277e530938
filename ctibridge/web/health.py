"""Health the way orchestrators read it.

``GET /livez``: the process serves HTTP (200 always): restart the bridge only when this fails.
``GET /readyz``: 200 when this instance can do its job, else 503. Ready means: the state store
answers, and on the owner instance AMI is logged in and resynchronised, every GWS session is
connected and every outbound registration toward Genesys is ``Registered``. Without a token the
answer is only ``{"status": ...}``; with an agent token it adds the per-link detail, limited to
the token's DNs (GWS usernames and DNs are not for anonymous callers). Never a secret: the model
has no field that could carry one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Literal

from pydantic import BaseModel

from ctibridge.config import Settings
from ctibridge.service.assemble import Components
from ctibridge.store import RedisStore

REGISTERED = "Registered"


class AmiHealth(BaseModel):
    link: str  # connected | lost | shutdown | not_owner | starting
    ready: bool  # logged in and resynchronised
    registrations: dict[str, str]  # DN -> outbound registration state toward Genesys


class GwsSessionHealth(BaseModel):
    username: str
    dn: str
    status: str  # connected, lost, login_failed, ...
    detail: str


class StoreHealth(BaseModel):
    kind: Literal["memory", "redis"]
    ok: bool
    fallback_active: bool  # the owner runs on its memory mirror, Redis behind
    failures: int


class OwnershipHealth(BaseModel):
    instance_id: str
    owner: bool


ReadyStatus = Literal["ready", "not_ready"]


class Readiness(BaseModel):
    """``/readyz`` without a token."""

    status: ReadyStatus


class ReadinessDetail(Readiness):
    """``/readyz`` with an agent token: the links, limited to the token's DNs."""

    reasons: list[str]  # why not ready; empty when ready
    ami: AmiHealth
    gws: list[GwsSessionHealth]
    store: StoreHealth
    ownership: OwnershipHealth
    clients: int


async def _store_ok(components: Components) -> bool:
    store = components.store
    if not isinstance(store, RedisStore):
        return True
    try:
        async with asyncio.timeout(1.0):
            return bool(await store.redis.ping())
    except Exception:  # any failure is the answer: not ok
        return False


def _ami(components: Components) -> AmiHealth:
    role = components.role
    ami = role.sources.ami
    if ami is None:
        return AmiHealth(link="not_owner" if not role.owner else "starting", ready=False, registrations={})
    return AmiHealth(link=components.pipeline.links.get("ami", "starting"), ready=ami.ready,
                     registrations=ami.registrations())


def _gws(components: Components) -> list[GwsSessionHealth]:
    gws = components.role.sources.gws
    return [GwsSessionHealth(username=s.username, dn=s.dn, status=s.status, detail=s.detail)
            for s in (gws.status() if gws is not None else [])]


def _reasons(owner: bool, store: StoreHealth, ami: AmiHealth, gws: list[GwsSessionHealth]) -> list[str]:
    reasons = [] if store.ok else [f"store {store.kind} not answering"]
    if not owner:
        return reasons  # a follower serves widgets from the store: the links are the owner's
    if not ami.ready:
        reasons.append(f"AMI {ami.link}")
    reasons += [f"GWS {s.dn} {s.status}" for s in gws if s.status != "connected"]
    reasons += [f"registration {dn} {state}" for dn, state in sorted(ami.registrations.items())
                if state != REGISTERED]
    return reasons


async def readiness(components: Components, settings: Settings, dns: Collection[str] | None
                    ) -> Readiness:
    """The report; ``dns`` None: the bare status (no token), else the detail for those DNs."""
    role, stats = components.role, components.store.stats
    ami, gws = _ami(components), _gws(components)
    store = StoreHealth(kind=settings.store.kind, ok=await _store_ok(components),
                        fallback_active=stats.fallback_active, failures=stats.redis_failures)
    status: ReadyStatus = "not_ready" if _reasons(role.owner, store, ami, gws) else "ready"
    if dns is None:
        return Readiness(status=status)
    mine = ami.model_copy(update={"registrations": {
        dn: state for dn, state in ami.registrations.items() if dn in dns}})
    my_gws = [s for s in gws if s.dn in dns]
    reasons = _reasons(role.owner, store, mine, my_gws)
    if status == "not_ready" and not reasons:
        reasons = ["a link of a DN this token does not cover"]
    return ReadinessDetail(status=status, reasons=reasons, ami=mine, gws=my_gws,
                           store=store, ownership=OwnershipHealth(instance_id=role.instance_id,
                                                                   owner=role.owner),
                           clients=components.hub.clients_count())
