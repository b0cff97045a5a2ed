"""The run folder's ``inside.pt``: its layout, its size bound, saving and loading. The one owner of that format.

It lives here rather than in :mod:`core.store.run_files` because its layout is the recorder's
design (which numbers, which dtypes, which epochs keep their heavy parts) and changes with it;
the store layer stays unaware of histograms. ``run_files`` lists the file among a run folder's.

Layout, for E recorded epochs and L layers with parameters (forward order)::

    format                  int, FORMAT
    layers                  list[str]      module paths ("layers.1"), forward order
    kinds                   list[str]      "Linear 784→50", "Conv2d 1→8 5×5"
    activations             list[str]      activation after each layer: "relu", "sigmoid", ..., "" for none
    parameters              int64 (L,)     weights + bias per layer
    steps_per_epoch         int
    epochs                  int32 (E,)
    weight_norm             float32 (E, L) ‖all the layer's parameters‖₂ at the epoch's end
    grad_norm               float32 (E, L) ‖their gradient‖₂ from the epoch's LAST step (one batch, not
                                           an epoch average: the loop's p.grad, still set at the epoch's end)
    update_ratio            float32 (E, L) ‖w_end − w_start‖ / ‖w_start‖ over the epoch (w_start: the
                                           previous epoch's end, or the run's start)
    dead_fraction           float32 (E, L) units a ReLU after the layer zeroes on every probe digit; NaN if no ReLU
    activation_mean, _std   float32 (E, L) of the layer's output after its activation, over the probe digits
    snapshot_epochs         int32 (S,)     epochs that kept the heavy parts below (see "Bounded")
    weight_counts, grad_counts  int32 (S, L, 64)    counts sum to the layer's parameter count (grad: all 0
                                                    when the layer had no gradient)
    weight_edges, grad_edges    float32 (S, L, 65)  bin edges, equal widths over [min, max]
    projection              float16 (S, n, 2)  last hidden layer on n ≤ 250 fixed test digits, 2-D PCA,
                                               axes' signs aligned with the previous snapshot's
    projection_variance     float32 (S, 2)     fraction of the variance along each axis
    projection_positions    int32 (n,)     positions in the test split (data.split("test") order)
    projection_labels       uint8 (n,)
    probe_split             str            "val", or "train" for a run with no validation split
    probe_positions         int32 (m,)     m ≤ 128 fixed positions in that split
    first_layer_name        str
    first_layer_units       int            units in the first layer; the first U ≤ 64 are kept
    first_layer             uint8 (S, U, h, w)  MLP: 28×28 input weights per unit; CNN: kh×kw filters
    first_layer_scale       float32 (S, U)      value = (level − 128) / 127 · scale (measures.dequantize)
    recording_seconds       float          time this run's recorder has spent, up to the file's last write

Bounded, and cheap to record: the per-epoch numbers are kept for every epoch (a config allows at
most 1,000 epochs). The heavy parts, a "snapshot", are taken only at epochs 1, 2, 4, 8, 16, ...
(:func:`on_schedule`; 10 of 1,000 epochs) and at a run's last epoch, whose snapshot is dropped
when a resumed run takes a newer one. So a file holds at most 11 snapshots, and over 20 epochs a
snapshot (250 test digits through the network) is taken at 6 of them: taken every epoch with all
1,000 test digits, it would cost the guide's MLP ~8 % of its epoch time. :func:`size_bound` is
the largest file a model can make; the 4×4096 MLP's stays under 1 MB.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.files import write_atomic, write_bytes_atomic
from core.inside.measures import HIST_BINS
from core.store.run_files import load_tensors
from core.store.run_store import RunStore, existing_run_dir

INSIDE = "inside.pt"
FORMAT = 1
MAX_UNITS = 64  # first-layer units (MLP) or filters (CNN) kept as images
# Validation digits whose activations give dead units and activation statistics, every epoch: ~13 a
# class. The loop's validation pass computes their activations anyway (the recorder's hooks keep
# their rows); without a validation split they are training digits, which cost a forward pass.
PROBE_DIGITS = 128
# Test digits mapped to 2-D: ~25 per class, enough to see the clusters form. Their features come
# from the loop's test pass; the map's PCA, in the recorder's thread, grows with their number.
PROJECTION_DIGITS = 250
SERIES = ("weight_norm", "grad_norm", "update_ratio", "dead_fraction", "activation_mean", "activation_std")
SNAPSHOT = ("weight_counts", "weight_edges", "grad_counts", "grad_edges", "projection", "projection_variance",
            "first_layer", "first_layer_scale")
HEADER = ("layers", "kinds", "activations", "parameters", "steps_per_epoch", "projection_positions",
          "projection_labels", "probe_split", "probe_positions", "first_layer_name", "first_layer_units")
DTYPES = {"weight_counts": torch.int32, "grad_counts": torch.int32, "weight_edges": torch.float32,
          "grad_edges": torch.float32, "projection": torch.float16, "projection_variance": torch.float32,
          "first_layer": torch.uint8, "first_layer_scale": torch.float32}
MAX_EPOCHS = 1000  # TrainConfig's limit


def on_schedule(epoch: int) -> bool:
    """Whether ``epoch`` takes a snapshot: 1, 2, 4, 8, 16, ... (dense early, where a network changes fastest)."""
    return epoch > 0 and epoch & (epoch - 1) == 0


def snapshot_count(epochs: int = MAX_EPOCHS) -> int:
    """The most snapshots a file holds after ``epochs`` epochs: the scheduled ones and a last epoch's."""
    return sum(on_schedule(e) for e in range(1, epochs + 1)) + 1


@dataclass
class Record:
    """A run's recording in memory: the header and one dict of CPU tensors per epoch."""

    header: dict
    rows: list[dict] = field(default_factory=list)  # {"epoch": int, SERIES: (L,) each, SNAPSHOT keys at snapshots}

    @property
    def epochs(self) -> list[int]:
        return [row["epoch"] for row in self.rows]

    def append(self, row: dict) -> None:
        """Add an epoch's row; with a snapshot, an earlier unscheduled one (a last epoch's, resumed) is dropped."""
        if SNAPSHOT[0] in row:
            for earlier in self.rows:
                if not on_schedule(earlier["epoch"]):
                    for key in SNAPSHOT:
                        earlier.pop(key, None)
        self.rows.append(row)

    def truncate(self, last_epoch: int) -> None:
        """Keep epochs up to ``last_epoch``: a resumed run continues from its checkpoint's epoch."""
        self.rows = [row for row in self.rows if row["epoch"] <= last_epoch]

    def to_payload(self) -> dict:
        payload = {"format": FORMAT, **self.header,
                   "epochs": torch.tensor(self.epochs, dtype=torch.int32)}
        layers = len(self.header["layers"])
        for name in SERIES:
            payload[name] = (torch.stack([row[name] for row in self.rows]).float() if self.rows
                             else torch.empty(0, layers))
        kept = [row for row in self.rows if SNAPSHOT[0] in row]
        payload["snapshot_epochs"] = torch.tensor([row["epoch"] for row in kept], dtype=torch.int32)
        for key in SNAPSHOT:
            payload[key] = torch.stack([row[key] for row in kept]).to(DTYPES[key]) if kept else None
        return payload

    @classmethod
    def from_payload(cls, payload: dict) -> "Record":
        header = {key: payload[key] for key in HEADER}
        rows = [{"epoch": int(epoch), **{name: payload[name][i] for name in SERIES}}
                for i, epoch in enumerate(payload["epochs"].tolist())]
        by_epoch = {row["epoch"]: row for row in rows}
        for i, epoch in enumerate(payload["snapshot_epochs"].tolist()):
            by_epoch[epoch].update({key: payload[key][i] for key in SNAPSHOT})
        return cls(header, rows)


def save_inside(run_dir: Path, record: Record) -> None:
    write_atomic(Path(run_dir) / INSIDE, lambda temporary: torch.save(record.to_payload(), temporary))


def read_inside(run_dir: Path) -> dict | None:
    """The payload of a run folder's inside.pt (layout above), None if there is none; ValueError if damaged."""
    run_dir = Path(run_dir)
    try:
        payload = load_tensors(run_dir / INSIDE)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"Run {run_dir.name}'s {INSIDE} could not be read ({type(exc).__name__}): it is damaged "
                         "or not a Digit Lab file.") from None
    if payload is None:
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or set(HEADER) - set(payload):
        raise ValueError(f"Run {run_dir.name}'s {INSIDE} is not a format-{FORMAT} record of a network's insides.")
    return payload


def load_inside(store: RunStore, run_id: str) -> dict:
    """A run's recording (layout above), or a ValueError that says why there is none."""
    run_dir = existing_run_dir(store, run_id)
    payload = read_inside(run_dir)
    if payload is not None:
        return payload
    run = store.get(run_id)
    if "inside" not in run.config:
        raise ValueError(f"Run {run_id} has no record of its network's insides: they are recorded from the "
                         "`inside` setting on, which came after this run; this run has none. Resume or replay "
                         "it to record them.")
    if not run.config["inside"]:
        raise ValueError(f"Run {run_id} was trained with `inside` off (--no-inside), so it has no record of its "
                         "network's insides. Replay it with inside on to record them.")
    if not run.active:
        raise ValueError(f"Run {run_id} ended ({run.status}) before it recorded any of its network's insides.")
    raise ValueError(f"Run {run_id} has no record of its network's insides yet: it is first written about a second "
                     "into training, or at its end. Wait a moment, or pick another run.")


def copy_inside(source_dir: Path, target_dir: Path) -> None:
    """A resumed run starts with its parent's recording, so the series continue (nothing if it has none)."""
    source = Path(source_dir) / INSIDE
    if source.exists():
        write_bytes_atomic(Path(target_dir) / INSIDE, source.read_bytes())


def size_bound(layers: int, units: int, pixels: int, digits: int = PROJECTION_DIGITS,
               probe: int = PROBE_DIGITS, epochs: int = MAX_EPOCHS) -> int:
    """Bytes of tensor data in an inside.pt after ``epochs`` epochs, plus 64 KiB for names and zip headers.

    ``layers``: with parameters; ``units``: first-layer images kept (≤ MAX_UNITS); ``pixels``: per image.
    """
    series = len(SERIES) * epochs * layers * 4
    hist = layers * 2 * (HIST_BINS * 4 + (HIST_BINS + 1) * 4)
    snapshot = hist + digits * 2 * 2 + 2 * 4 + units * (pixels + 4) + 4
    header = epochs * 4 + digits * (4 + 1) + probe * 4 + layers * 8
    return series + snapshot_count(epochs) * snapshot + header + 64 * 1024
