"""State store: the port (``StateStore``) and its adapters, ``MemoryStore`` and ``RedisStore``."""

from ctibridge.store.memory import MemoryStore
from ctibridge.store.ownership import ownership_changes
from ctibridge.store.port import StateStore, StoreStats, StoreUnavailable, Subscription
from ctibridge.store.redis_store import RedisStore

__all__ = ["MemoryStore", "RedisStore", "StateStore", "StoreStats", "StoreUnavailable", "Subscription",
           "ownership_changes"]
