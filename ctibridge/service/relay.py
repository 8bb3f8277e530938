"""Actions that reach a follower are carried out by the owner (only it holds AMI and GWS).

Over the Redis the instances share: a follower publishes ``{"reply", "agent", "dns", "msg"}`` on
``{prefix}:actions`` (the token was verified by the follower; Redis is inside the trust boundary)
and waits on its own reply channel; the owner's ``serve`` runs each request through its executor
and publishes the ``ActionResult`` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ctibridge.hub.protocol import ActionMessage, ActionResult
from ctibridge.hub.server import Principal

log = logging.getLogger("ctibridge.relay")

Execute = Callable[[Principal, ActionMessage], Awaitable[ActionResult]]


@dataclass(frozen=True)
class RelayedAgent:
    """The follower-verified agent, as the owner's executor sees it."""

    agent: str
    dns: tuple[str, ...]


class ActionRelay:
    def __init__(self, redis_url: str, prefix: str = "ctibridge") -> None:
        # its own client: a reply may take the whole action timeout, longer than the store's
        # socket timeout
        self.redis: Redis = Redis.from_url(redis_url, protocol=2, decode_responses=True)
        self.channel = f"{prefix}:actions"
        self.prefix = prefix

    async def request(self, agent: Principal, msg: ActionMessage, timeout_s: float) -> ActionResult:
        """Follower side: the owner's result, or ``failed`` when no owner answers in time."""
        reply = f"{self.prefix}:action-reply:{uuid.uuid4().hex}"
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(reply)
            body = json.dumps({"reply": reply, "agent": agent.agent, "dns": list(agent.dns),
                               "msg": msg.model_dump(mode="json")})
            if not await self.redis.publish(self.channel, body):
                return ActionResult(ok=False, outcome="failed", detail="no owner instance is serving actions")
            async with asyncio.timeout(timeout_s):
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message["type"] == "message":
                        return ActionResult.model_validate_json(message["data"])
        except TimeoutError:
            return ActionResult(ok=False, outcome="timeout", detail="the owner instance did not answer")
        except RedisError as err:
            return ActionResult(ok=False, outcome="failed", detail=f"owner unreachable: {err}")
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def serve(self, execute: Execute) -> None:
        """Owner side, until cancelled: carry out every relayed request (each in its own task)."""
        running: set[asyncio.Task[None]] = set()
        pubsub = self.redis.pubsub()
        try:
            while True:
                try:
                    await pubsub.subscribe(self.channel)
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message["type"] == "message":
                            task = asyncio.create_task(self._answer(execute, message["data"]))
                            running.add(task)
                            task.add_done_callback(running.discard)
                except RedisError as err:
                    log.warning("action relay: redis lost (%s), subscribing again", err)
                    await asyncio.sleep(0.5)
        finally:
            for task in running:
                task.cancel()
            with contextlib.suppress(RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _answer(self, execute: Execute, data: str) -> None:
        try:
            request = json.loads(data)
            agent = RelayedAgent(str(request["agent"]), tuple(request["dns"]))
            msg = ActionMessage.model_validate(request["msg"])
        except (ValueError, KeyError, TypeError):
            log.warning("action relay: malformed request %.200s", data)
            return
        result = await execute(agent, msg)
        with contextlib.suppress(RedisError):
            await self.redis.publish(str(request["reply"]), result.model_dump_json())

    async def aclose(self) -> None:
        await self.redis.aclose()
