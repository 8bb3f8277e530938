"""Hold and retrieve from a widget against the real Asterisk 22 sandbox, and the bridge's share.

    python -m bench.actions_asterisk [--rounds N]     # prints JSON; used by bench/actions.py

Runs in a private network namespace (``unshare --net``, loopback only, as the test suite does), so
the lab's fixed ports (AMI 5038, SIP 5060) never meet another Asterisk on this machine. Inside:
the sandbox with the lab configuration (``tools/local_services.lab_settings``: DNs 5001-5004),
sipp as the Genesys SIP Server calling DN 5003 and as its phone answering, the service in its own
process (``latency_bridge.py``, AMI only: no GWS, so the plan moves the channels with AMI), and a
widget client that holds and retrieves the call ``rounds`` times.

Per action: the widget's round trip, the executor's ``latency_ms``, and Asterisk's share, read
from the bridge's own event log: from the AMI action written (``ami``/``out``) to the last
confirming event read (hold: ``MusicOnHoldStart`` on the trunk leg and ``Newexten`` of the agent
leg into ``ctibridge-hold``; retrieve: ``BridgeEnter`` of both legs). The bridge's share is the
executor's latency minus Asterisk's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.latency import AmiTarget, bridge_process
from bench.widget_agent import Result, hold_and_retrieve
from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root, is_built
from ctibridge.sim.sipp import Sipp
from tools.local_services import LAB_AMI_SECRET, lab_settings

ROOT = Path(__file__).resolve().parents[1]  # python -m bench.actions_asterisk runs from here
DN = "5003"  # the lab DN with a sipp phone


def available() -> str:
    """Why the real-Asterisk measurement cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    if not is_built(default_root()):
        return f"no Asterisk sandbox at {default_root()} (scripts/install-asterisk-sandbox.sh)"
    if shutil.which("sipp") is None or shutil.which("unshare") is None:
        return "sipp or unshare missing"
    return ""


def measure(rounds: int, timeout_s: float = 180.0) -> dict[str, Any]:
    """Run this file in a fresh network namespace; its JSON result."""
    script = f"ip link set lo up && exec {sys.executable} -m bench.actions_asterisk --child --rounds {rounds}"
    done = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                          timeout=timeout_s, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"real-Asterisk actions failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _matches(msg: dict[str, Any], **fields: str) -> bool:
    return all(msg.get(k) == v for k, v in fields.items())


def asterisk_shares(records: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(action, ms from the AMI action sent to its last confirming event) per Redirect/Bridge."""
    out = []
    for i, rec in enumerate(records):
        msg = rec["msg"]
        if rec["src"] != "ami" or rec["dir"] != "out" or msg.get("Action") not in ("Redirect", "Bridge"):
            continue
        if msg["Action"] == "Redirect":
            wanted = [{"Event": "MusicOnHoldStart", "Channel": msg["Channel"]},
                      {"Event": "Newexten", "Channel": msg["ExtraChannel"], "Context": msg["ExtraContext"]}]
        else:
            wanted = [{"Event": "BridgeEnter", "Channel": msg["Channel1"]},
                      {"Event": "BridgeEnter", "Channel": msg["Channel2"]}]
        seen = []
        for later in records[i + 1:]:
            if later["src"] == "ami" and later["dir"] == "in":
                for want in wanted:
                    if want not in seen and _matches(later["msg"], **want):
                        seen.append(want)
                        if len(seen) == len(wanted):
                            break
            if len(seen) == len(wanted):
                out.append(("hold" if msg["Action"] == "Redirect" else "retrieve",
                            (later["t"] - rec["t"]) * 1000))
                break
    return out


async def child(rounds: int) -> dict[str, Any]:
    settings = lab_settings()
    with tempfile.TemporaryDirectory(prefix="ctibridge-bench-asterisk-") as tmp:
        work = Path(tmp)
        sandbox = AsteriskSandbox(default_root(), work / "asterisk")
        await sandbox.start(render(settings))
        sipp = Sipp(work / "sipp", phones={dn: settings.phone_address(dn) for dn in settings.phone_dns},
                    passwords={dn: settings.password(dn) for dn in settings.phone_dns})
        log = work / "events.jsonl"
        results: list[Result] = []
        try:
            async with bridge_process(4, ami=AmiTarget(5038, "ctibridge", LAB_AMI_SECRET), first_dn=5001,
                                      event_log=str(log)) as run:
                await sipp.phone_answer(DN, pause_ms=200)
                uuid = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))
                await sipp.genesys_call(DN, uuid, flow="until_bye")
                async with asyncio.timeout(120):
                    await hold_and_retrieve(run.ws_url, DN, rounds, results)
        finally:
            sandbox.cli("channel request hangup all")
            await sipp.close(grace_s=1.0)
            await sandbox.stop()
        return {"results": results, "asterisk": asterisk_shares(_records(log))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help="(inside the namespace)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.rounds))))
    else:
        reason = available()
        print(json.dumps(measure(args.rounds) if not reason else {"skipped": reason}))


if __name__ == "__main__":
    main()
