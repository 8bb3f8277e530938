"""Agent tokens: signed, expiring, scoped to the DNs the agent may follow and act on.

Format: ``base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))`` where the
payload is compact JSON ``{"agent": "a1", "dns": ["5001"], "exp": 1732560000, "iat": 1732531200}``.
The signature covers the encoded payload, so verification never parses unsigned JSON.

For the lab, scripts and the operator page; agents in WWE sign in with a WWE-issued JWT or their
GWS session instead (``ctibridge.identity.verifiers``).
``ctibridge token --agent A --dn 5001 [--dn 5002] [--ttl 8h]`` mints a token.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ctibridge.identity.identity import Identity
from ctibridge.identity.refusal import Refused


class AgentClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str = Field(min_length=1)
    dns: tuple[str, ...] = Field(min_length=1)
    exp: int
    iat: int

    def allows(self, dn: str) -> bool:
        return dn in self.dns


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload_b64: str) -> str:
    return _b64(hmac.new(secret, payload_b64.encode("ascii"), hashlib.sha256).digest())


def mint(secret: bytes, agent: str, dns: list[str], ttl_s: int, now: float) -> str:
    claims = AgentClaims(agent=agent, dns=tuple(dns), exp=int(now) + ttl_s, iat=int(now))
    payload = _b64(json.dumps(claims.model_dump(), separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


@dataclass(frozen=True)
class HmacTokenVerifier:
    secret: bytes
    clock: Callable[[], float] = time.time

    def verify_now(self, token: str) -> AgentClaims:
        """The token's claims, or ``Refused``: ``invalid`` (missing, malformed), ``bad_signature``,
        ``expired``."""
        if not token:
            raise Refused("invalid", "missing token")
        payload, dot, signature = token.partition(".")
        if not dot or not payload or not signature:
            raise Refused("invalid", "malformed token")
        try:
            expected = _sign(self.secret, payload)
        except UnicodeEncodeError:
            raise Refused("invalid", "malformed token") from None
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Refused("bad_signature", "hmac token signature does not match")
        try:
            claims = AgentClaims.model_validate_json(_unb64(payload))
        except (ValueError, ValidationError):
            raise Refused("invalid", "malformed token payload") from None
        if claims.exp <= self.clock():
            raise Refused("expired", "hmac token expired")
        return claims

    async def verify(self, token: str) -> Identity:
        claims = self.verify_now(token)
        return Identity(claims.agent, frozenset(claims.dns), "hmac")


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``30m``, ``8h``, ``2d`` -> seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (examples: 3600, 30m, 8h)")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def main(argv: list[str]) -> int:
    """``ctibridge token --agent A --dn 5001 [--dn 5002] [--ttl 8h] [--config FILE]``.

    The secret comes from ``--config`` (``auth.token_secret``) or else from the environment
    ``CTIBRIDGE_AUTH__TOKEN_SECRET``."""
    parser = argparse.ArgumentParser(prog="ctibridge token", description="Mint an agent token (printed on "
                                     "stdout) for the widget, the REST API and the operator pages.")
    parser.add_argument("--agent", required=True, help="the agent's name, as audit lines will show it")
    parser.add_argument("--dn", action="append", required=True, dest="dns", metavar="DN[,DN...]",
                        help="a DN the token covers; repeat it or give a comma list: --dn 5001,5002")
    parser.add_argument("--ttl", default=None, help="lifetime, e.g. 8h (default: auth.token_ttl_s)")
    parser.add_argument("--config", default=None, help="service configuration file")
    args = parser.parse_args(argv)
    try:
        ttl_arg = parse_duration(args.ttl) if args.ttl else None
    except ValueError as err:
        parser.error(str(err))
    if args.config:
        from ctibridge.config import Settings, describe_errors

        try:
            auth = Settings.load(args.config).auth
        except ValidationError as err:
            print("\n".join(describe_errors(err)), file=sys.stderr)
            return 2
        secret, ttl = auth.secret_bytes, ttl_arg or auth.token_ttl_s
    else:
        env_secret = os.environ.get("CTIBRIDGE_AUTH__TOKEN_SECRET", "")
        if len(env_secret) < 16:
            print("ctibridge token: give --config FILE or CTIBRIDGE_AUTH__TOKEN_SECRET (>= 16 chars)",
                  file=sys.stderr)
            return 2
        secret, ttl = env_secret.encode(), ttl_arg or 8 * 3600
    dns = [dn.strip() for item in args.dns for dn in item.split(",") if dn.strip()]
    if not dns or not all(dn.isdigit() for dn in dns):
        parser.error(f"--dn: DNs are digits, comma-separated: {','.join(args.dns)!r}")
    print(mint(secret, args.agent, dns, ttl, time.time()))
    return 0
