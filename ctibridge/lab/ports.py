"""Before starting the Genesys lab: are the fixed addresses it binds free? A second demo on the
same machine then stops at once and names the port, instead of failing half-started."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ctibridge.gateway.settings import LAB_PHONE_PORT, GatewaySettings


@dataclass(frozen=True)
class Endpoint:
    what: str
    host: str
    port: int
    kind: int  # socket.SOCK_STREAM or socket.SOCK_DGRAM


def lab_endpoints(settings: GatewaySettings) -> list[Endpoint]:
    """Every address the lab profile's Asterisk, registrar and SIP Server stand-in bind."""
    udp, tcp = socket.SOCK_DGRAM, socket.SOCK_STREAM
    registrar = settings.registrar_port or settings.genesys_port
    endpoints = [
        Endpoint("Asterisk SIP", settings.bind_address, settings.sip_port, udp),
        Endpoint("Asterisk HTTP/WebSocket", settings.bind_address, settings.http_port, tcp),
        Endpoint("Asterisk AMI", settings.bind_address, settings.ami_port, tcp),
        Endpoint("SIP Server stand-in", settings.genesys_host, settings.genesys_port, udp),
        Endpoint("lab registrar", settings.genesys_host, registrar, udp),
    ]
    endpoints += [Endpoint(f"lab phone {dn}", settings.phone_address(dn), LAB_PHONE_PORT, udp)
                  for dn in settings.phone_dns]
    return endpoints


def taken(endpoints: list[Endpoint]) -> list[str]:
    """A line per endpoint something else already holds (binding is the only reliable test)."""
    busy = []
    for endpoint in endpoints:
        with socket.socket(socket.AF_INET, endpoint.kind) as probe:
            if endpoint.kind == socket.SOCK_STREAM:  # a closed connection's TIME_WAIT is no owner
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((endpoint.host, endpoint.port))
            except OSError as exc:
                busy.append(f"{endpoint.what}: {endpoint.host}:{endpoint.port} is taken ({exc.strerror})")
    return busy
