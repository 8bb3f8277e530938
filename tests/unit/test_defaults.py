"""A component built without a configuration file has the defaults the configuration file has."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel

from ctibridge import config
from ctibridge.ami.client import AmiSettings
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core.correlator import CorrelatorSettings
from ctibridge.gws.settings import GwsSettings
from ctibridge.hub.server import Hub
from ctibridge.service.actions import ActionExecutor
from ctibridge.store.redis_store import RedisStore


def _field(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].default


def _parameter(callable_: Any, name: str) -> Any:
    return inspect.signature(callable_).parameters[name].default


PAIRS = [
    ((config.Correlation, "grace_period_s"), CorrelatorSettings().grace),
    ((config.Correlation, "fallback_window_s"), CorrelatorSettings().fallback_window),
    ((config.Ami, "ping_interval_s"), _field(AmiSettings, "ping_interval")),
    ((config.Ami, "ping_deadline_s"), _field(AmiSettings, "ping_timeout")),
    ((config.Ami, "reconnect_min_s"), _field(AmiSettings, "backoff_initial")),
    ((config.Ami, "reconnect_max_s"), _field(AmiSettings, "backoff_max")),
    ((config.Ami, "reconnect_min_s"), _field(GwsSettings, "backoff_initial")),
    ((config.Ami, "reconnect_max_s"), _field(GwsSettings, "backoff_max")),
    ((config.Actions, "step_timeout_s"), _field(AmiSettings, "action_timeout")),
    ((config.Actions, "step_timeout_s"), _parameter(ChannelOperations, "confirm_timeout_s")),
    ((config.Actions, "step_timeout_s"), _parameter(ActionExecutor, "step_timeout_s")),
    ((config.Actions, "confirm_timeout_s"), _parameter(ActionExecutor, "confirm_timeout_s")),
    ((config.Store, "ownership_ttl_s"), _parameter(RedisStore, "owner_ttl")),
    ((config.RateLimit, "per_second"), _parameter(Hub, "rate_per_second")),
    ((config.RateLimit, "burst"), _parameter(Hub, "rate_burst")),
    ((config.Auth, "max_frame_bytes"), _parameter(Hub, "max_msg_size")),
]


@pytest.mark.parametrize(("key", "adapter_default"), PAIRS, ids=[f"{m.__name__}.{k}" for (m, k), _ in PAIRS])
def test_adapter_default_is_the_configuration_default(key: tuple[type[BaseModel], str],
                                                      adapter_default: Any) -> None:
    model, name = key
    assert adapter_default == _field(model, name)
