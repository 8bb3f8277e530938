"""The production example (asterisk/production: WSS, DTLS, 20 DNs, Genesys at 192.168.210.81) loads
in the real Asterisk 22: every DN, its registration toward Genesys and the WSS listener."""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
from pathlib import Path

import pytest

from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import INSIDE, AsteriskSandbox
from ctibridge.gateway.settings import GatewaySettings

pytestmark = pytest.mark.asterisk


def self_signed(tmp_path: Path) -> tuple[str, str]:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=gateway",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return (tmp_path / "cert.pem").read_text(), (tmp_path / "key.pem").read_text()


async def test_production_example_loads(asterisk_sandbox_built: Path, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    settings = GatewaySettings.model_validate(
        {
            "dns": "5001-5020",
            "genesys_host": "192.168.210.81",
            "genesys_auth_user": "asterisk_gateway",
            "genesys_password": "g-secret",
            "webrtc_secret": "w-secret",
            "ami_secret": "a-secret",
            "tls_cert_file": f"{INSIDE}/etc/gateway.crt",
            "tls_key_file": f"{INSIDE}/etc/gateway.key",
        }
    )
    sandbox = AsteriskSandbox(asterisk_sandbox_built, tmp_path / "asterisk")
    await sandbox.start({**render(settings), "gateway.crt": cert, "gateway.key": key})
    try:
        endpoints = sandbox.cli("pjsip show endpoints")
        assert len(re.findall(r"Endpoint:\s+50\d\d\s", endpoints)) == 20
        registrations = sandbox.cli("pjsip show registrations")
        assert len(re.findall(r"genesys-reg-50\d\d/sip:192\.168\.210\.81:5060", registrations)) == 20
        assert "0.0.0.0:8089" in sandbox.cli("http show status")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        _, writer = await asyncio.open_connection("127.0.0.1", 8089, ssl=context)  # TLS handshake done
        writer.close()
        errors = [line for line in sandbox.log_text().splitlines() if "ERROR[" in line]
        assert errors == []
    finally:
        await sandbox.stop()
