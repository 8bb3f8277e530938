"""``ctibridge replay FILE...``: prints the unified-state timeline (or ``--json`` deltas), and
optionally a summary and the calls' HTML ladders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.logs.eventlog import merge, read_records
from ctibridge.logs.replay import print_timeline, replay
from ctibridge.logs.replay_tools import (
    paced,
    parse_speed,
    print_summary,
    select_deltas,
    summarize,
    with_progress,
)
from ctibridge.logs.timeline import render_timeline


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ctibridge replay", description="replay event logs or raw AMI captures through the core")
    parser.add_argument("files", nargs="+", type=Path, help="event logs (.jsonl) or raw AMI captures")
    parser.add_argument("--json", action="store_true", help="print deltas as JSON lines")
    parser.add_argument("--dn", action="append", help="show only these DNs")
    parser.add_argument("--call", action="append", help="show only these call ids")
    parser.add_argument("--speed", type=parse_speed, default=None,
                        help="10 = ten times real time; max (default)")
    parser.add_argument("--summary", action="store_true", help="print calls, scenarios, divergences, errors")
    parser.add_argument("--timeline", type=Path, help="write the calls' HTML ladders to this file")
    parser.add_argument("--trunk", action="append", help="trunk endpoint names (default: genesys)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to let pass at the end")
    args = parser.parse_args(argv)
    settings = CorrelatorSettings(trunk_endpoints=frozenset(args.trunk or ["genesys"]))
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        print(f"ctibridge replay: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    records = merge(read_records(f) for f in args.files)
    result = replay(paced(with_progress(records), args.speed), Correlator(settings), args.settle)
    shown = select_deltas(result.deltas, dns=args.dn, calls=args.call)
    print_timeline(result, shown, sys.stdout, as_json=args.json)
    if args.timeline:
        args.timeline.write_text(render_timeline(records, shown), encoding="utf-8")
    if args.summary:
        print_summary(summarize(result, shown), sys.stdout)
    return 0
