"""GWS connection settings (pydantic at the edge). Passwords are ``SecretStr``: never in a repr or log.

From the environment: ``CTIBRIDGE_GWS_BASE_URL``, ``CTIBRIDGE_GWS_AGENTS='[{"username": "agent1",
"password": "...", "dn": "5001"}]'``, ``CTIBRIDGE_GWS_DIALECT=v2|v3``, ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ConnectionTypeName = Literal["long-polling", "websocket"]


def _long_polling_only() -> list[ConnectionTypeName]:
    return ["long-polling"]  # GWS 8.5 docs: "does not currently support web sockets"


class GwsAgent(BaseModel):
    username: str
    password: SecretStr
    dn: str = ""  # v2: learnt from GET /api/v2/me when empty; v3: required


class GwsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTIBRIDGE_GWS_", extra="forbid")

    base_url: str = "http://127.0.0.1:8090"
    dialect: Literal["v2", "v3"] = "v2"
    agents: list[GwsAgent] = Field(default_factory=list)
    api_key: SecretStr | None = None  # v3 x-api-key, sent on REST and CometD
    connection_types: list[ConnectionTypeName] = Field(default_factory=_long_polling_only)
    request_timeout: float = 10.0  # every REST call (login, re-read, operations)
    open_timeout: float = 15.0  # CometD handshake + first connect + subscribes
    connection_timeout: float = 10.0  # failed Bayeux reconnects before the client is rebuilt
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
