"""The "Inside the network" view of one run: per-layer curves, histograms, first-layer images, the 2-D map.

The Train page shows it live in an expander, the Inspect page at its chosen epoch; Inspect's
close-up adds a CNN's feature maps for one digit. Each chart says what healthy looks like.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from core.inside import views
from core.inside.diagnosis import MAX_DEAD_FRACTION, MAX_UPDATE_PER_STEP, VANISHING_RATIO, inside_warnings
from core.inside.storage import INSIDE, PROBE_DIGITS, load_inside
from core.results import inspection
from dashboard import figures
from dashboard.common import store

TILE_PX = 56  # on-screen size of one first-layer image or feature map: a whole multiple of its pixels
COLUMNS = 8  # images to a row in a grid
GAP_PX = 2  # between the images of a grid


def load(run_id: str, mtime: float) -> dict:
    store().check_visible(run_id)  # the cache is shared by every session, and a hit skips load_inside's check
    return _load(run_id, mtime)


@st.cache_data(show_spinner=False, max_entries=16)
def _load(run_id: str, mtime: float) -> dict:
    # mtime: inside.pt is rewritten (at most once a second) while a run trains, so each write is a new entry.
    # A ValueError (no recording) is not cached: the next rerun asks again.
    return load_inside(store(), run_id)


def grid(tiles: np.ndarray, columns: int = COLUMNS) -> np.ndarray:
    """uint8 images (N, H, W, 3) -> one RGBA image, ``columns`` to a row; the lines between them transparent."""
    count, height, width, _ = tiles.shape
    columns = min(columns, count)
    rows = -(-count // columns)
    out = np.zeros((rows * (height + GAP_PX) - GAP_PX, columns * (width + GAP_PX) - GAP_PX, 4), np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (height + GAP_PX), (index % columns) * (width + GAP_PX)
        out[top:top + height, left:left + width, :3] = tile
        out[top:top + height, left:left + width, 3] = 255
    return out


def weight_grid(images: np.ndarray) -> np.ndarray:
    """Weights (U, h, w) -> one grid in the colours of Inspect's saliency: red positive, blue negative, white 0,
    each unit on its own scale (so a unit with small weights still shows its pattern)."""
    peak = np.abs(images).max(axis=(1, 2), keepdims=True)
    strength = images / np.where(peak > 0, peak, 1.0)  # (U, h, w) in -1..1
    fade = 1.0 - np.abs(strength)
    rgb = np.stack([np.where(strength > 0, 1.0, fade), fade, np.where(strength < 0, 1.0, fade)], axis=-1)
    scale = max(1, round(TILE_PX / images.shape[-1]))
    tiles = inspection.upscale(np.uint8(rgb * 255 + 0.5).transpose(0, 3, 1, 2), scale)  # (U, 3, h·s, w·s)
    return grid(tiles.transpose(0, 2, 3, 1))


def activation_grid(maps: np.ndarray) -> np.ndarray:
    """Activations (C, H, W) -> one grey grid, dark low and bright high on one scale for the whole layer."""
    low, high = float(maps.min()), float(maps.max())
    grey = np.uint8(255 * (maps - low) / (high - low or 1.0) + 0.5)
    tiles = inspection.upscale(grey, max(1, round(TILE_PX / maps.shape[-1])))  # (C, H·s, W·s)
    return grid(np.repeat(tiles[..., None], 3, axis=-1))


def picture(image: np.ndarray, caption: str, where=st) -> None:
    """At exactly its size, as PNG: browser scaling or JPEG would blur the pixels."""
    where.image(image, caption=caption, width=image.shape[1], output_format="PNG")


def headline(payload: dict, series: list[dict]) -> None:
    """What was recorded, and the warnings the numbers support (or that there are none)."""
    epochs = payload["epochs"].tolist()
    total = sum(layer["parameters"] for layer in series)
    st.caption(f"Recorded after every epoch up to epoch {epochs[-1]}: {len(series)} layers with weights "
               f"({total:,} parameters), measured at each epoch's end.")
    found = inside_warnings(payload)
    for warning in found:
        st.warning(warning.message, icon=":material/warning:")
    if not found:
        st.caption(f"No warning signs: the first layer's gradient is within {1 / VANISHING_RATIO:.0f}× of the last's, "
                   f"no layer's steps are too large, and at most {MAX_DEAD_FRACTION:.0%} of each ReLU layer's units "
                   "are dead.")


def per_layer(series: list[dict], measure: str, divide: float = 1.0) -> dict[str, list]:
    """Layer label -> the measure per epoch (None where it does not apply); only layers with any value."""
    lines = {f"{index + 1}: {layer['kind']}": [None if row[measure] is None else row[measure] / divide
                                               for row in layer["epochs"]]
             for index, layer in enumerate(series)}
    return {label: values for label, values in lines.items() if any(value is not None for value in values)}


def curves(payload: dict, series: list[dict], key: str) -> None:
    """Gradient norms, update ratios and dead units per layer over the epochs."""
    epochs = payload["epochs"].tolist()
    steps = max(1, int(payload["steps_per_epoch"]))
    left, right = st.columns(2)
    figures.show(figures.layer_lines_figure(epochs, per_layer(series, "grad_norm"), "Gradient size by epoch",
                                            "‖gradient‖ (epoch's last step)", log_y=True),
                 where=left, key=f"{key}_grad", width="stretch")
    left.caption("Healthy: every layer's line within about 10× of the others (one batch each, so they jitter). "
                 "Vanishing gradients: the first layers' lines 100× or more below the last layer's, so they barely "
                 "learn; sigmoid or tanh in a deep net does this.")
    figures.show(figures.layer_lines_figure(epochs, per_layer(series, "update_ratio", steps),
                                            "Update size per step, by epoch", "‖Δw‖ / ‖w‖ per step", log_y=True,
                                            limit=(MAX_UPDATE_PER_STEP, "warned above")),
                 where=right, key=f"{key}_update", width="stretch")
    right.caption(f"How far a step moves each layer's weights, as a share of their size (the epoch's change over "
                  f"its {steps} steps). Healthy on these small nets: about 0.001–0.02, largest in epoch 1. Above "
                  "the dashed line steps are too large and training jumps around; far below the other layers "
                  "(1e-4 and under) a layer has almost stopped learning.")
    dead = per_layer(series, "dead_fraction")
    if not dead:
        activations = sorted({layer["activation"] for layer in series if layer["activation"]})
        st.caption(f"Dead units: none can die here, as no ReLU follows a layer (activation: "
                   f"{', '.join(activations) or 'none'}). A ReLU unit dies when it outputs 0 for every input.")
        return
    left, right = st.columns(2)
    figures.show(figures.layer_lines_figure(epochs, dead, "Dead units by epoch", "share of the layer's units",
                                            limit=(MAX_DEAD_FRACTION, "warned above"), percent=True),
                 where=left, key=f"{key}_dead", width="stretch")
    right.caption(f"A dead unit outputs 0 for all {PROBE_DIGITS} probe digits, so no gradient flows through it and it "
                  "stops learning for good. Healthy: a few percent. Above half (the dashed line) the layer has lost "
                  "most of its units, usually to a learning rate that is too high.")


def snapshot_epoch(payload: dict, key: str, epoch: int | None) -> int:
    """The snapshot to show: the newest at or before ``epoch``, or, with no epoch, the slider's choice."""
    snapshots = views.snapshot_epochs(payload)
    if epoch is not None:
        chosen = max([shot for shot in snapshots if shot <= epoch], default=snapshots[0])
        st.caption(f"Histograms, first-layer images and the 2-D map after epoch {chosen}: the nearest snapshot at or "
                   f"before epoch {epoch} (they are kept at epochs 1, 2, 4, 8, … and the last).")
        return chosen
    # The newest while a run trains, unless the user moved the slider back.
    state, latest = f"{key}_snapshot", f"{key}_snapshot_latest"
    if st.session_state.get(state) in (None, st.session_state.get(latest)) or st.session_state[state] not in snapshots:
        st.session_state[state] = snapshots[-1]
    st.session_state[latest] = snapshots[-1]
    if len(snapshots) > 1:
        st.select_slider("Snapshot after epoch", snapshots, key=state,
                         help="histograms, first-layer images and the 2-D map are kept at epochs 1, 2, 4, 8, … "
                              "and the last")
    return st.session_state[state]


def histograms(payload: dict, series: list[dict], chosen: int, key: str) -> None:
    """Weights and gradients of every layer at one snapshot, each figure the full width: a panel per layer."""
    labels = [f"{index + 1}: {layer['kind']}" for index, layer in enumerate(series)]
    layers = views.histograms(payload, chosen)
    figures.show(figures.histograms_figure([(label, layer["weight_counts"], layer["weight_edges"])
                                            for label, layer in zip(labels, layers)],
                                           f"Weights after epoch {chosen}", figures.COLORS["train"]),
                 key=f"{key}_weights", width="stretch")
    st.caption("Each panel has its own x axis. Healthy: a bell around 0 that widens slowly as the network learns. "
               "Unhealthy: a range that keeps growing epoch after epoch (steps too large), or a shape that never "
               "moves from the first snapshot (a layer that is not learning).")
    figures.show(figures.histograms_figure([(label, layer["grad_counts"], layer["grad_edges"])
                                            for label, layer in zip(labels, layers)],
                                           f"Gradients, last step of epoch {chosen}", figures.COLORS["loss_smooth"]),
                 key=f"{key}_grads", width="stretch")
    st.caption("Healthy: a sharp peak at 0 whose x axis spans a similar range in every layer. Vanishing gradients: "
               "the first layers' axes span a hundredth of the last layer's or less.")


def first_layer(payload: dict, chosen: int) -> None:
    images = views.first_layer_images(payload, chosen)  # (U, h, w)
    units, kept = int(payload["first_layer_units"]), len(images)
    more = f" (the first {kept} of {units})" if units > kept else ""
    if images.shape[-1] == 28:  # an MLP: each unit's 784 input weights, shaped as the digit they weigh
        picture(weight_grid(images), f"First layer after epoch {chosen}: {kept} hidden units{more}")
        st.caption("Each square is one hidden unit's 784 input weights, laid out as the 28×28 picture they multiply: "
                   "red where ink raises the unit's output, blue where it lowers it, each square on its own scale. "
                   "Healthy: noise turning into strokes and blobs over the epochs; squares still pure static after "
                   "many epochs mean the first layer is barely learning.")
        return
    picture(weight_grid(images), f"First conv layer after epoch {chosen}: {kept} filters{more}, "
                                 f"{images.shape[-2]}×{images.shape[-1]}")
    st.caption("Each square is one filter of the first conv layer, red positive and blue negative, each on its own "
               "scale. Healthy: smooth patterns, such as an edge or a stroke at an angle; pure noise after many "
               "epochs means the filters are barely learning.")


def two_d_map(payload: dict, chosen: int, key: str) -> None:
    points = views.projection(payload, chosen)
    figures.show(figures.projection_figure(points["points"], points["labels"], points["positions"],
                                           points["variance"], chosen), key=f"{key}_map", width="stretch")
    st.caption("Each dot is a test digit, placed by what the last hidden layer makes of it along that layer's two "
               "main directions (PCA). Healthy: over the epochs the colours pull apart into clusters; colours still "
               "mixed late in training are digits the network cannot yet tell apart.")


def view(run_id: str, key: str, epoch: int | None = None) -> None:
    """The whole view of one run; ``epoch`` None: a slider over the snapshots, else the snapshot nearest ≤ it."""
    try:
        payload = load(run_id, inspection.file_mtime(store(), run_id, INSIDE))
    except ValueError as exc:  # an old run, one trained with inside off, or one not written yet
        st.info(str(exc))
        return
    if not len(payload["epochs"]):
        st.info("Nothing recorded yet: the first numbers come at the end of epoch 1.")
        return
    series = views.layer_series(payload)
    headline(payload, series)
    curves(payload, series, key)
    if views.snapshot_epochs(payload):
        chosen = snapshot_epoch(payload, key, epoch)
        histograms(payload, series, chosen, key)
        first_layer(payload, chosen)
        two_d_map(payload, chosen, key)


def live(run_id: str) -> None:
    """The Train page's expander; what is inside it runs only while it is open (it refreshes with the run)."""
    box = st.expander("Inside the network", key="train_inside_open", on_change="rerun", icon=":material/neurology:")
    with box:
        if box.open:
            view(run_id, "train_inside")


def feature_maps(net, image) -> None:
    """Each conv layer's output for one digit (uint8 (28, 28)); for an MLP, why there is none."""
    try:
        layers = views.feature_maps(net, torch.as_tensor(image))
    except ValueError:
        st.info("Feature maps belong to convolutional layers, and this run's model is an MLP: its first layer's "
                "weights are under Inside the network below. Train the small CNN to see them.")
        return
    for layer in layers:  # one under another: side by side, a deep layer's grid overflows a narrow column
        picture(activation_grid(layer["maps"]), f"{layer['name']} ({layer['kind']}): {len(layer['maps'])} maps")
    st.caption("Feature maps: what each filter of a conv layer makes of this digit, its output after the activation, "
               "dark low and bright high on one scale per layer. The first layer's maps still look like the digit, "
               "each picking out some strokes or edges; deeper maps are smaller and coarser: where in the digit each "
               "pattern is.")
