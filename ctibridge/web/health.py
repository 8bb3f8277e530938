"""``GET /health``: the links and what depends on them, never a secret (the model has no field
that could carry one)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel

from ctibridge.config import Settings
from ctibridge.service.assemble import Components
from ctibridge.store import RedisStore


class AmiHealth(BaseModel):
    link: str  # connected | lost | shutdown | not_owner | starting
    ready: bool  # logged in and resynchronised
    registrations: dict[str, str]  # DN -> outbound registration state toward Genesys
    registered: bool  # every DN whose state is known is Registered (Rejected, Unregistered: not ok)


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


class Health(BaseModel):
    status: Literal["ok", "degraded"]
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


async def health(components: Components, settings: Settings) -> Health:
    role, stats = components.role, components.store.stats
    ami = role.sources.ami
    if ami is None:
        ami_health = AmiHealth(link="not_owner" if not role.owner else "starting", ready=False,
                               registrations={}, registered=False)
    else:
        registrations = ami.registrations()
        ami_health = AmiHealth(link=components.pipeline.links.get("ami", "starting"), ready=ami.ready,
                               registrations=registrations,
                               registered=all(state == "Registered" for state in registrations.values()))
    gws = role.sources.gws
    sessions = [GwsSessionHealth(username=s.username, dn=s.dn, status=s.status, detail=s.detail)
                for s in (gws.status() if gws is not None else [])]
    store = StoreHealth(kind=settings.store.kind, ok=await _store_ok(components),
                        fallback_active=stats.fallback_active, failures=stats.redis_failures)
    healthy = store.ok and (not role.owner or (
        ami_health.ready and ami_health.registered and all(s.status == "connected" for s in sessions)))
    return Health(status="ok" if healthy else "degraded", ami=ami_health, gws=sessions, store=store,
                  ownership=OwnershipHealth(instance_id=role.instance_id, owner=role.owner),
                  clients=components.hub.clients_count())
