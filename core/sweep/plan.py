"""What a sweep trains: config fields and the values to try, as a grid or as random samples, times seeds.

Values are written as a person types them: ``0.001,0.003`` (alternatives, comma-separated),
``128-64`` (one value of a list field such as ``hidden``: layer sizes joined by ``-``), and
``0.0001:0.01`` (a range to draw from, random sweeps only; ``lr`` and ``weight_decay`` are drawn
log-uniformly, ``batch_size`` log-uniformly rounded to a whole number, other numbers uniformly).
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field, fields

from core.config import TrainConfig
from core.devices import cpu_count
from core.results.compare import LEGEND_IGNORES, differing_fields, legend_label

MAX_RUNS = 200  # more is a night's work on a laptop: narrow the values or draw random samples
LOG_FIELDS = ("lr", "weight_decay", "batch_size")  # ranges drawn log-uniformly: each decade is as likely
NOT_SWEPT = ("seed", "data_dir")  # seeds have their own list; a folder is not a hyperparameter
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
DEFAULTS = TrainConfig()


@dataclass(frozen=True)
class SweepSpec:
    """A sweep as asked for; ``expand`` turns it into configs. JSON-able through ``to_dict``/``from_dict``."""

    values: dict = field(default_factory=dict)  # field -> list of values (a grid's axes, or choices to draw from)
    ranges: dict = field(default_factory=dict)  # field -> [low, high], random sweeps only
    seeds: tuple = (0,)
    samples: int = 0  # 0: every combination (grid); N: N random draws
    sample_seed: int = 0  # the draws' own seed, so a random sweep can be made again
    base: dict = field(default_factory=dict)  # every other field (the Train form's settings, or defaults)

    def to_dict(self) -> dict:
        return {"values": {k: [_plain(v) for v in vs] for k, vs in self.values.items()},
                "ranges": {k: list(v) for k, v in self.ranges.items()}, "seeds": list(self.seeds),
                "samples": self.samples, "sample_seed": self.sample_seed, "base": dict(self.base)}

    @classmethod
    def from_dict(cls, values: dict) -> "SweepSpec":
        return cls(values=dict(values.get("values", {})), ranges=dict(values.get("ranges", {})),
                   seeds=tuple(values.get("seeds", (0,))), samples=int(values.get("samples", 0)),
                   sample_seed=int(values.get("sample_seed", 0)), base=dict(values.get("base", {})))

    @property
    def mode(self) -> str:
        return "random" if self.samples else "grid"


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def sweepable_fields() -> list[str]:
    return [f.name for f in fields(TrainConfig) if f.name not in NOT_SWEPT]


def parse_value(name: str, text: str):
    """One value of field ``name`` from text, typed like the field's default; ValueError says what is wrong."""
    if name not in sweepable_fields():
        raise ValueError(f"{name} cannot be swept; fields that can: {', '.join(sweepable_fields())}")
    default, text = getattr(DEFAULTS, name), text.strip()
    try:
        if isinstance(default, bool):
            if text.lower() not in TRUE + FALSE:
                raise ValueError
            return text.lower() in TRUE
        if isinstance(default, tuple):
            return tuple(int(part) for part in text.split("-"))
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = ("true or false" if isinstance(default, bool) else "whole numbers joined by '-', e.g. 128-64"
                if isinstance(default, tuple) else "a whole number" if isinstance(default, int) else "a number")
        raise ValueError(f"{name}: {text!r} is not {kind}") from None
    return text


def parse_field(name: str, text: str) -> tuple[str, list | tuple]:
    """``("values", [...])`` from ``a,b,c``, or ``("range", (low, high))`` from ``low:high``."""
    text = str(text).strip()
    if not text:
        raise ValueError(f"{name}: give at least one value, e.g. {_example(name)}")
    if ":" in text:
        default = getattr(DEFAULTS, name, None)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise ValueError(f"{name}: a range (low:high) needs a numeric field; list the choices instead, "
                             f"e.g. {_example(name)}")
        low, _, high = text.partition(":")
        low, high = parse_value(name, low), parse_value(name, high)
        if not low < high:
            raise ValueError(f"{name}: a range's low end must be below its high end, got {text!r}")
        return "range", (low, high)
    values = [parse_value(name, part) for part in text.split(",") if part.strip()]
    return "values", list(dict.fromkeys(values))  # a value given twice is tried once


def _example(name: str) -> str:
    return {"lr": "0.001,0.003 or 0.0001:0.01", "hidden": "50,100,128-64", "optimizer": "adam,sgd-momentum",
            "batch_size": "64,128,256"}.get(name, str(_plain(getattr(DEFAULTS, name, ""))))


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(dict.fromkeys(int(part) for part in str(text).split(",") if part.strip()))
    except ValueError:
        raise ValueError(f"seeds must be whole numbers separated by commas, e.g. 0,1,2; got {text!r}") from None
    if not seeds:
        raise ValueError("give at least one seed, e.g. 0 (or 0,1,2 to see the noise between seeds)")
    return seeds


def spec_from_text(fields_text: dict[str, str], seeds: str = "0", samples: int = 0, sample_seed: int = 0,
                   base: dict | None = None) -> SweepSpec:
    """A spec from typed text per field (the CLI's flags, the Sweeps page's boxes)."""
    values, ranges = {}, {}
    for name, text in fields_text.items():
        kind, parsed = parse_field(name, text)
        (ranges if kind == "range" else values)[name] = parsed
    if ranges and not samples:
        raise ValueError(f"{', '.join(ranges)}: a range (low:high) is drawn from, so it needs random samples "
                         "(--random N, or 'Random samples' on the page); list values to try them all as a grid")
    if samples < 0:
        raise ValueError(f"random samples must be 1 or more (0 = a grid), got {samples}")
    return SweepSpec(values=values, ranges=ranges, seeds=parse_seeds(seeds), samples=samples,
                     sample_seed=sample_seed, base={k: _plain(v) for k, v in (base or {}).items()
                                                    if k not in values and k not in ranges and k != "seed"})


def run_count(spec: SweepSpec) -> int:
    combos = spec.samples if spec.samples else math.prod(len(v) for v in spec.values.values())
    return combos * len(spec.seeds)


def _draw(rng: random.Random, name: str, low, high):
    if name in LOG_FIELDS:
        if low <= 0:
            raise ValueError(f"{name} is drawn log-uniformly, so its range must start above 0; got {low}")
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if isinstance(getattr(DEFAULTS, name), int):
        return min(high, max(low, int(round(value))))
    return float(f"{value:.3g}")  # 3 significant digits: a value a person can read and type again


def combinations(spec: SweepSpec) -> list[dict]:
    """The field values of each config, before seeds: the grid's product, or ``samples`` random draws."""
    order = [name for name in sweepable_fields() if name in spec.values or name in spec.ranges]
    if not spec.samples:
        axes = [spec.values[name] for name in order]
        return [dict(zip(order, combo)) for combo in itertools.product(*axes)]
    rng = random.Random(spec.sample_seed)
    return [{name: rng.choice(spec.values[name]) if name in spec.values else _draw(rng, name, *spec.ranges[name])
             for name in order} for _ in range(spec.samples)]


def expand(spec: SweepSpec) -> list[tuple[str, TrainConfig]]:
    """(label, validated config) for every run of the sweep; seeds vary fastest, so a config's seeds sit together.

    The label names what sets a run apart from the others (``lr=0.003, seed=1``).
    """
    count = run_count(spec)
    if count > MAX_RUNS:
        raise ValueError(f"that sweep is {count} runs, more than the {MAX_RUNS} one sweep may hold: try fewer "
                         "values, or random samples (--random N) instead of every combination")
    if count == 0:
        raise ValueError("that sweep is 0 runs: give every field at least one value")
    configs = []
    for combo in combinations(spec):
        for seed in spec.seeds:
            try:
                configs.append(TrainConfig.from_dict({**spec.base, **combo, "seed": seed}).validate())
            except ValueError as exc:
                shown = ", ".join(f"{k}={_plain(v)}" for k, v in combo.items())
                raise ValueError(f"{exc} (in the config {shown})") from None
    dicts = [config.to_dict() for config in configs]
    varying = differing_fields(dicts, ignore=LEGEND_IGNORES)
    return [(legend_label(d, varying) or "the only config", config) for d, config in zip(dicts, configs)]


def default_jobs(configs: list[TrainConfig]) -> int:
    """Runs to train at once: the cores divided by the threads a run takes (auto counts as 1, as it then picks)."""
    threads = max((config.threads or 1 for config in configs), default=1)
    return max(1, cpu_count() // threads)
