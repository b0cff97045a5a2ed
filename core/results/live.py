"""What a live view of a run draws, read from the store and cut down to what a screen shows."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.store.run_store import Run, RunStore

MAX_POINTS = 400  # per curve: more is invisible on a chart a few hundred pixels wide
STEP_SERIES = ("loss", "loss_smooth")
EPOCH_SERIES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


@dataclass
class LiveView:
    run: Run
    fraction: float  # 0..1 of all steps
    caption: str  # "epoch 2/5 · step 40/145 · 12,000 samples/s · ETA 3 s"
    steps: dict[str, tuple[list, list]] = field(default_factory=dict)  # name -> (step, value)
    epochs: dict[str, tuple[list, list]] = field(default_factory=dict)  # name -> (epoch, value)
    latest: dict[str, float] = field(default_factory=dict)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def progress_caption(run: Run) -> tuple[float, str]:
    p = run.progress
    total = p.get("total_steps") or 0
    fraction = min(1.0, p.get("step", 0) / total) if total else 0.0
    if run.status == "completed":
        fraction = 1.0
    if not p.get("epochs"):
        return fraction, "starting: loading data and the model…" if run.active else run.status
    parts = [f"epoch {p['epoch']}/{p['epochs']}", f"step {p['step']:,}/{total:,}",
             f"{p.get('samples_per_s', 0):,.0f} samples/s"]
    if run.active:
        parts.append(f"ETA {format_seconds(p.get('eta_s'))}")
    return fraction, " · ".join(parts)


def live_view(store: RunStore, run_id: str, max_points: int = MAX_POINTS) -> LiveView | None:
    run = store.get(run_id)
    if run is None:
        return None
    series = store.metrics(run_id, STEP_SERIES + EPOCH_SERIES, max_points=max_points)
    fraction, caption = progress_caption(run)
    view = LiveView(run=run, fraction=fraction, caption=caption)
    for name in STEP_SERIES:
        if name in series:
            view.steps[name] = (series[name]["step"], series[name]["value"])
    for name in EPOCH_SERIES:
        if name in series:
            view.epochs[name] = (series[name]["epoch"], series[name]["value"])
    view.latest = {name: values[1][-1] for name, values in {**view.steps, **view.epochs}.items() if values[1]}
    return view
