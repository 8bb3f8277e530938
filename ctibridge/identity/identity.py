"""What a verified credential says about its holder (the hub's ``Principal``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

CredentialKind = Literal["jwt", "hmac", "session"]


@dataclass(frozen=True)
class GwsCredential:
    """The agent's own way into GWS, inherited from the widget's sign-in: the GWS session cookie
    (``cookie``: name and value) or a bearer token. The bridge may follow the agent's Genesys
    events with it while the widget is connected; it is never logged (``SecretStr``)."""

    kind: Literal["cookie", "bearer"]
    value: SecretStr
    cookie_name: str = "JSESSIONID"

    def headers(self) -> dict[str, str]:
        secret = self.value.get_secret_value()
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {secret}"}
        return {"Cookie": f"{self.cookie_name}={secret}"}


@dataclass(frozen=True)
class Identity:
    """An agent the bridge has verified: its name, the DNs it may follow and act on, how it proved
    it, and (session-inherited modes) its GWS credential."""

    agent: str
    dns: Collection[str]
    kind: CredentialKind
    gws: GwsCredential | None = field(default=None, repr=False)

    def allows(self, dn: str) -> bool:
        return dn in self.dns
