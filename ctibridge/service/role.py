"""Owner or follower: which instance holds the AMI/GWS connections and runs the pipeline.

Exactly one instance sharing a store is the owner (the store's lease, ``ownership_changes``). The
owner restores the correlator from the store's core state (so the widget sequences continue),
runs the pipeline and opens the source connections (their login resync, AMI CoreShowChannels and
the GWS REST re-read of each agent's calls, brings the restored state up to date), and serves the
actions followers relay to it. A follower serves widgets from the store (``hub.follow``). With the
memory store the one instance is the owner at once. Losing the lease stops the sources and the
pipeline: the instance goes back to following.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from ctibridge.ami.client import AmiClient
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.gws.agents import GwsAgents
from ctibridge.service.pipeline import Pipeline
from ctibridge.store import StateStore, ownership_changes

log = logging.getLogger("ctibridge.role")

STOP_TIMEOUT_S = 5.0


class Follower(Protocol):
    async def follow(self, store: StateStore) -> None: ...


@dataclass
class Sources:
    """The owner's upstream connections, made afresh each time this instance becomes owner."""

    ami: AmiClient | None = None
    gws: GwsAgents | None = None
    channel_ops: ChannelOperations | None = None  # on ``ami``

    async def start(self) -> None:
        if self.ami is not None:
            await self.ami.start()  # returns at once; connects and resyncs in the background
        if self.gws is not None:
            await self.gws.start()

    async def stop(self) -> None:
        if self.gws is not None:
            await self.gws.stop()
        if self.ami is not None:
            await self.ami.close()


@dataclass
class InstanceRole:
    store: StateStore
    pipeline: Pipeline
    hub: Follower
    correlator_settings: CorrelatorSettings
    open_sources: Callable[[Pipeline], Sources]  # builds (not starts) AMI client and GWS agents
    instance_id: str
    lease_interval_s: float
    serve_actions: Callable[[], Coroutine[Any, Any, None]] | None = None  # followers' relayed actions
    owner: bool = False
    sources: Sources = field(default_factory=Sources)
    _owner_tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def run(self) -> None:
        """Until cancelled: follow the store, and own the sources while the lease says so."""
        # Every instance follows: widgets get a delta from the store once it is stored, owner or not.
        follow = asyncio.create_task(self.hub.follow(self.store))
        try:
            async for owner in ownership_changes(self.store, self.instance_id,
                                                 interval=self.lease_interval_s):
                await self._stand_down()
                self.owner = owner
                if owner:
                    await self._take_over()
                else:
                    log.warning("%s lost the ownership: following the store", self.instance_id)
        finally:
            await self._stand_down()
            self.owner = False
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow

    async def _take_over(self) -> None:
        state = await self.store.load_core_state()
        if state is not None:
            self.pipeline.correlator = Correlator.restore(state, self.correlator_settings)
        # A full state as the base the pipeline's incremental changes are merged into.
        await self.store.save_core_state(self.pipeline.correlator.export_state())
        log.info("owner %s: %s", self.instance_id,
                 "restored the stored calls" if state is not None else "no stored state")
        self._owner_tasks = [asyncio.create_task(self.pipeline.run(), name="ctibridge-pipeline")]
        if self.serve_actions is not None:
            self._owner_tasks.append(asyncio.create_task(self.serve_actions(), name="ctibridge-relay"))
        self.sources = self.open_sources(self.pipeline)
        await self.sources.start()

    async def _stand_down(self) -> None:
        """Stop the pipeline and close the sources (no-op when not the owner)."""
        sources, self.sources = self.sources, Sources()
        # Bounded: a library that swallows the cancellation of its close must not block shutdown.
        closing = asyncio.create_task(sources.stop())
        done, _ = await asyncio.wait({closing}, timeout=STOP_TIMEOUT_S)
        if not done:
            log.error("the AMI/GWS connections did not close within %s s; left behind", STOP_TIMEOUT_S)
        elif closing.exception() is not None:
            log.error("closing the AMI/GWS connections failed", exc_info=closing.exception())
        tasks, self._owner_tasks = self._owner_tasks, []
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
