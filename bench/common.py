"""What every benchmark shares: a result row, its statistics and target, and the table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    op: str  # ">=" (a rate) or "<=" (a time, a size)
    value: float
    text: str = ""

    def met(self, median: float) -> bool:
        return median >= self.value if self.op == ">=" else median <= self.value

    def miss_by(self, median: float) -> str:
        if self.met(median):
            return "met"
        if self.op == ">=":
            return f"miss x{self.value / median:.2f}" if median > 0 else "miss"
        return f"miss x{median / self.value:.2f}"

    def __str__(self) -> str:
        return self.text or f"{self.op} {_num(self.value)}"


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    figure: str
    unit: str
    samples: tuple[float, ...]
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> str:
        if len(self.samples) < 2:
            return "-"
        if len(self.samples) >= 8:  # enough for quartiles to mean something
            q = statistics.quantiles(self.samples, n=4)
            return f"IQR {_num(q[0])}-{_num(q[2])}"
        return f"{_num(min(self.samples))}-{_num(max(self.samples))}"

    @property
    def verdict(self) -> str:
        return self.target.miss_by(self.median) if self.target is not None else "-"


def row(name: str, figure: str, unit: str, samples: Sequence[float], target: Target | None = None,
        note: str = "") -> Row:
    return Row(name, figure, unit, tuple(samples), target, note)


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.1:
        return f"{x:.2f}"
    return f"{x:.3g}"


COLUMNS = ("benchmark", "figure", "unit", "median", "spread", "n", "target", "met?")


def table(rows: Sequence[Row], markdown: bool = False) -> str:
    cells = [COLUMNS] + [(r.name, r.figure, r.unit, _num(r.median), r.spread, str(len(r.samples)),
                          str(r.target or "-"), r.verdict) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "---|" * len(COLUMNS))
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip() for c in cells)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """(seconds, count) of one call of ``fn``, which returns how many things it did."""
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]
