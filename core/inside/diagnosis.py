"""Plain-language warnings from a recording's numbers: vanishing gradients, exploding updates, dying ReLUs.

Pure: a payload in (:mod:`core.inside.storage`), warnings out. The thresholds were set on real runs
on the embedded digits, so that each warning fires where it is true and stays quiet on the presets:

* vanishing gradients: a 4×128 sigmoid MLP trained with SGD at lr 0.1 ends its first epoch with a
  first-layer gradient norm 1/400-1/500 of the last layer's (later epochs too); the same net with
  ReLU ~1/1, the guide's MLP ~1/1, the small CNN 1/2-1/7. Warned below 1/100.
* exploding updates: the update ratio is recorded over a whole epoch, so it is divided by the
  epoch's steps: ‖Δw‖/‖w‖ per step, at least (‖Σ steps‖ ≤ Σ ‖step‖). Runs that learn well stay
  under 0.1 per step in their first epoch, where weights move most (guide's MLP 0.02, Adam at lr
  0.01 0.09), except RMSprop's start-up (0.2 at lr 0.001), and under 0.03 after it. A learning rate
  too high shows in epoch 1 (Adam at lr 0.1: 0.9, SGD at lr 1: 0.3-0.4) and can look calm later,
  once the weights have grown. Warned above 0.25 in any epoch, so the 1e-3-per-step rule of thumb
  of bigger networks is not what is checked: on these small nets healthy steps are ~0.005-0.02.
* dying ReLUs: the guide's MLP keeps ~2 % of its units dead on the probe digits, Adam at lr 0.01
  ~25 %; at lr 0.05, or SGD at lr 1, over 70 %. Warned above 50 % at the latest epoch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

VANISHING_RATIO = 1 / 100  # first layer's gradient norm over the last layer's
MAX_UPDATE_PER_STEP = 0.25  # update ratio over an epoch / steps in it
MAX_DEAD_FRACTION = 0.5


@dataclass(frozen=True)
class InsideWarning:
    kind: str  # "vanishing_gradients", "exploding_updates" or "dying_relus"
    layer: str  # module path of the layer it is about
    epoch: int
    value: float  # the number that crossed the threshold
    message: str

    def to_dict(self) -> dict:
        """As JSON can hold it: a value that is not finite becomes None."""
        return {**asdict(self), "value": self.value if math.isfinite(self.value) else None}


def inside_warnings(payload: dict) -> list[InsideWarning]:
    """The warnings a recording supports, most fundamental first; [] for a healthy run or no epochs."""
    epochs = payload["epochs"].tolist()
    if not epochs:
        return []
    layers, last = payload["layers"], len(epochs) - 1
    found = []
    grads = payload["grad_norm"][last].tolist()
    ratio = grads[0] / grads[-1] if len(layers) > 1 and grads[-1] > 0 else math.nan  # NaN compares false
    if ratio < VANISHING_RATIO:
        size = f"{1 / ratio:,.0f}× smaller than the last layer's" if ratio > 0 else "zero (the last layer's is not)"
        found.append(InsideWarning(
            "vanishing_gradients", layers[0], epochs[last], ratio,
            f"Vanishing gradients: after epoch {epochs[last]} the first layer's gradient is {size}, so the first "
            "layers learn far more slowly than the last. Saturating activations (sigmoid, tanh) in a deep net do "
            "this; ReLU, fewer layers or Adam help."))
    steps = max(1, int(payload["steps_per_epoch"]))
    per_step = (payload["update_ratio"] / steps).nan_to_num(nan=0.0, posinf=math.inf)  # (E, L)
    if per_step.numel() and per_step.max().item() > MAX_UPDATE_PER_STEP:
        row, layer = divmod(int(per_step.argmax()), len(layers))
        value = per_step[row, layer].item()
        found.append(InsideWarning(
            "exploding_updates", layers[layer], epochs[row], value,
            f"Exploding updates: in epoch {epochs[row]} the weights of {payload['kinds'][layer]} ({layers[layer]}) "
            f"changed by at least {value:.0%} of their size per step on average. Steps this large make training "
            "jump around or blow up: lower the learning rate (try a tenth)."))
    dead = [(d, i) for i, d in enumerate(payload["dead_fraction"][last].tolist()) if not math.isnan(d)]
    if dead and max(dead)[0] > MAX_DEAD_FRACTION:
        value, layer = max(dead)
        found.append(InsideWarning(
            "dying_relus", layers[layer], epochs[last], value,
            f"Dying ReLUs: after epoch {epochs[last]}, {value:.0%} of the units after {payload['kinds'][layer]} "
            f"({layers[layer]}) output 0 for every probe digit, so they pass no gradient and have stopped learning. "
            "A learning rate too high usually kills them: lower it, or try GELU."))
    return found
