"""Run every benchmark and print one table.

    python -m bench.run [--quick] [--only NAME ...] [--markdown]

``--quick`` runs each benchmark on a small load once (seconds; what the test suite checks), so its
figures are not meaningful. Figures are medians over repeated runs with their spread; ratios are
measured side by side in the same run, because absolute times drift on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import signal
import sys
import time
from pathlib import Path

from bench.common import Row, table

BENCHMARKS = ("throughput", "latency", "capacity", "actions", "identity", "one_dn", "timeline")


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
            f"({cpu}), {platform.system()} {platform.release()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny loads, one run each (smoke test)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers a benchmark started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows: list[Row] = []
    failed = []
    started = time.monotonic()
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        t0 = time.monotonic()
        try:
            got = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        rows += got
        print(f"# {name}: {len(got)} rows in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    print(f"# {machine()}; {'quick' if args.quick else 'full'} run, "
          f"{time.monotonic() - started:.0f}s, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(table(rows, markdown=args.markdown))
    for row in rows:
        if row.note:
            print(f"# {row.name}: {row.note}")
    for line in failed:
        print(f"# FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
