"""`ctibridge demo --asterisk real`: the real Asterisk 22 sandbox, sipp as Genesys and the phones,
the GWS simulator mirroring SIP Server; the widget protocol shows the calls correlated."""

from __future__ import annotations

import pytest

from ctibridge.gateway.sandbox import default_root, is_built

from .demo_process import first_correlated_call, running_demo

pytestmark = pytest.mark.asterisk


async def test_real_gateway_calls_reach_the_widget_correlated() -> None:
    if not is_built(default_root()):
        pytest.fail(
            f"no Asterisk sandbox at {default_root()}: run scripts/install-asterisk-sandbox.sh", pytrace=False
        )
    with running_demo("--asterisk", "real", "--duration", "60") as demo:
        call = await first_correlated_call(demo, "5003", within_s=20.0)
    assert call["asterisk"]["channels"] and call["genesys"]["state"] in ("Established", "Held")
    assert call["call_uuid"]  # X-Genesys-CallUUID of the sipp INVITE, through the dialplan's CALLUUID
