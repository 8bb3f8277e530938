"""Service configuration: one TOML file plus ``CTIBRIDGE_*`` environment overrides.

Environment variables win over the file and nest with ``__``: ``CTIBRIDGE_AMI__PORT=5039``,
``CTIBRIDGE_AUTH__TOKEN_SECRET=...``. Every secret is a ``SecretStr`` given either inline (better:
by environment) or as ``<name>_file`` (read once at load time, trailing newline stripped), so it
never shows in a repr, a log line, ``check-config`` output or ``/readyz``.

``ctibridge check-config FILE`` validates a file and the environment (see ``main``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ctibridge.core import defaults, divergence


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_secret(value: SecretStr | None, file: Path | None, name: str) -> SecretStr:
    """One secret from either its inline value or its file; exactly one must be given."""
    if value is not None and file is not None:
        raise ValueError(f"give {name} or {name}_file, not both")
    if file is not None:
        return SecretStr(file.read_text(encoding="utf-8").rstrip("\r\n"))
    if value is None or not value.get_secret_value():
        raise ValueError(f"{name} is required (inline, CTIBRIDGE_... environment, or {name}_file)")
    return value


class Listen(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, lt=65536)  # 0: any free port (tests)

    @field_validator("host")
    @classmethod
    def _ip_literal(cls, host: str) -> str:
        ip_address(host)  # a literal address, so the bind is exactly what the file says
        return host


class Http(Section):
    """The HTTP listener's limits and the security headers of the pages it serves."""

    header_timeout_s: float = Field(default=10.0, gt=0, description="first request headers' deadline")
    idle_timeout_s: float = Field(default=30.0, gt=0, description="close a connection idle this long")
    connections_per_ip: int = Field(default=200, ge=1, description="open connections per client address")
    proxies: list[str] = Field(default=[], description="addresses exempt from connections_per_ip (nginx)")
    frame_ancestors: list[str] = Field(
        default=["'self'"], description="CSP frame-ancestors: the origins that may embed the widget (WWE)")
    connect_src: list[str] = Field(
        default=[], description="CSP connect-src besides 'self': e.g. Asterisk's wss://host:8089")

    @field_validator("proxies")
    @classmethod
    def _addresses(cls, items: list[str]) -> list[str]:
        return [str(ip_address(item)) for item in items]


class Tls(Section):
    cert_file: FilePath
    key_file: FilePath


class Ami(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, lt=65536)
    username: str
    secret: SecretStr | None = None
    secret_file: FilePath | None = None
    ping_interval_s: float = Field(default=defaults.AMI_PING_INTERVAL_S, gt=0)
    ping_deadline_s: float = Field(default=defaults.AMI_PING_DEADLINE_S, gt=0)
    reconnect_min_s: float = Field(default=defaults.RECONNECT_MIN_S, gt=0)
    reconnect_max_s: float = Field(default=defaults.RECONNECT_MAX_S, gt=0)

    @model_validator(mode="after")
    def _secret(self) -> Self:
        object.__setattr__(self, "secret", _resolve_secret(self.secret, self.secret_file, "secret"))
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    @property
    def secret_value(self) -> str:
        assert self.secret is not None  # resolved by the validator
        return self.secret.get_secret_value()


class ConfiguredAgent(Section):
    """One ``[[gws.agents]]`` entry: the GWS login the bridge keeps open for this agent's DN."""

    agent_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: FilePath | None = None
    dn: str = Field(pattern=r"^\d+$")

    @model_validator(mode="after")
    def _password(self) -> Self:
        object.__setattr__(self, "password",
                           _resolve_secret(self.password, self.password_file, "password"))
        return self

    @property
    def password_value(self) -> str:
        assert self.password is not None  # resolved by the validator
        return self.password.get_secret_value()


class Gws(Section):
    base_url: AnyHttpUrl
    dialect: Literal["v2", "v3"] = "v2"
    # password: the bridge signs in as each agent of ``agents`` (the lab); session: it follows an
    # agent with the agent's own GWS session (cookie or bearer) while its widget is connected
    follow: Literal["password", "session"] = "password"
    linger_s: float = Field(default=60.0, ge=0)  # session: keep following this long after the widget left
    agents: list[ConfiguredAgent] = []

    @model_validator(mode="after")
    def _unique(self) -> Self:
        dns = [a.dn for a in self.agents]
        if len(dns) != len(set(dns)):
            raise ValueError("two agents share a dn")
        if self.follow == "session" and self.agents:
            raise ValueError("gws.follow = session holds no agent passwords: remove gws.agents")
        return self


_DN_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


class Gateway(Section):
    trunk_endpoint: str = "genesys"
    dns: list[str] = Field(default=[], description='DNs and inclusive ranges: ["5001-5010", "6000"]')

    @field_validator("dns")
    @classmethod
    def _expand(cls, items: list[str]) -> list[str]:
        out: list[str] = []
        for item in items:
            m = _DN_ITEM.match(item.strip())
            if not m:
                raise ValueError(f"{item!r} is neither a DN nor a range like 5001-5010")
            first, last = m.group(1), m.group(2) or m.group(1)
            if len(first) != len(last) or int(last) < int(first) or int(last) - int(first) > 10000:
                raise ValueError(f"bad DN range {item!r}")
            out += [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]
        return list(dict.fromkeys(out))


class Correlation(Section):
    grace_period_s: float = Field(default=defaults.GRACE_PERIOD_S, ge=0)
    fallback_window_s: float = Field(default=defaults.FALLBACK_WINDOW_S, ge=0)
    auto_repair: dict[str, bool] = Field(
        default={}, description="divergence rule id -> repair on/off; unnamed rules keep their default")

    @field_validator("auto_repair")
    @classmethod
    def _known_rules(cls, rules: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(rules) - {r.id for r in divergence.RULES if r.repair})
        if unknown:
            repairable = ", ".join(r.id for r in divergence.RULES if r.repair)
            raise ValueError(f"no repairable rule {', '.join(unknown)} (known: {repairable})")
        return rules

    def repairs(self) -> frozenset[str]:
        """Rule ids whose repair the correlator may request."""
        on = {rule for rule, enabled in self.auto_repair.items() if enabled}
        off = {rule for rule, enabled in self.auto_repair.items() if not enabled}
        return (divergence.default_repairs() | on) - off


class Actions(Section):
    control: Literal["auto", "genesys", "asterisk"] = "auto"  # who carries out agent actions
    step_timeout_s: float = Field(default=defaults.STEP_TIMEOUT_S, gt=0)  # one GWS/AMI operation
    # until both sides' events show the result
    confirm_timeout_s: float = Field(default=defaults.CONFIRM_TIMEOUT_S, gt=0)
    per_agent_per_second: float = Field(
        default=2.0, gt=0, description="actions one agent may start per second (all sockets and REST)")
    per_agent_burst: int = Field(default=10, ge=1, description="... and at once")


class Store(Section):
    kind: Literal["memory", "redis"] = "memory"
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://")
    instance_id: str = ""  # default: host name + pid
    ownership_ttl_s: float = Field(default=defaults.OWNERSHIP_TTL_S, gt=0)

    @model_validator(mode="after")
    def _url(self) -> Self:
        if self.kind == "redis" and not self.redis_url:
            raise ValueError("store.kind = redis needs redis_url")
        return self


class RateLimit(Section):
    per_second: float = Field(default=defaults.RATE_PER_SECOND, gt=0)
    burst: int = Field(default=defaults.RATE_BURST, ge=1)


CredentialKind = Literal["hmac", "jwt", "session"]


class JwtAuth(Section):
    """WWE-issued JWTs (``auth.getJwtToken``), checked against the issuer's JWKS."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_url: AnyHttpUrl
    algorithms: list[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]] = ["RS256"]
    leeway_s: float = Field(default=30.0, ge=0, le=300)  # clock skew allowed on exp/iat/nbf
    dn_claim: str = "dn"
    jwks_refresh_s: float = Field(default=300.0, gt=0)  # cached keys are refetched this often
    jwks_min_refetch_s: float = Field(default=30.0, ge=0)  # unknown kid: at most one refetch per this
    timeout_s: float = Field(default=5.0, gt=0)
    bearer_for_gws: bool = False  # gws.follow = "session": the JWT is also the agent's GWS bearer


class SessionAuth(Section):
    """The agent's GWS session cookie on the ``/ws`` upgrade, checked with GWS ``GET /api/v2/me``."""

    cookie_name: str = "JSESSIONID"
    base_url: AnyHttpUrl | None = Field(default=None, description="where to check it (default: gws.base_url)")
    cache_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=5.0, gt=0)


class SipCredentials(Section):
    """What the bridge sends a verified widget for its phone: the DN's SIP password, derived from
    the gateway's WebRTC secret (``ctibridge asterisk-config --webrtc-secret-file``)."""

    webrtc_secret: SecretStr | None = None
    webrtc_secret_file: FilePath | None = None
    ws_servers: list[str] | None = Field(
        default=None, description="the phone's WebSocket servers (default: the widget's own)")
    realm: str | None = Field(default=None, description="SIP realm (default: any)")

    @model_validator(mode="after")
    def _secret(self) -> Self:
        object.__setattr__(self, "webrtc_secret",
                           _resolve_secret(self.webrtc_secret, self.webrtc_secret_file, "webrtc_secret"))
        return self

    @property
    def secret_value(self) -> str:
        assert self.webrtc_secret is not None  # resolved by the validator
        return self.webrtc_secret.get_secret_value()


class Auth(Section):
    verifiers: list[CredentialKind] = Field(default=["hmac"], min_length=1)
    jwt: JwtAuth | None = None
    session: SessionAuth = SessionAuth()
    sip: SipCredentials | None = None
    token_secret: SecretStr | None = None
    token_secret_file: FilePath | None = None
    token_ttl_s: int = Field(default=8 * 3600, ge=60)
    allowed_origins: list[str] = []
    rate_limit: RateLimit = RateLimit()
    max_frame_bytes: int = Field(default=defaults.MAX_FRAME_BYTES, ge=1024)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)

    def origin_allowed(self, origin: str | None) -> bool:
        """Browsers send Origin: it must be on the allow-list (list the bridge's own URL when it serves
        the widget). Without Origin the caller is no browser page, and its credential is what counts."""
        return origin is None or origin in self.allowed_origins

    @model_validator(mode="after")
    def _secret(self) -> Self:
        if "jwt" in self.verifiers and self.jwt is None:
            raise ValueError("auth.verifiers has jwt: give the [auth.jwt] section")
        if "hmac" not in self.verifiers and self.token_secret is None and self.token_secret_file is None:
            return self  # no bridge-minted tokens at all
        secret = _resolve_secret(self.token_secret, self.token_secret_file, "token_secret")
        if len(secret.get_secret_value()) < 16:
            raise ValueError("token_secret must be at least 16 characters")
        object.__setattr__(self, "token_secret", secret)
        return self

    @property
    def secret_bytes(self) -> bytes:
        if self.token_secret is None:
            raise ValueError("auth.token_secret is not set (no hmac tokens on this bridge)")
        return self.token_secret.get_secret_value().encode()


class Log(Section):
    event_log: Path | None = None
    event_log_max_mb: int = Field(default=100, ge=0, description="rotate the event log at this size (0: no)")
    event_log_max_age_h: float = Field(default=24.0, ge=0, description="... or at this age (0: never)")
    event_log_keep: int = Field(default=10, ge=0, description="rotated event logs kept; older are deleted")
    timeline_calls: int = Field(default=1000, ge=0, description="calls whose timeline is kept (0: none)")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field(
        default="text", description="json: one object per line, with call_id and dn when the event has them")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTIBRIDGE_", env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    listen: Listen = Listen()
    http: Http = Http()
    tls: Tls | None = None
    ami: Ami
    gws: Gws
    gateway: Gateway = Gateway()
    correlation: Correlation = Correlation()
    actions: Actions = Actions()
    store: Store = Store()
    auth: Auth
    log: Log = Log()

    @model_validator(mode="after")
    def _inherited_sessions(self) -> Self:
        jwt = self.auth.jwt
        if self.gws.follow == "session" and not (
                "session" in self.auth.verifiers or (jwt is not None and jwt.bearer_for_gws)):
            raise ValueError('gws.follow = "session" needs auth.verifiers with "session", or '
                             "auth.jwt.bearer_for_gws: otherwise no widget hands the bridge a session")
        return self

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init kwargs (see load_settings); the environment overrides it.
        return env_settings, init_settings

    @classmethod
    def load(cls, path: Path | str) -> Settings:
        """The file at ``path`` (TOML) with the environment on top."""
        with open(path, "rb") as f:
            return cls(**tomllib.load(f))

    def summary(self) -> dict[str, Any]:
        """Everything but secrets (shown as '**********'), JSON-ready."""
        return self.model_dump(mode="json")


def describe_errors(err: ValidationError) -> list[str]:
    """``ami.port: Input should be less than 65536``: one line per problem, naming the field."""
    lines = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(part) for part in e["loc"])
        lines.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return lines


def main(argv: list[str]) -> int:
    """``ctibridge check-config FILE``: exit 0 with a redacted summary, or 2 with one line per error."""
    parser = argparse.ArgumentParser(
        prog="ctibridge check-config", description="Validate a configuration file with the CTIBRIDGE_* "
        "environment on top; print it with secrets hidden, or one line per problem.")
    parser.add_argument("file", metavar="FILE", help="TOML configuration (docs/configuration.md)")
    path = parser.parse_args(argv).file
    try:
        settings = Settings.load(path)
    except ValidationError as err:
        print(f"{path}: {err.error_count()} error(s)", file=sys.stderr)
        for line in describe_errors(err):
            print(f"  {line}", file=sys.stderr)
        return 2
    except (OSError, tomllib.TOMLDecodeError) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 2
    print(f"OK {path}")
    print(json.dumps(settings.summary(), indent=2))
    return 0
