"""WWE-issued JWTs: the widget asks WWE (``auth.getJwtToken``) and sends the token in its hello.

The signature is checked against the issuer's JWKS (``jwks.JwksCache``), then issuer, audience,
expiry (with ``leeway_s`` of clock skew) and the required claims; the subject is the agent, the
``dn_claim`` (a string or a list) the DNs it may follow. Each failure is its own ``Refused`` reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from pydantic import SecretStr

from ctibridge.identity.identity import GwsCredential, Identity
from ctibridge.identity.jwks import JwksCache
from ctibridge.identity.refusal import Refused


@dataclass(frozen=True)
class JwtPolicy:
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_s: float = 30.0
    dn_claim: str = "dn"
    bearer_for_gws: bool = False  # session-inherited following: the JWT is also the agent's GWS bearer


class JwtVerifier:
    def __init__(self, policy: JwtPolicy, jwks: JwksCache) -> None:
        self.policy, self.jwks = policy, jwks

    async def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Refused("invalid", "not a JWT") from None
        if header.get("alg") not in self.policy.algorithms:
            raise Refused("invalid", f"algorithm {header.get('alg')!r} not accepted")
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        claims = self._decode(token, key)
        agent, dns = claims.get("sub"), claims.get(self.policy.dn_claim)
        if isinstance(dns, str):
            dns = [dns]
        if not isinstance(agent, str) or not agent:
            raise Refused("invalid", "no subject")
        if not isinstance(dns, list) or not dns or not all(isinstance(dn, str) for dn in dns):
            raise Refused("invalid", f"no {self.policy.dn_claim!r} claim naming the agent's DN")
        gws = GwsCredential("bearer", SecretStr(token)) if self.policy.bearer_for_gws else None
        return Identity(agent, frozenset(dns), "jwt", gws)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, object]:
        try:
            return jwt.decode(
                token, key.key, algorithms=list(self.policy.algorithms), audience=self.policy.audience,
                issuer=self.policy.issuer, leeway=self.policy.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Refused("expired", "jwt expired") from None
        except jwt.InvalidSignatureError:
            raise Refused("bad_signature", "jwt signature does not verify") from None
        except jwt.InvalidIssuerError:
            raise Refused("wrong_issuer", "jwt from another issuer") from None
        except jwt.InvalidAudienceError:
            raise Refused("wrong_audience", "jwt for another audience") from None
        except jwt.InvalidTokenError as err:
            raise Refused("invalid", f"jwt refused: {type(err).__name__}") from None
