"""What a GWS session needs (pydantic at the edge). Passwords are ``SecretStr``: never in a repr
or a log line. The service builds this from its ``[gws]`` configuration section (``ctibridge.config``,
which also reads the environment and password files); tests build it directly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ctibridge.core import defaults

ConnectionTypeName = Literal["long-polling", "websocket"]


def _long_polling_only() -> list[ConnectionTypeName]:
    return ["long-polling"]  # GWS 8.5 docs: "does not currently support web sockets"


class GwsAgent(BaseModel):
    username: str
    password: SecretStr
    dn: str = ""  # v2: learnt from GET /api/v2/me when empty; v3: required


class GwsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:8090"
    dialect: Literal["v2", "v3"] = "v2"
    agents: list[GwsAgent] = Field(default_factory=list)
    api_key: SecretStr | None = None  # v3 x-api-key, sent on REST and CometD
    connection_types: list[ConnectionTypeName] = Field(default_factory=_long_polling_only)
    request_timeout: float = 10.0  # every REST call (login, re-read, operations)
    open_timeout: float = 15.0  # CometD handshake + first connect + subscribes
    connection_timeout: float = 10.0  # failed Bayeux reconnects before the client is rebuilt
    backoff_initial: float = defaults.RECONNECT_MIN_S
    backoff_max: float = defaults.RECONNECT_MAX_S
