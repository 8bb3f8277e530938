"""Test-session setup shared by every test.

Every test runs inside a private network namespace (when the runner is root, as in CI): only
loopback exists there, so nothing a test starts can reach or be reached from another host. The
namespace also holds one NO-CARRIER veth end with 198.51.100.1: Asterisk enumerates it and its
rtp.conf maps it to 127.0.0.1 as an ICE host candidate (Asterisk never offers 127/8 itself), while
Chromium ignores the interface (see docs/testing.md).
"""

from __future__ import annotations

import ctypes
import os
import subprocess

from hypothesis import HealthCheck, settings

# Two cores shared with Asterisk, Chromium and servers: time limits would make property tests flaky.
settings.register_profile("ctibridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ctibridge")

pytest_plugins = ["fixtures_asterisk", "fixtures_services", "fixtures_identity"]

CLONE_NEWNET = 0x40000000
ICE_HELPER_ADDRESS = "198.51.100.1"


def _enter_private_network_namespace() -> None:
    if os.environ.get("CTIBRIDGE_NO_NETNS") or os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "link", "add", "vlab0", "type", "veth", "peer", "name", "vlab1"],
        ["ip", "addr", "add", f"{ICE_HELPER_ADDRESS}/32", "dev", "vlab0"],
        ["ip", "link", "set", "vlab0", "up"],
    ):
        subprocess.run(cmd, check=True, capture_output=True)
    os.environ["CTIBRIDGE_NETNS"] = "1"


def pytest_configure(config: object) -> None:
    _enter_private_network_namespace()
