"""Every plotly figure the dashboard draws; pages pass in numbers and arrays and ``show`` what comes back.

Some figures are plain dict specs, others plotly Figure objects; st.plotly_chart takes either
and builds (and validates) a Figure from a dict itself, so the choice is about which reads better.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

COLORS = {"loss": "rgba(238,76,44,0.35)", "loss_smooth": "#EE4C2C", "train": "#1F77B4", "val": "#2CA02C"}


# Plotly's toolbar less the buttons the zoom tool already covers: on a phone-wide chart the full bar
# covers the chart's title.
TOOLBAR = {"displaylogo": False, "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d"]}


def show(figure, where=st, **options):
    """Draw a figure from here in ``where`` (a column or tab; the page by default): pages never touch plotly."""
    return where.plotly_chart(figure, config=TOOLBAR, **options)


def palette(keys, scheme: str = "Plotly") -> dict:
    """One colour per key from a plotly qualitative scheme, in order, starting over when it runs out."""
    colours = getattr(qualitative, scheme)
    return {key: colours[index % len(colours)] for index, key in enumerate(keys)}


# -- live training curves and run comparisons (dict specs) -------------------------------------


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


# -- Inspect: one run's test predictions ----------------------------------------------------------


def confusion_figure(matrix: np.ndarray, normalise: bool = False, selected: tuple[int, int] | None = None) -> go.Figure:
    """Heatmap, true class down and predicted across; every cell selectable (see below)."""
    counts = np.asarray(matrix)
    n_classes = len(counts)
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)  # row-normalised: recall on the diagonal
    text = [[("" if counts[true, pred] == 0 else f"{fractions[true, pred]:.0%}" if normalise
              else str(counts[true, pred])) for pred in range(n_classes)] for true in range(n_classes)]
    classes = list(range(n_classes))
    # Colour by the share of the true class, square-rooted so a 5 % confusion is visible next to
    # a 95 % diagonal; the numbers written in the cells are counts or shares.
    figure = go.Figure(go.Heatmap(z=np.sqrt(fractions), x=classes, y=classes, text=text, texttemplate="%{text}",
                                  colorscale="Blues", zmin=0, zmax=1, showscale=False, hoverinfo="skip"))
    # Plotly selects scatter points, not heatmap cells: an invisible square marker on every
    # cell makes each cell clickable, and carries the hover text.
    true_grid, pred_grid = np.meshgrid(classes, classes, indexing="ij")
    figure.add_trace(go.Scatter(
        x=pred_grid.ravel(), y=true_grid.ravel(), mode="markers", showlegend=False,
        marker=dict(symbol="square", size=28, color="rgba(0,0,0,0)"),
        customdata=np.stack([counts.ravel(), fractions.ravel()], axis=1),
        hovertemplate="true %{y} → predicted %{x}<br>%{customdata[0]} digits "
                      "(%{customdata[1]:.1%} of the %{y}s)<extra></extra>"))
    if selected is not None:
        true, pred = selected
        figure.add_shape(type="rect", x0=pred - 0.5, x1=pred + 0.5, y0=true - 0.5, y1=true + 0.5,
                         line=dict(color="#EE4C2C", width=3))
    last = n_classes - 0.5
    figure.update_layout(height=440, margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select",
                         xaxis=dict(title="predicted", dtick=1, side="top", range=[-0.5, last], fixedrange=True),
                         yaxis=dict(title="true", dtick=1, range=[last, -0.5], fixedrange=True))  # 0 at the top
    return figure


def probability_figure(probabilities: np.ndarray, top: int | None = None, label: int | None = None,
                       height: int = 260) -> go.Figure:
    """Horizontal bars of the ``top`` most probable classes (all by default); the true class (if given) in green."""
    order = np.argsort(-probabilities)[:top][::-1]  # highest at the top of the chart
    colors = ["#2CA02C" if digit == label else "#EE4C2C" if rank == len(order) - 1 else "#9DB4D0"
              for rank, digit in enumerate(order)]
    figure = go.Figure(go.Bar(x=probabilities[order], y=[f"{digit} " for digit in order], orientation="h",
                              marker_color=colors, text=[f"{probability:.1%}" for probability in probabilities[order]],
                              textposition="auto"))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title="probabilities",
                         xaxis=dict(range=[0, 1], tickformat=".0%"), yaxis=dict(type="category"))
    return figure


def learned_figure(epochs: list[int], learned_epoch: np.ndarray) -> go.Figure:
    """How many test digits were learned (and stayed learned) at each epoch."""
    counts = [int((learned_epoch == epoch).sum()) for epoch in epochs]
    figure = go.Figure(go.Bar(x=[str(epoch) for epoch in epochs], y=counts, marker_color="#1F77B4"))
    figure.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10), title="Digits learned for good, by epoch",
                         xaxis=dict(title="epoch", type="category"), yaxis_title="test digits")
    return figure


# -- Data: what a dataset holds -------------------------------------------------------------------


def class_counts_figure(counts: dict[str, list[int]], classes: list[str]) -> go.Figure:
    """Digits per class, one bar per split (split name -> count per class)."""
    table = pd.DataFrame([{"class": classes[index], "split": split, "digits": count}
                          for split, row in counts.items() for index, count in enumerate(row)])
    return px.bar(table, x="class", y="digits", color="split", barmode="group")


def pixel_values_figure(counts: list[int]) -> go.Figure:
    """How many pixels take each value 0..255, on a log axis so the rare grey values show."""
    return px.bar(pd.DataFrame({"value": range(len(counts)), "pixels": counts}), x="value", y="pixels", log_y=True)


# -- Learn PyTorch ---------------------------------------------------------------------------------


def trajectories_figure(grid: dict, paths: dict[str, np.ndarray], colours: dict, minima, start: tuple[float, float],
                        x_range: tuple[float, float], y_range: tuple[float, float]) -> go.Figure:
    """Each optimizer's points (n, 2) drawn over the contours of the loss surface, with its minima and the start."""
    figure = go.Figure(go.Contour(x=grid["x"], y=grid["y"], z=grid["z"], ncontours=30,
                                  colorscale="Greys", showscale=False, opacity=0.6, name=grid["title"]))
    for name, points in paths.items():
        figure.add_scatter(x=points[:, 0], y=points[:, 1], mode="lines+markers", name=name,
                           marker={"size": 3, "color": colours[name]}, line={"width": 2, "color": colours[name]})
    figure.add_scatter(x=[minimum[0] for minimum in minima], y=[minimum[1] for minimum in minima], mode="markers",
                       name="minimum", marker={"symbol": "star", "size": 14, "color": "gold", "line": {"width": 1}})
    figure.add_scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                       marker={"size": 10, "color": "#8C8C8C"})  # mid grey: seen on a light and a dark background
    figure.update_layout(height=520, margin={"t": 30}, xaxis_title="x", yaxis_title="y",
                         xaxis_range=x_range, yaxis_range=y_range)
    return figure


def optimizer_losses_figure(losses: dict[str, np.ndarray], colours: dict) -> go.Figure:
    """Loss per step for each optimizer; a log axis when every loss is positive."""
    figure = go.Figure()
    for name, values in losses.items():
        figure.add_scatter(y=values, mode="lines", name=name, line={"color": colours[name]})
    positive = all((values > 0).all() for values in losses.values())  # a log axis needs positive losses
    figure.update_layout(height=320, margin={"t": 30}, xaxis_title="step", yaxis_title="loss",
                         yaxis_type="log" if positive else "linear")
    return figure


def class_probabilities_figure(classes: list[str], probabilities: list[float]) -> go.Figure:
    """One bar per class: the model's probability for a single digit."""
    return px.bar(x=list(classes), y=probabilities, labels={"x": "digit", "y": "probability"}, height=260)


def numpy_torch_losses_figure(numpy_losses: list[float], torch_losses: list[float], loss_name: str) -> go.Figure:
    """The two implementations' loss per step on a log axis; a dashed PyTorch line over a wide NumPy one."""
    figure = go.Figure()
    figure.add_scatter(y=numpy_losses, mode="lines", name="NumPy", line={"width": 4})
    figure.add_scatter(y=torch_losses, mode="lines", name="PyTorch", line={"dash": "dash", "width": 2})
    figure.update_layout(height=320, margin={"t": 30}, xaxis_title="step", yaxis_title=f"{loss_name} loss",
                         yaxis_type="log")
    return figure


def coverage_figure(coverage: pd.DataFrame) -> go.Figure:
    """Per epoch and sampling: the fraction of the train split seen that epoch and so far (one column each)."""
    long_form = coverage.melt(id_vars=["sampling", "epoch"], var_name="measure",
                              value_name="fraction of the train split")
    return px.line(long_form, x="epoch", y="fraction of the train split", color="sampling", line_dash="measure",
                   markers=True, height=320)


def times_drawn_figure(counts: pd.DataFrame) -> go.Figure:
    """How often digits are drawn in one epoch with replacement, next to the Poisson(1) prediction."""
    figure = go.Figure([go.Bar(x=counts["times drawn"], y=counts["fraction of samples"], name="measured"),
                        go.Scatter(x=counts["times drawn"], y=counts["expected"], name="Poisson(1)", mode="markers")])
    figure.update_layout(height=320, margin={"t": 30}, xaxis_title="times a digit is drawn in one epoch "
                         "(with replacement)", yaxis_title="fraction of digits")
    return figure


def sampling_curve_figure(history: pd.DataFrame, measure: str) -> go.Figure:
    """One ``measure`` column of a training history per epoch, a line per sampling."""
    return px.line(history, x="epoch", y=measure, color="sampling", markers=True, height=300)


# -- sweeps, seeds and the speed-up ladder -----------------------------------------------------------

LOG_AXES = ("lr", "weight_decay")  # parameters spread over decades: drawn as log10 on their axis


def _rgba(color: str, alpha: float) -> str:
    """'#636EFA' -> 'rgba(99,110,250,alpha)', for a band's fill in its line's colour."""
    red, green, blue = (int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def band_figure(bands: dict, labels: dict, colors: dict, title: str, per_epoch: bool) -> dict:
    """Per config (key -> {x, mean, low, high}): its seeds' mean as a line, their min-max as a shaded band."""
    traces = []
    for key, band in bands.items():
        traces += [
            {"type": "scatter", "mode": "lines", "x": band["x"], "y": band["high"], "line": {"width": 0},
             "showlegend": False, "hoverinfo": "skip", "legendgroup": key},
            {"type": "scatter", "mode": "lines", "x": band["x"], "y": band["low"], "line": {"width": 0},
             "fill": "tonexty", "fillcolor": _rgba(colors[key], 0.2), "showlegend": False, "hoverinfo": "skip",
             "legendgroup": key},
            {"type": "scatter", "mode": "lines+markers" if per_epoch else "lines", "x": band["x"], "y": band["mean"],
             "name": labels[key], "line": {"color": colors[key]}, "legendgroup": key}]
    return _figure(traces, title, "epoch" if per_epoch else "step", "accuracy" if per_epoch else "loss",
                   height=340, yaxis={"tickformat": ".0%"} if per_epoch else {})


def _dimension(name: str, values: pd.Series) -> dict:
    """One parallel-coordinates axis: numbers as they are (log10 for LOG_AXES), text as numbered categories."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and values.map(lambda v: not isinstance(v, (str, bool))).all():
        if name in LOG_AXES and (numeric > 0).all():
            ticks = sorted(numeric.unique())
            return {"label": f"{name} (log)", "values": np.log10(numeric), "tickvals": np.log10(ticks),
                    "ticktext": [f"{tick:g}" for tick in ticks]}
        return {"label": name, "values": numeric}
    categories = sorted(values.astype(str).unique())
    codes = values.astype(str).map({category: index for index, category in enumerate(categories)})
    return {"label": name, "values": codes, "tickvals": list(range(len(categories))), "ticktext": categories,
            "range": [-0.5, len(categories) - 0.5] if len(categories) == 1 else None}


def parallel_figure(table: pd.DataFrame) -> go.Figure:
    """Parallel coordinates: one line per finished run across the swept fields, coloured by validation accuracy."""
    accuracy = table["val_accuracy"]
    dimensions = [{k: v for k, v in _dimension(name, table[name]).items() if v is not None}
                  for name in table.columns if name != "val_accuracy"]
    dimensions.append({"label": "val accuracy", "values": accuracy, "tickformat": ".1%"})
    figure = go.Figure(go.Parcoords(line={"color": accuracy, "colorscale": "Viridis", "showscale": True,
                                          "colorbar": {"title": {"text": "val acc"}, "tickformat": ".0%"}},
                                    dimensions=dimensions))
    figure.update_layout(height=420, margin={"l": 60, "r": 60, "t": 50, "b": 30})
    return figure


def effect_figure(effect: pd.DataFrame, field: str) -> go.Figure:
    """Validation accuracy against one field's value: a dot per config at its seeds' mean, a bar over their range."""
    numeric = pd.api.types.is_numeric_dtype(effect["value"]) and not pd.api.types.is_bool_dtype(effect["value"])
    x = effect["value"] if numeric else effect["value"].astype(str)
    figure = go.Figure(go.Scatter(
        x=x, y=effect["mean"], mode="markers", marker={"size": 9, "color": "#1F77B4"},
        error_y={"type": "data", "symmetric": False, "array": effect["high"] - effect["mean"],
                 "arrayminus": effect["mean"] - effect["low"], "color": "rgba(31,119,180,0.5)"},
        customdata=np.stack([effect["seeds"], effect["others"]], axis=1),
        hovertemplate=f"{field}=%{{x}}<br>mean val accuracy %{{y:.2%}} over %{{customdata[0]}} seed(s)"
                      "<br>%{customdata[1]}<extra></extra>"))
    figure.update_layout(height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title=field,
                         xaxis={"title": field, "type": "log" if numeric and field in LOG_AXES else
                                "linear" if numeric else "category"},
                         yaxis={"title": "val accuracy", "tickformat": ".0%"})
    return figure


def ladder_figure(rungs: list[dict]) -> go.Figure:
    """Seconds to the target per rung (mean over seeds, a bar over their range); a rung that missed it says so."""
    names = [rung["name"] for rung in rungs][::-1]  # the first rung at the top
    means, lows, highs, texts = [], [], [], []
    for rung in rungs[::-1]:
        times = [t for t in rung["seconds"] if t is not None]
        reached = rung["mean_seconds"] is not None
        means.append(rung["mean_seconds"] if reached else 0)
        lows.append(rung["mean_seconds"] - min(times) if reached else 0)
        highs.append(max(times) - rung["mean_seconds"] if reached else 0)
        texts.append(f"{rung['mean_seconds']:.1f} s" if reached else "not reached" if rung["finished"] else "…")
    # A time inside its bar, clear of the error bar; a missed target beside its empty bar.
    positions = ["inside" if mean else "outside" for mean in means]
    figure = go.Figure(go.Bar(x=means, y=names, orientation="h", text=texts, textposition=positions,
                              insidetextanchor="start", marker_color="#EE4C2C",
                              error_x={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows,
                                       "color": "#555"}))
    figure.update_layout(height=80 + 50 * len(rungs), margin={"l": 10, "r": 40, "t": 30, "b": 10},
                         xaxis={"title": "seconds to the target (training + per-epoch evaluation)"},
                         yaxis={"automargin": True})
    return figure


# -- Inside the network: a run's per-layer recording, and the learning-rate finder (dict specs) -------


def layer_lines_figure(x: list, lines: dict[str, list], title: str, y_title: str, log_y: bool = False,
                       limit: tuple[float, str] | None = None, percent: bool = False) -> dict:
    """One line per layer (label -> a value per x; None draws a gap); ``limit`` (value, label): a dashed level."""
    traces = [{"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": label, "marker": {"size": 5}}
              for label, y in lines.items()]
    if limit is not None and x:
        value, label = limit
        traces.append({"type": "scatter", "mode": "lines", "x": [x[0], x[-1]], "y": [value, value], "name": label,
                       "line": {"dash": "dash", "color": "#8C8C8C", "width": 1}, "hoverinfo": "skip"})
    yaxis = {"type": "log", "exponentformat": "power"} if log_y else {}
    if percent:
        yaxis = {"tickformat": ".0%", "range": [0, 1.05]}
    xaxis = {"title": {"text": ""}, **({"dtick": 1} if len(x) <= 10 else {})}  # no "epoch 1.5" ticks
    return _figure(traces, title, "", y_title, height=320, yaxis=yaxis, xaxis=xaxis)


def _panel_axes(count: int, columns: int, gap: float = 0.06) -> tuple[dict, list[tuple]]:
    """Layout axes for ``count`` small panels, ``columns`` to a row, each with its own x and y axis.

    Returns (layout entries, [(x axis name, y axis name, x domain, y domain)] per panel)."""
    rows = -(-count // columns)
    width = (1 - gap * (columns - 1)) / columns
    height = (1 - gap * 2 * (rows - 1)) / rows
    layout, panels = {}, []
    for index in range(count):
        row, column = divmod(index, columns)
        x0, y1 = column * (width + gap), 1 - row * (height + gap * 2)
        suffix = "" if index == 0 else str(index + 1)
        domain = ([max(0.0, x0), min(1.0, x0 + width)], [max(0.0, y1 - height), min(1.0, y1)])  # float error
        layout[f"xaxis{suffix}"] = {"domain": domain[0], "anchor": f"y{suffix}", "exponentformat": "e",
                                    "nticks": 4}
        layout[f"yaxis{suffix}"] = {"domain": domain[1], "anchor": f"x{suffix}", "showticklabels": False}
        panels.append((f"x{suffix}", f"y{suffix}", *domain))
    return layout, panels


def histograms_figure(panels: list[tuple[str, np.ndarray, np.ndarray]], title: str, color: str) -> dict:
    """A small bar histogram per layer: (label, counts (B,), edges (B+1,)), each on its own x axis."""
    rows = -(-len(panels) // 4)  # at most 4 panels to a row, the rows filled evenly: 5 layers as 3 + 2
    columns = -(-len(panels) // rows)
    layout, places = _panel_axes(len(panels), columns)
    traces, annotations = [], []
    for (label, counts, edges), (x_axis, y_axis, x_domain, y_domain) in zip(panels, places):
        centres, widths = (edges[1:] + edges[:-1]) / 2, np.diff(edges)
        traces.append({"type": "bar", "x": centres.tolist(), "y": counts.tolist(), "width": widths.tolist(),
                       "xaxis": x_axis, "yaxis": y_axis, "marker": {"color": color}, "showlegend": False,
                       "hovertemplate": "%{x:.3g}: %{y:,} values<extra>" + label + "</extra>"})
        annotations.append({"text": label, "xref": "paper", "yref": "paper", "x": sum(x_domain) / 2,
                            "y": y_domain[1], "yanchor": "bottom", "showarrow": False, "font": {"size": 11}})
    return {"data": traces, "layout": {
        "title": {"text": title}, "height": 70 + 180 * rows, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "bargap": 0, "annotations": annotations, "uirevision": "keep", **layout}}


def projection_figure(points: np.ndarray, labels: np.ndarray, positions: np.ndarray, variance: np.ndarray,
                      epoch: int) -> dict:
    """Test digits (n, 2) on the last hidden layer's two main directions, one colour per digit class."""
    colours = palette(range(10), "D3")
    traces = [{"type": "scatter", "mode": "markers", "name": str(digit), "x": points[labels == digit, 0].tolist(),
               "y": points[labels == digit, 1].tolist(), "customdata": positions[labels == digit].tolist(),
               "marker": {"size": 6, "color": colours[digit % 10], "opacity": 0.8},
               "hovertemplate": f"a {digit}: test digit #%{{customdata}}<extra></extra>"}
              for digit in sorted(set(labels.tolist()))]
    figure = _figure(traces, f"Last hidden layer after epoch {epoch}, in 2-D", f"direction 1 ({variance[0]:.0%} of "
                     "the variance)", f"direction 2 ({variance[1]:.0%})", height=380)
    figure["layout"]["legend"] = {"title": {"text": "digit"}}
    return figure


def lr_find_figure(lrs: list[float], smoothed: list[float], raw: list[float], suggested: float | None) -> dict:
    """Loss against learning rate (log axis): the lowest smoothed loss and the suggestion marked.

    The y axis stops a little above the smoothed curve: the last batches' raw loss, once it explodes,
    would squash everything else flat."""
    top = 1.15 * max(smoothed)
    traces = [{"type": "scatter", "mode": "lines", "x": lrs, "y": raw, "name": "each batch",
               "line": {"color": COLORS["loss"]}},
              {"type": "scatter", "mode": "lines", "x": lrs, "y": smoothed, "name": "smoothed",
               "line": {"color": COLORS["loss_smooth"]}}]
    if suggested is not None:
        lowest = min(range(len(smoothed)), key=smoothed.__getitem__)
        traces += [{"type": "scatter", "mode": "markers", "x": [lrs[lowest]], "y": [smoothed[lowest]],
                    "name": "lowest smoothed loss", "marker": {"size": 10, "color": COLORS["loss_smooth"],
                                                               "symbol": "circle-open", "line": {"width": 2}}},
                   {"type": "scatter", "mode": "lines+text", "x": [suggested, suggested], "y": [0, top],
                    "text": ["", f"suggested {suggested:.2g}"], "textposition": "bottom left",
                    "name": "suggestion", "line": {"dash": "dash", "color": COLORS["train"]}, "showlegend": False}]
    return _figure(traces, "Loss as the learning rate grows", "learning rate", "cross-entropy", height=320,
                   xaxis={"title": {"text": "learning rate"}, "type": "log", "exponentformat": "power"},
                   yaxis={"range": [0, top]},  # the legend where the curve never goes: below it, on the left
                   legend={"x": 0.01, "y": 0.02, "xanchor": "left", "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"})
