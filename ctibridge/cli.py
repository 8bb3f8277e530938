"""`ctibridge` command line: one sub-command per job, each implemented in the room that owns it."""

from __future__ import annotations

import importlib
import sys

from ctibridge import __version__

# name -> (module, function, one-line help). Modules are imported only when their command runs,
# so `ctibridge token` does not pay for aiohttp, and a broken room cannot break the others.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("ctibridge.lab.demo", "main", "simulators + bridge + widget on 127.0.0.1 (no external system)"),
    "run": ("ctibridge.web.serve", "main", "run the bridge service: ctibridge run --config FILE"),
    "replay": ("ctibridge.logs.replay_command", "main", "replay event logs or raw AMI captures"),
    "record": ("ctibridge.logs.record", "main", "record a live AMI (and GWS) session as an event log"),
    "token": ("ctibridge.identity.hmac_token", "main", "mint an agent token: --agent A --dn 5001"),
    "check-config": ("ctibridge.config", "main", "validate a configuration file and the environment"),
    "asterisk-config": ("ctibridge.gateway.generator", "main", "write the Asterisk gateway configuration"),
    "wwe-options": ("ctibridge.gateway.wwe_options", "main", "print the WWE options hosting the widget"),
    "asterisk-sandbox": ("ctibridge.gateway.sandbox", "main", "build/start/stop the Asterisk 22 sandbox"),
    "schema": ("ctibridge.hub.protocol", "main", "print the JSON Schema of the widget protocol"),
}


def usage() -> str:
    lines = ["usage: ctibridge COMMAND [ARGS...]      (ctibridge COMMAND --help for its options)",
             "       ctibridge --version", "", "commands:"]
    lines += [f"  {name:<16} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version", "version"):
        print(f"ctibridge {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"ctibridge: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    result = getattr(importlib.import_module(module), func)(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
