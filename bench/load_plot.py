"""Draws the load run's curve from ``bench/load_asterisk.py --json`` output.

    python bench/load_plot.py FIGURES.json docs/load-asterisk.png      # needs '.[bench]' (matplotlib)

Left: CPU of the bridge and of Asterisk (% of one core) and the machine's (% of both cores) against
the concurrent calls while every call is up; middle: CPU seconds by program over the step's ramp
and window (every process the run started); right: the event -> widget latency (p50, p99), the
share of calls the SIP side saw answered, and the share the bridge showed as the SIP side says.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def draw(figures: list[dict[str, Any]], out: Path) -> None:
    calls = [f["calls"] + f["browsers"] for f in figures]
    fig, (cpu, share, latency) = plt.subplots(1, 3, figsize=(15, 4.5), dpi=100)
    for key, label in (("bridge_cpu", "bridge"), ("asterisk_cpu", "Asterisk"), ("harness_cpu", "harness"),
                       ("machine_cpu", "machine, all cores")):
        scale = 2 if key == "machine_cpu" else 1  # the machine's share of both cores, in core-%
        cpu.plot(calls, [f[key] * scale for f in figures], marker="o", label=label)
    cpu.set(xlabel="concurrent calls (SIP phones + browsers)", ylabel="CPU, % of one core",
            title="CPU while every call is up")
    cpu.axhline(200, color="grey", linestyle=":", linewidth=1)
    cpu.legend()
    programs = sorted({name for f in figures for name in f["cpu_s"]})
    bottom = [0.0] * len(figures)
    for name in programs:
        seconds = [f["cpu_s"].get(name, 0.0) for f in figures]
        share.bar([str(c) for c in calls], seconds, bottom=bottom, label=name)
        bottom = [b + s for b, s in zip(bottom, seconds, strict=True)]
    share.set(xlabel="concurrent calls", ylabel="CPU seconds", title="Who used the CPU (ramp + window)")
    share.legend(fontsize="small")
    latency.plot(calls, [f["latency_p50_ms"] for f in figures], marker="o", label="event -> widget p50")
    latency.plot(calls, [f["latency_p99_ms"] for f in figures], marker="o", label="p99")
    latency.set(xlabel="concurrent calls", ylabel="ms", yscale="log", title="Latency and completeness")
    complete = latency.twinx()
    for key, label, style in (("answered", "answered (SIP) %", ":"), ("right", "bridge right %", "--")):
        complete.plot(calls, [100 * f[key] / (f["calls"] + f["browsers"]) for f in figures], color="black",
                      linestyle=style, marker="s", label=label)
    complete.set(ylabel="calls complete, %", ylim=(0, 105))
    lines = latency.get_legend_handles_labels()
    more = complete.get_legend_handles_labels()
    latency.legend(lines[0] + more[0], lines[1] + more[1], loc="center left")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
