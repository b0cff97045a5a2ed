"""The training callback that records a network's insides, all of it at each epoch's end.

Nothing runs during the loop's steps. At an epoch's end the loop evaluates the validation and test
digits; hooks attached for those passes only keep the activations of fixed probe digits among the
validation digits, and the last hidden layer's features of the map's test digits (no forward pass of
the recorder's own). Then the recorder reads the weights and the gradients the loop left in
``p.grad`` (those of the epoch's last step: the loop's ``zero_grad(set_to_none=True)`` only clears
them at the next step's start), takes per-layer norms, and copies the weights into a shadow of the
model kept in eval mode (~0.3 ms for the guide's MLP, in the training thread). Without validation
digits the probe digits are training digits, which the loop does not evaluate: the shadow is then
run over them. At the epochs :func:`core.inside.storage.on_schedule` picks and the last, the snapshot
(histograms, PCA of 250 more test digits, first-layer images, ~2 ms) is computed from copies in a
background thread, in epoch order, behind the next epoch's training; that thread also adds the
epochs to the record and rewrites ``inside.pt`` about once a second and at the run's end. Epochs
without a snapshot wait in a list until one comes or a save is due, so that thread wakes a few
times a second rather than at every epoch's end (~40 a second for the guide's MLP).
``recording_seconds`` in the file counts both threads. It draws no random numbers and changes no
weights, so a run trains exactly as it would without it.
"""
from __future__ import annotations

import bisect
import contextlib
import copy
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

from core.data.digits import IMAGE_SIZE, DigitData, normalize
from core.files import BackgroundWriter
from core.inside.measures import dead_fraction, histogram, project_2d, quantize
from core.inside.storage import (
    MAX_UNITS,
    PROBE_DIGITS,
    PROJECTION_DIGITS,
    Record,
    on_schedule,
    read_inside,
    save_inside,
)
from core.models import ACTIVATIONS
from core.training.callbacks import Callback, EpochState, TrainResult

ACTIVATION_NAMES = {module: name for name, module in ACTIVATIONS.items()}
POSITIONS_SEED = 0  # which probe and test digits are used never depends on the training seed
SAVE_EVERY_S = 1.0  # inside.pt is rewritten about this often while training, and at the end


def parameter_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every module holding parameters itself, in registration order.

    Registration order is forward order for Digit Lab's models (each is a chain of Sequentials).
    """
    return [(name, module) for name, module in model.named_modules()
            if next(module.parameters(recurse=False), None) is not None]


def activation_after(model: nn.Module, layers: list[nn.Module]) -> list[nn.Module | None]:
    """For each layer, the activation module that comes right after it (None where none does)."""
    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    following = {id(leaf): leaves[i + 1] for i, leaf in enumerate(leaves[:-1])}
    return [following.get(id(layer)) if type(following.get(id(layer))) in ACTIVATION_NAMES else None
            for layer in layers]


def layer_kind(module: nn.Module) -> str:
    """What a person calls the layer: 'Linear 784→50', 'Conv2d 1→8 5×5'."""
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.Conv2d):
        return f"Conv2d {module.in_channels}→{module.out_channels} {'×'.join(map(str, module.kernel_size))}"
    return type(module).__name__


def first_layer_view(module: nn.Module) -> torch.Tensor:
    """The first layer's weights as images (U ≤ MAX_UNITS, h, w): 28×28 per MLP unit, kh×kw per CNN filter."""
    weight = module.weight.detach()[:MAX_UNITS]
    if weight.dim() == 2 and weight.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        return weight.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if weight.dim() == 4:  # (out, in, kh, kw): the in-channels stacked vertically (one for digits)
        return weight.reshape(weight.shape[0], -1, weight.shape[-1])
    return weight.reshape(weight.shape[0], 1, -1)


def activation_stats(activations: torch.Tensor, relu: bool) -> torch.Tensor:
    """[mean, std, dead fraction] of one layer's activations over the probe digits (NaN: no ReLU after it)."""
    # mean() and std() apart: ~4x faster than torch.std_mean on a CPU
    dead = dead_fraction(activations) if relu else activations.new_tensor(math.nan, dtype=torch.float32)
    return torch.stack([activations.mean(), activations.std(), dead])


def fixed_positions(n: int, count: int) -> torch.Tensor:
    """``count`` positions out of ``n`` (all if fewer), ascending, the same for every run of a dataset."""
    if n <= count:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(POSITIONS_SEED)  # its own generator: the global RNG stays untouched
    return torch.randperm(n, generator=generator)[:count].sort().values


class InsideRecorder(Callback):
    """Records per-layer numbers and pictures at each epoch's end into ``run_dir/inside.pt`` (see storage).

    Without ``run_dir`` it only keeps them in ``self.record``. A resumed run finds its parent's
    file copied into ``run_dir`` and continues it from the checkpoint's epoch.
    """

    def __init__(self, data: DigitData, run_dir: Path | None = None):
        started = time.perf_counter()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.probe_split = "val" if data.splits.get("val") is not None and data.splits["val"].numel() else "train"
        probe_index, test_index = data.splits[self.probe_split], data.splits["test"]
        self.probe_positions = fixed_positions(len(probe_index), PROBE_DIGITS)
        self.projection_positions = fixed_positions(len(test_index), PROJECTION_DIGITS)
        # One batch: the probe digits first, then the test digits of the 2-D map.
        chosen = torch.cat([probe_index[self.probe_positions], test_index[self.projection_positions]])
        self.images = data.images[chosen]
        self.projection_labels = data.labels[test_index[self.projection_positions]].to(torch.uint8)
        self.steps_per_epoch, self.start_epoch = 0, 0
        self.record: Record | None = None
        self.evaluated: dict = {}  # what the hooks kept from this epoch's evaluation passes (see evaluating)
        self.unsaved = False
        # (epoch, row, snapshot parts or None) not yet handed to the background thread, and when it saves next.
        self.pending: list[tuple[int, dict, tuple | None]] = []
        self.next_save = time.monotonic() + SAVE_EVERY_S
        # Seconds of this run spent recording (the file says so): in the training thread, and behind it.
        self.spent, self.spent_behind = time.perf_counter() - started, 0.0
        # Snapshots, appends to the record and saves, in epoch order; started with the run (on_start).
        self.background: BackgroundWriter | None = None

    def on_start(self, info: dict) -> None:
        self.steps_per_epoch, self.start_epoch = info["steps_per_epoch"], info["start_epoch"]
        self.background = BackgroundWriter("inside-recorder")
        self.next_save = time.monotonic() + SAVE_EVERY_S  # a second in (or at the end), not at epoch 1

    def on_model(self, model: nn.Module) -> None:
        started = time.perf_counter()
        self.model = model
        self.layers = parameter_layers(model)
        self.params = [list(module.parameters(recurse=False)) for _, module in self.layers]
        self.parameters = [p for params in self.params for p in params]  # layer after layer
        self.sizes = [sum(p.numel() for p in params) for params in self.params]
        self.activations = activation_after(model, [module for _, module in self.layers])
        device = self.params[0][0].device
        self.inputs = normalize(self.images.to(device))  # (m + n, 1, 28, 28), moved once
        self.layer_of = torch.tensor([i for i, params in enumerate(self.params) for _ in params], device=device)
        # The rows the evaluation hooks keep, per split: sorted positions as a list (to find a chunk's
        # share) and on the device (to select it).
        self.watched = {split: (positions.tolist(), positions.to(device)) for split, positions in
                        ((self.probe_split, self.probe_positions), ("test", self.projection_positions))
                        if len(positions)}
        # A shadow of the model in eval mode holds the weights of the run's start, then of each epoch's
        # end: the update ratio's reference, the source of the snapshot's weights, and what the probe
        # runs on when the loop evaluates no probe digits. One copy of the weights, overwritten in
        # place: no per-epoch allocation of the whole model (the 4x4096 MLP's weights are 214 MB).
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.shadow_layers = parameter_layers(self.shadow)
        self.shadow_activations = activation_after(self.shadow, [module for _, module in self.shadow_layers])
        self.shadow_parameters = [p for _, module in self.shadow_layers for p in module.parameters(recurse=False)]
        self.buffers, self.shadow_buffers = list(model.buffers()), list(self.shadow.buffers())  # BatchNorm's stats
        self.previous_norm = self._layer_norms(list(torch._foreach_norm(self.shadow_parameters)))[0]
        first = self.layers[0][1]
        header = {
            "layers": [name for name, _ in self.layers], "kinds": [layer_kind(module) for _, module in self.layers],
            "activations": [ACTIVATION_NAMES[type(a)] if a is not None else "" for a in self.activations],
            "parameters": torch.tensor(self.sizes),
            "steps_per_epoch": self.steps_per_epoch,
            "projection_positions": self.projection_positions.to(torch.int32),
            "projection_labels": self.projection_labels, "probe_split": self.probe_split,
            "probe_positions": self.probe_positions.to(torch.int32),
            "first_layer_name": self.layers[0][0], "first_layer_units": int(first.weight.shape[0]),
        }
        self.record = self._continued(header) or Record(header)
        previous = [row for row in self.record.rows if "projection" in row]
        self.last_projection = previous[-1]["projection"].to(device) if previous else None
        self.spent += time.perf_counter() - started

    def _continued(self, header: dict) -> Record | None:
        """The parent's recording up to the checkpoint's epoch, if this run resumes one with the same layers."""
        if self.run_dir is None:
            return None
        try:
            payload = read_inside(self.run_dir)
        except ValueError as exc:
            print(f"warning: starting a new record of the network's insides: {exc}", file=sys.stderr)
            return None
        if payload is None or payload["layers"] != header["layers"] or not torch.equal(
                payload["projection_positions"], header["projection_positions"]):
            return None
        record = Record.from_payload(payload)
        record.header = header  # this run's steps per epoch and positions
        record.truncate(self.start_epoch)
        return record

    def _layer_norms(self, norms: list[torch.Tensor]) -> torch.Tensor:
        """Per-layer ‖·‖₂ (K, L) from K groups of per-parameter norms (K·P 0-dim tensors, each group in layer order)."""
        squares = torch.stack(norms).square().reshape(-1, len(self.layer_of))
        total = squares.new_zeros(len(squares), len(self.params))
        return total.index_add_(1, self.layer_of, squares).sqrt()

    def _layer_flat(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each layer's tensors (weights, then bias) as one flat tensor."""
        flat, start = [], 0
        for params in self.params:
            flat.append(torch.cat([t.reshape(-1) for t in tensors[start:start + len(params)]]))
            start += len(params)
        return flat

    @torch.no_grad()
    def _probe(self, snapshot: bool) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """One forward of the shadow (eval mode: dropout off, as evaluation sees the network): per-layer
        [mean, std, dead fraction] of the probe digits' activations.

        With ``snapshot`` the map's test digits ride along in the same batch, and their last hidden
        layer's features (n, width) come back too; otherwise None.
        """
        m = len(self.probe_positions)
        stats: list = [None] * len(self.shadow_layers)
        captured: dict = {}

        def after(i: int, relu: bool):
            def hook(module, inputs, output):
                stats[i] = activation_stats(output[:m], relu)
            return hook

        def last_input(module, inputs):
            captured["features"] = inputs[0][m:].flatten(1)  # (n, width of the last hidden layer)

        handles = [(activation if activation is not None else module).register_forward_hook(
            after(i, isinstance(activation, nn.ReLU))) for i, ((_, module), activation)
            in enumerate(zip(self.shadow_layers, self.shadow_activations))]
        if snapshot:
            handles.append(self.shadow_layers[-1][1].register_forward_pre_hook(last_input))
        try:
            self.shadow(self.inputs if snapshot else self.inputs[:m])
        finally:
            for handle in handles:
                handle.remove()
        return stats, captured.get("features")

    @contextlib.contextmanager
    def evaluating(self, split: str, model: nn.Module):
        """Around the loop's pass over ``split``: keeps the probe digits' per-layer [mean, std, dead
        fraction] (the probe's split) or the map's test digits' features (test) in ``self.evaluated``."""
        if model is not self.model or split not in self.watched:
            yield
            return
        started = time.perf_counter()
        wanted, index = self.watched[split]
        kept: list[list[torch.Tensor]] = []
        spent = [0.0]  # in the hooks, during the pass

        def keeper(flatten: bool):
            parts, seen = [], [0]  # this module's rows of the wanted digits; rows of the pass so far
            kept.append(parts)

            def keep(chunk: torch.Tensor) -> None:
                began = time.perf_counter()
                start, seen[0] = seen[0], seen[0] + len(chunk)
                low, high = bisect.bisect_left(wanted, start), bisect.bisect_left(wanted, seen[0])
                if low < high:
                    rows = chunk.index_select(0, index[low:high] - start if start else index[low:high])
                    parts.append(rows.flatten(1) if flatten else rows)
                spent[0] += time.perf_counter() - began
            return keep

        if split == self.probe_split:
            handles = []
            for (_, module), activation in zip(self.layers, self.activations):
                keep = keeper(False)
                handles.append((activation if activation is not None else module).register_forward_hook(
                    lambda module, inputs, output, keep=keep: keep(output)))
        else:
            keep = keeper(True)
            handles = [self.layers[-1][1].register_forward_pre_hook(lambda module, inputs: keep(inputs[0]))]
        self.spent += time.perf_counter() - started
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
        started = time.perf_counter()
        self.spent += spent[0]
        taken = [torch.cat(parts) if parts else None for parts in kept]
        if any(rows is None or len(rows) != len(wanted) for rows in taken):
            self.spent += time.perf_counter() - started
            return  # not the pass expected (another model's, or chunks cut short): the shadow's probe runs
        if split == self.probe_split:
            self.evaluated["stats"] = [activation_stats(rows, isinstance(activation, nn.ReLU))
                                       for rows, activation in zip(taken, self.activations)]
        else:
            self.evaluated["features"] = taken[0]
        self.spent += time.perf_counter() - started

    @torch.no_grad()
    def on_epoch_end(self, epoch: int, step: int, values: dict[str, float], state: EpochState) -> None:
        started = time.perf_counter()
        self.background.check()  # a failed snapshot or save ends the run with its reason, at an epoch's end
        weights = self.parameters  # the live weights (no_grad: no detaching needed)
        # A parameter without a gradient counts as 0; a model with none at all has no gradient numbers.
        grads = ([p.grad if p.grad is not None else torch.zeros_like(p) for p in weights]
                 if any(p.grad is not None for p in weights) else None)
        snapshot = on_schedule(epoch) or epoch == state.config.epochs
        # ‖w‖, ‖w − w_previous‖ and ‖g‖ per parameter, one multi-tensor kernel each (the _foreach_ ops
        # torch.optim and clip_grad_norm_ use: a third of the dispatches), then summed per layer at once.
        # The difference is taken in place in the shadow, which then takes the new weights.
        torch._foreach_sub_(self.shadow_parameters, weights)
        norms = self._layer_norms([*torch._foreach_norm(weights), *torch._foreach_norm(self.shadow_parameters),
                                   *torch._foreach_norm(grads or weights)])  # (weights: a stand-in)
        torch._foreach_copy_(self.shadow_parameters, weights)
        for shadow, buffer in zip(self.shadow_buffers, self.buffers):
            shadow.copy_(buffer)
        weight_norm, moved, grad_norm = norms.unbind()
        row = {"weight_norm": weight_norm,
               "grad_norm": grad_norm if grads is not None else torch.full_like(weight_norm, math.nan),
               "update_ratio": moved / self.previous_norm}
        self.previous_norm = weight_norm
        evaluated, self.evaluated = self.evaluated, {}
        stats, features = evaluated.get("stats"), evaluated.get("features")
        if stats is None or (snapshot and features is None):
            # The loop's passes did not cover the digits (no validation split): the shadow is run over
            # them here; in another thread it took three times the CPU and contended for the GIL.
            stats, features = self._probe(snapshot)
        stats = torch.stack(stats)  # (L, 3): mean, std, dead fraction
        row.update(dead_fraction=stats[:, 2], activation_mean=stats[:, 0], activation_std=stats[:, 1])
        # The snapshot's histograms, 2-D map and images are computed behind the next epoch's training,
        # from copies (the flat per-layer tensors are new ones): the next epoch changes the weights and
        # the shadow, and replaces the gradients.
        parts = ((self._layer_flat(self.shadow_parameters), self._layer_flat(grads) if grads is not None else None,
                  features, first_layer_view(self.shadow_layers[0][1]).clone()) if snapshot else None)
        self.pending.append((epoch, row, parts))
        # At the last epoch the final save goes behind too, beside the reporter's last checkpoint writes.
        save = time.monotonic() >= self.next_save or epoch == state.config.epochs
        if parts is not None or save:
            self._hand_over(save)
        self.spent += time.perf_counter() - started

    def _hand_over(self, save: bool) -> None:
        """Give the pending epochs to the background thread, with a save of the record after them if ``save``."""
        epochs, self.pending = self.pending, []
        if save:
            self.next_save = time.monotonic() + SAVE_EVERY_S
        if epochs or save:
            self.background.submit(lambda: self._finish(epochs, save))

    @torch.no_grad()
    def _finish(self, epochs: list[tuple[int, dict, tuple | None]], save: bool) -> None:
        """In the background thread, in epoch order: each epoch's snapshot if any and its row into the
        record; then a save if asked."""
        started = time.perf_counter()
        for epoch, row, parts in epochs:
            if parts is not None:
                row.update(self._snapshot(*parts))
            if self.inputs.device.type != "cpu":  # everything to the host at once: on a GPU, the recording's waits
                row = {key: value.cpu() for key, value in row.items()}
            row["epoch"] = epoch
            self.record.append(row)
            self.unsaved = True
        if save:
            self.save()
        self.spent_behind += time.perf_counter() - started

    def _snapshot(self, weights: list[torch.Tensor], grads: list[torch.Tensor] | None,
                  features: torch.Tensor | None, first: torch.Tensor) -> dict[str, torch.Tensor]:
        """Histograms of each layer's flat weights and gradients, the 2-D map of ``features``, the first layer's
        images ``first`` (U, h, w): the heavy part, on the device."""
        weight_hist = [histogram(part) for part in weights]
        grad_hist = ([histogram(part) for part in grads] if grads is not None
                     else [(torch.zeros_like(counts), torch.zeros_like(edges)) for counts, edges in weight_hist])
        part = {"weight_counts": torch.stack([c for c, _ in weight_hist]),
                "weight_edges": torch.stack([e for _, e in weight_hist]),
                "grad_counts": torch.stack([c for c, _ in grad_hist]),
                "grad_edges": torch.stack([e for _, e in grad_hist])}
        if features is not None and len(features):
            part["projection"], part["projection_variance"] = project_2d(features, self.last_projection)
        else:  # a dataset with no test digits: an empty map
            part["projection"], part["projection_variance"] = weights[0].new_zeros(0, 2), weights[0].new_zeros(2)
        self.last_projection = part["projection"] if len(part["projection"]) else None
        part["first_layer"], part["first_layer_scale"] = quantize(first)
        return part

    def save(self) -> None:
        if self.run_dir is not None and self.record is not None and self.unsaved:
            self.record.header["recording_seconds"] = self.spent + self.spent_behind  # up to this write
            save_inside(self.run_dir, self.record)
            self.unsaved = False

    def on_end(self, result: TrainResult) -> None:
        started = time.perf_counter()
        self._hand_over(save=False)
        self.background.close()  # the record is whole, and touched by this thread only, from here
        self.save()
        self.spent += time.perf_counter() - started
