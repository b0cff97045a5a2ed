"""A 2-D optimizer playground: torch.optim on a two-parameter tensor over classic loss surfaces.

Each surface is a plain function of (x, y) written with operators only, so the same
function draws the contour plot (NumPy grid) and drives the optimizer (torch tensor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from core.lessons.tensor_demos import code_of

MAX_STEPS = 2_000
ESCAPE = 1e3  # |parameter| beyond this counts as diverged; the plot would be useless anyway


def bowl(x, y):
    return x ** 2 + y ** 2


def valley(x, y):
    return 0.02 * x ** 2 + 2 * y ** 2  # 100x more curved across (y) than along (x)


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2  # minimum at (1, 1) in a curved valley


def saddle(x, y):
    return x ** 2 - y ** 2 + y ** 4 / 4  # saddle at (0, 0), minima at (0, ±√2)


@dataclass(frozen=True)
class Surface:
    """A loss surface, the view to draw it in, and learning rates that suit it."""

    name: str
    function: Callable[[Any, Any], Any]
    start: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    plain_lr: float  # for SGD, momentum, Nesterov: a step is lr × gradient, so it depends on curvature
    adaptive_lr: float  # for Adam, AdamW, RMSprop: a step is about lr, whatever the gradient
    log_scale: bool = False  # contours of log(loss) when the loss spans many decades
    note: str = ""


SURFACES = {
    s.name: s for s in (
        Surface("quadratic bowl", bowl, (-1.5, 1.2), (-2, 2), (-2, 2), ((0, 0),), 0.1, 0.1,
                note="Round: the gradient points straight at the minimum, every optimizer does well."),
        Surface("elongated valley", valley, (-4.5, 1.0), (-5, 5), (-2, 2), ((0, 0),), 0.3, 0.1,
                note="Steep across, flat along: plain SGD zig-zags across and crawls along; "
                     "momentum and adaptive methods fix one or the other."),
        Surface("Rosenbrock", rosenbrock, (-1.2, 1.0), (-2, 2), (-1, 3), ((1, 1),), 0.001, 0.05, log_scale=True,
                note="A curved, narrow valley: easy to reach, slow to follow to (1, 1)."),
        Surface("saddle", saddle, (-1.5, 0.01), (-2, 2), (-2.5, 2.5), ((0, math.sqrt(2)), (0, -math.sqrt(2))),
                0.05, 0.05,
                note="Starts almost on the ridge (y = 0.01): the gradient in y is tiny, so plain SGD "
                     "lingers near the saddle point while adaptive methods escape quickly."),
    )
}

# name -> (torch.optim class, fixed settings shown in the code)
OPTIMIZERS = {
    "SGD": (torch.optim.SGD, {}),
    "Momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "Nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "Adam": (torch.optim.Adam, {}),
    "AdamW": (torch.optim.AdamW, {"weight_decay": 0.01}),
    "RMSprop": (torch.optim.RMSprop, {}),
    "Adagrad": (torch.optim.Adagrad, {}),
}
_PLAIN = ("SGD", "Momentum", "Nesterov")


def find_surface(name: str) -> Surface:
    if name not in SURFACES:
        raise ValueError(f"surface must be one of {list(SURFACES)}, got {name!r}")
    return SURFACES[name]


def default_lr(surface: str, optimizer: str) -> float:
    """A learning rate that shows the optimizer at its typical best on this surface."""
    chosen = find_surface(surface)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    if optimizer in _PLAIN:
        return chosen.plain_lr
    return chosen.adaptive_lr * (5 if optimizer == "Adagrad" else 1)  # Adagrad's steps shrink over time


def optimizer_code(optimizer: str, lr: float) -> str:
    """The constructor call as it appears in the listing."""
    cls, settings = OPTIMIZERS[optimizer]
    extra = "".join(f", {key}={value!r}" for key, value in settings.items())
    return f"torch.optim.{cls.__name__}([p], lr={lr!r}{extra})"


@dataclass(frozen=True)
class Trajectory:
    """One optimizer run: where the parameters went and the loss at each point."""

    optimizer: str
    lr: float
    points: np.ndarray  # (n, 2): the start, then the point after each step
    losses: np.ndarray  # (n,): loss at each point
    diverged: bool  # stopped early: loss not finite or a parameter beyond ESCAPE
    code: str


def _validate(optimizer: str, lr: float, steps: int, start: tuple[float, float]) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    if not 0 < lr <= 10:
        raise ValueError(f"learning rate for {optimizer} must be in (0, 10], got {lr}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    if len(start) != 2 or not all(math.isfinite(v) and abs(v) <= 10 for v in start):
        raise ValueError(f"start must be two numbers within ±10, got {start}")


def run_optimizer(surface: str, optimizer: str, lr: float, steps: int, start: tuple[float, float]) -> Trajectory:
    """Minimise the surface from ``start`` with torch.optim, recording every point."""
    chosen = find_surface(surface)
    _validate(optimizer, lr, steps, start)
    cls, settings = OPTIMIZERS[optimizer]
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)  # the two parameters (x, y)
    opt = cls([p], lr=lr, **settings)
    points, losses, diverged = [], [], False
    for _ in range(steps):
        opt.zero_grad()
        loss = chosen.function(p[0], p[1])
        points.append(p.detach().tolist())
        losses.append(loss.item())
        if not math.isfinite(loss.item()) or p.detach().abs().max() > ESCAPE:
            diverged = True
            break
        loss.backward()
        opt.step()
    else:
        points.append(p.detach().tolist())
        losses.append(chosen.function(*points[-1]))
    return Trajectory(optimizer, lr, np.array(points), np.array(losses, dtype=float), diverged,
                      loop_code(surface, optimizer, lr, steps, start))


def loop_code(surface: str, optimizer: str, lr: float, steps: int, start: tuple[float, float]) -> str:
    """The training loop, as a user would write it, for these settings."""
    formula = code_of(find_surface(surface).function).removeprefix("result = ")
    return "\n".join([
        "import torch",
        "",
        f"p = torch.tensor({[float(v) for v in start]!r}, dtype=torch.float64, requires_grad=True)",
        f"optimizer = {optimizer_code(optimizer, lr)}",
        f"for step in range({steps}):",
        "    optimizer.zero_grad()",
        "    x, y = p[0], p[1]",
        f"    loss = {formula}",
        "    loss.backward()  # fills p.grad",
        "    optimizer.step()  # moves p using p.grad",
    ])


def run_all(surface: str, learning_rates: dict[str, float], steps: int,
            start: tuple[float, float]) -> dict[str, Trajectory]:
    """One trajectory per optimizer, all from the same start."""
    return {name: run_optimizer(surface, name, lr, steps, start) for name, lr in learning_rates.items()}


def surface_grid(surface: str, points: int = 120) -> dict[str, Any]:
    """Loss on a grid for a contour plot; z is log10(1 + loss - min) for log-scale surfaces."""
    chosen = find_surface(surface)
    xs = np.linspace(*chosen.x_range, points)
    ys = np.linspace(*chosen.y_range, points)
    grid_x, grid_y = np.meshgrid(xs, ys)  # (points, points); rows follow y
    z = chosen.function(grid_x, grid_y)
    if chosen.log_scale:
        return {"x": xs, "y": ys, "z": np.log10(1 + z - z.min()), "title": "log10(1 + loss)"}
    return {"x": xs, "y": ys, "z": z, "title": "loss"}


def summarise(trajectories: dict[str, Trajectory], surface: str) -> list[dict[str, Any]]:
    """A table row per optimizer: final point, final loss, distance to the nearest minimum."""
    minima = np.array(find_surface(surface).minima, dtype=float)
    rows = []
    for name, run in trajectories.items():
        end = run.points[-1]
        rows.append({
            "optimizer": name, "lr": run.lr, "steps": len(run.points) - 1,
            "final x": round(float(end[0]), 4), "final y": round(float(end[1]), 4),
            "final loss": float(run.losses[-1]),
            "distance to minimum": float(np.min(np.linalg.norm(minima - end, axis=1))),
            "diverged": run.diverged,
        })
    return rows
