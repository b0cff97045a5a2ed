"""Seeds as noise: runs of one config with several seeds as a mean curve and a band, and whether two configs
differ by more than their seeds do."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from core.results.compare import LEGEND_IGNORES, with_defaults
from core.store.run_store import Run

NOT_CONFIG = ("seed", *LEGEND_IGNORES)  # what may differ between runs of "the same config"
WITHIN, LARGER, UNKNOWN = "within seed noise", "larger than seed noise", "unknown"


def config_key(config: dict) -> str:
    """The same text for configs that differ only in their seed (or in where the data lives)."""
    return json.dumps({k: v for k, v in with_defaults(config).items() if k not in NOT_CONFIG}, sort_keys=True)


def seed_groups(runs: list[Run]) -> list[list[Run]]:
    """Runs grouped by config apart from the seed, in the order each config first appears."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(config_key(run.config), []).append(run)
    return list(groups.values())


def seed_band(curves: list[tuple[list, list]]) -> dict[str, list]:
    """Mean and min-max of several seeds' curves (x, y), point by point at the x values they share.

    Returns x, mean, low, high and n (how many curves had that x): a run still training has a
    shorter curve, so the band's end is drawn from the runs that got there.
    """
    values: dict[float, list[float]] = {}
    for x, y in curves:
        for xi, yi in zip(x, y):
            values.setdefault(round(float(xi), 9), []).append(float(yi))
    xs = sorted(values)
    return {"x": xs, "mean": [float(np.mean(values[x])) for x in xs], "low": [min(values[x]) for x in xs],
            "high": [max(values[x]) for x in xs], "n": [len(values[x]) for x in xs]}


@dataclass(frozen=True)
class NoiseVerdict:
    difference: float  # |mean(b) - mean(a)|, in accuracy (0..1)
    spread: float  # the larger of the two configs' seed ranges (max - min), in accuracy
    verdict: str  # WITHIN, LARGER or UNKNOWN
    sentence: str  # the plain-words statement a page shows


def noise_verdict(a: list[float], b: list[float], names: tuple[str, str] = ("A", "B")) -> NoiseVerdict:
    """Whether two configs' validation accuracies (one value per seed each) differ by more than their seeds do.

    The seed noise is the larger spread (max - min) between seeds of one config; the difference is
    that of the two means. With one seed each there is no noise to compare with, so it is unknown.
    """
    if not a or not b:
        raise ValueError("compare two configs that each have at least one finished run with a validation accuracy")
    difference = abs(float(np.mean(b)) - float(np.mean(a)))
    spread = max(max(a) - min(a), max(b) - min(b))
    better = names[1] if np.mean(b) > np.mean(a) else names[0]
    gap = f"{names[0]} and {names[1]} differ by {difference:.1%} in mean validation accuracy"
    if len(a) < 2 and len(b) < 2:
        return NoiseVerdict(difference, spread, UNKNOWN, f"{gap}, but with one seed each the noise between "
                            "seeds is unknown: train each config with two or more seeds to tell.")
    seeds = f"seeds of one config differ by up to {spread:.1%}"
    if difference > spread:
        return NoiseVerdict(difference, spread, LARGER, f"{gap}; {seeds}. The difference is {LARGER}: "
                            f"{better} is better.")
    return NoiseVerdict(difference, spread, WITHIN, f"{gap}; {seeds}. The difference is {WITHIN}: these runs "
                        "cannot tell the two configs apart.")
