"""Draws the load run's curve from ``bench/load_asterisk.py --json`` output.

    python bench/load_plot.py FIGURES.json docs/load-asterisk.png      # needs '.[bench]' (matplotlib)

Left: CPU of the bridge and of Asterisk (% of one core) and the machine's (% of both cores) against
the concurrent calls; right: the event -> widget latency (p50, p99) and the share of calls the
bridge got complete (joined, rang, removed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def draw(figures: list[dict[str, float]], out: Path) -> None:
    calls = [f["calls"] + f["browsers"] for f in figures]
    fig, (cpu, latency) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for key, label in (("bridge_cpu", "bridge"), ("asterisk_cpu", "Asterisk"), ("harness_cpu", "harness"),
                       ("machine_cpu", "machine (of 200 %)")):
        scale = 2 if key == "machine_cpu" else 1  # the machine's share of both cores, in core-%
        cpu.plot(calls, [f[key] * scale for f in figures], marker="o", label=label)
    cpu.set(xlabel="concurrent calls (SIP phones + browsers)", ylabel="CPU, % of one core",
            title="CPU while every call is up")
    cpu.axhline(200, color="grey", linestyle=":", linewidth=1)
    cpu.legend()
    latency.plot(calls, [f["latency_p50_ms"] for f in figures], marker="o", label="event -> widget p50")
    latency.plot(calls, [f["latency_p99_ms"] for f in figures], marker="o", label="p99")
    latency.set(xlabel="concurrent calls", ylabel="ms", yscale="log", title="Latency and completeness")
    complete = latency.twinx()
    total = [f["calls"] + f["browsers"] for f in figures]
    complete.plot(calls, [100 * min(f["joined"], f["rang"], f["removed"]) / t for f, t in zip(figures, total,
                                                                                             strict=True)],
                  color="black", linestyle="--", marker="s", label="complete calls %")
    complete.set(ylabel="calls complete, %", ylim=(0, 105))
    lines = latency.get_legend_handles_labels()
    more = complete.get_legend_handles_labels()
    latency.legend(lines[0] + more[0], lines[1] + more[1], loc="center left")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
