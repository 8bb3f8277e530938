"""What the Asterisk gateway configuration is generated from: one validated ``GatewaySettings``.

Two profiles share every template. ``production`` follows the seed architecture (Asterisk facing the
Genesys SIP Server, browsers over WSS with DTLS-SRTP). ``lab`` keeps everything on 127.0.0.0/8 for
the sandbox, the demo and the tests, with the two settings the WebRTC lab proved necessary there
(RTP bound to 127.0.0.1 and an ICE host-candidate mapping, see asterisk/README.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Profile = Literal["production", "lab"]

# Values a profile changes; anything given explicitly wins over them.
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "production": {},
    "lab": {
        "bind_address": "127.0.0.1",
        "websocket": "ws",
        "media_address": "127.0.0.1",
        "ice_host_candidate": "198.51.100.1",  # the test namespace's NO-CARRIER veth (tests/conftest.py)
        "trunk_match": "127.0.0.2",
        # REGISTERs go to their own port so they never land in a sipp call scenario on 5060.
        "registrar_port": 5070,
        "rtp_start": 10000,
        "rtp_end": 10999,
    },
}

LAB_PHONE_PORT = 5062
_DN = re.compile(r"^\d{2,15}$")


def parse_dns(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"5001-5004,5010"`` (or a list of such items) -> ``("5001", "5002", "5003", "5004", "5010")``."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    dns: list[str] = []
    for item in (i.strip() for i in items if i.strip()):
        first, _, last = item.partition("-")
        if not last:
            dns.append(first)
            continue
        if len(first) != len(last) or not (first.isdigit() and last.isdigit()) or int(last) < int(first):
            raise ValueError(f"bad DN range {item!r}: want FIRST-LAST with equal widths, FIRST <= LAST")
        dns += [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]
    for dn in dns:
        if not _DN.match(dn):
            raise ValueError(f"bad DN {dn!r}: digits only")
    if len(set(dns)) != len(dns):
        raise ValueError("a DN is listed twice")
    return tuple(dns)


def webrtc_password(secret: str, dn: str) -> str:
    """The SIP password of DN ``dn`` for the browser phone, derived from one gateway secret, so the
    bridge can hand a widget its credentials without a password list."""
    return hmac.new(secret.encode(), f"webrtc-dn:{dn}".encode(), hashlib.sha256).hexdigest()[:24]


def read_secret(env: str, file: str | Path | None) -> SecretStr:
    """A secret from ``file`` (trailing newline stripped) or else from environment variable ``env``."""
    if file is not None:
        value = Path(file).read_text(encoding="utf-8").rstrip("\r\n")
    else:
        value = os.environ.get(env, "")
    if not value:
        raise ValueError(f"secret missing: set {env} or give its file")
    return SecretStr(value)


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile = "production"
    dns: tuple[str, ...] = Field(min_length=1)
    genesys_host: str
    genesys_port: int = Field(default=5060, ge=1, lt=65536)
    registrar_port: int = Field(default=0, ge=0, lt=65536)  # 0: the Genesys SIP port
    trunk: str = "genesys"
    trunk_match: str = ""  # identify match for the trunk; "" = genesys_host
    genesys_auth_user: str = ""  # outbound auth toward Genesys, only when both are given
    genesys_password: SecretStr | None = None

    bind_address: str = "0.0.0.0"
    sip_port: int = Field(default=5060, ge=1, lt=65536)
    websocket: Literal["ws", "wss"] = "wss"
    http_port: int = Field(default=8088, ge=1, lt=65536)
    https_port: int = Field(default=8089, ge=1, lt=65536)
    tls_cert_file: str = "/etc/asterisk/keys/asterisk.crt"
    tls_key_file: str = "/etc/asterisk/keys/asterisk.key"
    media_address: str = ""  # "" = let Asterisk choose
    ice_host_candidate: str = ""  # a local non-loopback address announced as 127.0.0.1 (lab only)
    rtp_start: int = 10000
    rtp_end: int = 20000

    webrtc_secret: SecretStr
    phone_dns: tuple[str, ...] = ()  # lab: DNs that also have a static sipp phone contact

    ami_user: str = "ctibridge"
    ami_secret: SecretStr
    ami_bind: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, lt=65536)
    ami_permit: str = "127.0.0.1/255.255.255.255"

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**PROFILE_DEFAULTS.get(data.get("profile", "production"), {}), **data}
        return data

    @field_validator("dns", "phone_dns", mode="before")
    @classmethod
    def _parse_dns(cls, value: Any) -> Any:
        return parse_dns(value) if isinstance(value, str | list | tuple) else value

    @field_validator("trunk", "ami_user")
    @classmethod
    def _section_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", value):
            raise ValueError(f"{value!r} is not usable as a configuration section name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GatewaySettings:
        if unknown := set(self.phone_dns) - set(self.dns):
            raise ValueError(f"phone_dns not in dns: {sorted(unknown)}")
        if self.profile == "production" and self.phone_dns:
            raise ValueError("static phone contacts are a lab feature")
        if self.trunk in self.dns:
            raise ValueError("the trunk name collides with a DN")
        return self

    def password(self, dn: str) -> str:
        return webrtc_password(self.webrtc_secret.get_secret_value(), dn)

    def phone_address(self, dn: str) -> str:
        """Loopback address of the sipp phone of a lab DN: 127.0.0.3, 127.0.0.4, ... in phone_dns order."""
        return f"127.0.0.{3 + self.phone_dns.index(dn)}"

    @property
    def registrar(self) -> str:
        return f"{self.genesys_host}:{self.registrar_port or self.genesys_port}"
