"""Profile the throughput benchmark's hot paths with pyinstrument and print the top frames.

    python -m bench.profile_hotpath [--messages N] [--path core|service|both]

``core``: framer + parse + correlate + encode over the tiled captures (500 live calls).
``service``: the service's ``Pipeline`` with a ``MemoryStore`` on the same load.
(The bridge under the latency load: ``latency_bridge.py --profile FILE``.)
"""

from __future__ import annotations

import argparse
import sys

from pyinstrument import Profiler

from bench.throughput import build, core_pipeline, service_rate


def profile(label: str, fn: object) -> str:
    profiler = Profiler(interval=0.0005)
    with profiler:
        fn()  # type: ignore[operator]
    return f"== {label}\n" + profiler.output_text(show_all=False, color=False, short_mode=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--path", choices=("core", "service", "both"), default="both")
    args = parser.parse_args()
    items, _ = build(args.messages)
    core_pipeline(items[: len(items) // 10])  # warm-up
    if args.path in ("core", "both"):
        print(profile(f"core path, {args.messages} messages", lambda: core_pipeline(items)))
    if args.path in ("service", "both"):
        print(profile("service Pipeline + MemoryStore, 2,500 messages after 1,500",
                      lambda: service_rate(items[:4_000], 1_500)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
