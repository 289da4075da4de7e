"""Medians, ranges and the markdown rows every benchmark prints."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

TABLE_HEADER = (
    "| Benchmark | dask-cluster-launcher | Baseline (same run) | Ratio | Runs |\n"
    "|---|---|---|---|---|"
)


def seconds(value: float) -> str:
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s"


@dataclass
class Sample:
    """Repeated measurements of one quantity, in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def describe(self) -> str:
        """``median (min-max)``, e.g. ``1.23 s (1.10-1.41 s)``."""
        if not self.values:
            return "n/a"
        lo, hi = min(self.values), max(self.values)
        return f"**{seconds(self.median)}** ({seconds(lo)} - {seconds(hi)})"


@dataclass
class Row:
    """One line of the performance table: this project vs a baseline, ratio of the medians."""

    name: str
    ours: Sample
    baseline: Sample | None
    baseline_name: str
    note: str = ""
    theoretical: str | None = None  # a baseline that is not measured (stated as text)
    theoretical_value: float | None = None  # its value for the ratio

    @property
    def ratio(self) -> float | None:
        if self.theoretical_value is not None and self.ours.values:
            return self.ours.median / self.theoretical_value
        if self.baseline is None or not self.baseline.values or not self.ours.values:
            return None
        if self.baseline.median == 0:
            return None
        return self.ours.median / self.baseline.median

    def markdown(self) -> str:
        if self.theoretical is not None:
            baseline = f"{self.baseline_name}: {self.theoretical}"
        else:
            baseline = (
                f"{self.baseline_name}: {self.baseline.describe() if self.baseline else 'n/a'}"
            )
        if self.ratio is None:
            ratio = "n/a"
        else:
            ratio = f"{self.ratio:.2f}x" if self.ratio >= 0.1 else f"{self.ratio:.2g}x"
        runs = str(len(self.ours.values))
        if self.baseline is not None and len(self.baseline.values) != len(self.ours.values):
            runs += f" / {len(self.baseline.values)}"
        return f"| {self.name} | {self.ours.describe()} | {baseline} | {ratio} | {runs} |"


BREAKDOWN_HEADER = (
    "| Run | request answered | scheduler up + workers/jobs requested | 1st worker joined "
    "| last worker joined | last join -> shown | total |\n|---|---|---|---|---|---|---|"
)
_PHASES = ("answered", "submitted", "first_join", "last_join", "shown", "total")


def phases(
    start: float,
    shown: float,
    joins: list[float],
    answered: float | None = None,
    submitted: float | None = None,
) -> dict[str, float | None]:
    """Seconds from ``start`` to each step of one launch (``None``: not measured)."""
    return {
        "answered": None if answered is None else answered - start,
        "submitted": None if submitted is None else submitted - start,
        "first_join": joins[0] - start if joins else None,
        "last_join": joins[-1] - start if joins else None,
        "shown": shown - joins[-1] if joins else None,
        "total": shown - start,
    }


def breakdown_line(name: str, runs: list[dict[str, float | None]]) -> str:
    """Medians of each step over the runs, as a row under BREAKDOWN_HEADER."""
    cells = []
    for key in _PHASES:
        values = [v for r in runs if (v := r.get(key)) is not None]
        cells.append(seconds(Sample(values).median) if values else "-")
    return f"| {name} | " + " | ".join(cells) + " |"


def paired_note(ours: list[float], baseline: list[float]) -> str:
    """How the alternating pairs compare (robust to the machine's load drifting)."""
    diffs = [a - b for a, b in zip(ours, baseline, strict=True)]
    if not diffs:
        return ""
    slower = sum(1 for d in diffs if d > 0)
    median = Sample(diffs).median
    sign = "+" if median >= 0 else "-"
    return (
        f"per alternating pair the launcher took {sign}{seconds(abs(median))} (median); "
        f"slower in {slower} of {len(diffs)} pairs"
    )
