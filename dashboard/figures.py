"""Plotly figures shared by pages, as plain dicts.

A dict spec skips plotly's per-property validation when it is built (~10 ms per figure
here), which matters for charts redrawn on every live refresh; st.plotly_chart accepts it.
"""
from __future__ import annotations

COLORS = {"loss": "rgba(238,76,44,0.35)", "loss_smooth": "#EE4C2C", "train": "#1F77B4", "val": "#2CA02C"}


def _figure(traces: list[dict], title: str, x_title: str, y_title: str, height: int = 320, **layout) -> dict:
    # An empty data list makes plotly's dict-to-figure conversion raise; an empty trace draws axes.
    traces = traces or [{"type": "scatter", "x": [], "y": [], "showlegend": False}]
    return {"data": traces, "layout": {
        "title": {"text": title}, "height": height, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"title": {"text": x_title}}, "yaxis": {"title": {"text": y_title}, **layout.pop("yaxis", {})},
        "legend": {"orientation": "h", "y": -0.25}, "uirevision": "keep", **layout}}


def loss_figure(steps: dict[str, tuple[list, list]]) -> dict:
    """Training loss per logged step: the raw window means and their moving average."""
    traces = [{"type": "scatter", "mode": "lines", "x": steps[name][0], "y": steps[name][1], "name": label,
               "line": {"color": COLORS[name]}}
              for name, label in (("loss", "loss"), ("loss_smooth", "smoothed")) if name in steps]
    return _figure(traces, "Training loss", "step", "cross-entropy")


def accuracy_figure(epochs: dict[str, tuple[list, list]]) -> dict:
    traces = [{"type": "scatter", "mode": "lines+markers", "x": epochs[name][0], "y": epochs[name][1], "name": label,
               "line": {"color": color}}
              for name, label, color in (("train_accuracy", "train", COLORS["train"]),
                                         ("val_accuracy", "validation", COLORS["val"])) if name in epochs]
    return _figure(traces, "Accuracy per epoch", "epoch", "accuracy", yaxis={"tickformat": ".0%"})


def overlay_figure(curves: dict, labels: dict, colors: dict, title: str, per_epoch: bool) -> dict:
    """One line per run (run id -> (x, y)), coloured the same on every chart of a comparison."""
    traces = [{"type": "scatter", "mode": "lines+markers" if per_epoch else "lines", "x": x, "y": y,
               "name": labels[run_id], "line": {"color": colors[run_id]}} for run_id, (x, y) in curves.items()]
    return _figure(traces, title, "epoch" if per_epoch else "step", "accuracy" if per_epoch else "loss",
                   height=340, yaxis={"tickformat": ".0%"} if per_epoch else {})
