"""Plotly figures shared by pages. Built from plain lists; no Streamlit here."""
from __future__ import annotations

import plotly.graph_objects as go

COLORS = {"loss": "rgba(238,76,44,0.35)", "loss_smooth": "#EE4C2C", "train": "#1F77B4", "val": "#2CA02C"}


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis_title=x_title, yaxis_title=y_title, legend=dict(orientation="h", y=-0.25),
                         uirevision="keep")  # keep the user's zoom across live refreshes
    return figure


def loss_figure(steps: dict[str, tuple[list, list]]) -> go.Figure:
    """Training loss per logged step: the raw window means and their moving average."""
    figure = go.Figure()
    for name, label in (("loss", "loss"), ("loss_smooth", "smoothed")):
        if name in steps:
            x, y = steps[name]
            figure.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines", line=dict(color=COLORS[name])))
    return _layout(figure, "Training loss", "step", "cross-entropy")


def accuracy_figure(epochs: dict[str, tuple[list, list]]) -> go.Figure:
    figure = go.Figure()
    for name, label, color in (("train_accuracy", "train", COLORS["train"]), ("val_accuracy", "validation", COLORS["val"])):
        if name in epochs:
            x, y = epochs[name]
            figure.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines+markers", line=dict(color=color)))
    figure.update_yaxes(tickformat=".0%")
    return _layout(figure, "Accuracy per epoch", "epoch", "accuracy")
