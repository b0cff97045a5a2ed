"""Who may do what in a public deployment: the acting workspace, its limits, and the refusals.

A :class:`~core.store.run_store.RunStore` bound to an :class:`Actor` (``store.acting_as(actor)``)
shows that workspace its own runs, the runs started from a shell (workspace ``""``, read-only
examples) and runs opened through a share link (read-only), and refuses everything else with
:class:`NotAllowed`. A store with no actor is laptop mode and the worker's view: it sees and
may do everything. Limits are checked here, in core, whatever the page did or did not disable.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import torch

from core.config import TrainConfig, model_from_config
from core.data.digits import EMBEDDED, default_data_dir
from core.data.torchvision_sets import TORCHVISION_SETS

# A visitor's id is random (22 URL-safe characters) or derived from a signed-in user; either way
# at least 16 characters, so ids cannot be guessed, and never "" (the shell's runs).
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class NotAllowed(ValueError):
    """An action on a run, share or upload that the acting workspace does not own."""


class LimitReached(ValueError):
    """A request beyond a public deployment's limits; the message names the limit and its variable."""


@dataclass(frozen=True)
class Limits:
    """What one visitor may ask of a public deployment; each from an environment variable."""

    runs_per_workspace: int = 1  # runs one workspace may train at once
    max_runs: int = 2  # runs all workspaces together may train at once (the laptop's cap too)
    epochs: int = 50
    parameters: int = 2_000_000  # model size; 2M fp32 weights are an 8 MB checkpoint (24 MB with Adam's state)
    batch_size: int = 1024
    upload_mb: int = 20
    uploads: int = 5  # uploads one workspace may keep
    runs_kept: int = 30  # runs one workspace may keep
    idle_days: float = 7.0  # a workspace unused this long is removed, with its runs and uploads
    run_minutes: float = 20.0  # a visitor's run training longer is asked to stop (its weights are kept)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Limits":
        """Defaults overridden by the variables in VARIABLES; a bad value is a ValueError naming it."""
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            text = str(environ.get(VARIABLES[item.name], "")).strip()
            if not text:
                continue
            try:
                value = float(text) if item.type == "float" else int(text)
            except ValueError:
                value = math.nan
            if not (value > 0 and math.isfinite(value)):
                kind = "a number" if item.type == "float" else "a whole number"
                raise ValueError(f"{VARIABLES[item.name]} must be {kind} above 0, got {text!r}. "
                                 "Fix it in the server's environment (or secrets) and restart.")
            values[item.name] = value
        return cls(**values)


VARIABLES = {
    "runs_per_workspace": "DIGITLAB_RUNS_PER_WORKSPACE",
    "max_runs": "DIGITLAB_MAX_RUNS",
    "epochs": "DIGITLAB_MAX_EPOCHS",
    "parameters": "DIGITLAB_MAX_PARAMETERS",
    "batch_size": "DIGITLAB_MAX_BATCH_SIZE",
    "upload_mb": "DIGITLAB_MAX_UPLOAD_MB",
    "uploads": "DIGITLAB_MAX_UPLOADS",
    "runs_kept": "DIGITLAB_MAX_RUNS_KEPT",
    "idle_days": "DIGITLAB_IDLE_DAYS",
    "run_minutes": "DIGITLAB_MAX_RUN_MINUTES",
}


def valid_workspace(workspace: str) -> bool:
    return isinstance(workspace, str) and WORKSPACE_ID.fullmatch(workspace) is not None


@dataclass(frozen=True)
class Actor:
    """The workspace acting, its limits, and the runs it may read through share links."""

    workspace: str
    limits: Limits = field(default_factory=Limits)
    shared: frozenset[str] = frozenset()  # run ids opened through share links: read-only

    def __post_init__(self):
        if not valid_workspace(self.workspace):
            raise NotAllowed(f"{self.workspace!r} is not a workspace id (16 to 64 letters, digits, - or _). "
                             "Open the app without ?ws= to get a new workspace.")

    def sharing(self, run_ids) -> "Actor":
        return replace(self, shared=frozenset(run_ids))


def parameter_count(config: TrainConfig) -> int:
    """The model's number of weights, counted on the meta device: no memory, even for a huge model."""
    with torch.device("meta"):
        model = model_from_config(config)
    return sum(parameter.numel() for parameter in model.parameters())


def check_config(config: TrainConfig, limits: Limits) -> None:
    """Refuse a validated config that asks for more than the limits, or for data outside the server's folder."""
    for name, value, limit in (("epochs", config.epochs, limits.epochs),
                               ("batch size", config.batch_size, limits.batch_size)):
        if value > limit:
            key = "epochs" if name == "epochs" else "batch_size"
            raise LimitReached(f"{name} is {value:,}, more than the {limit:,} a run may have on this server "
                               f"({VARIABLES[key]}). Lower it and start again.")
    count = parameter_count(config)
    if count > limits.parameters:
        raise LimitReached(f"this model has {count:,} parameters, more than the {limits.parameters:,} a model may "
                           f"have on this server ({VARIABLES['parameters']}). Use fewer or smaller hidden layers "
                           "(or fewer CNN channels).")
    if not (config.dataset == EMBEDDED or config.dataset in TORCHVISION_SETS or
            re.fullmatch(r"upload:[0-9a-f]{12}", config.dataset)):
        raise NotAllowed(f"dataset {config.dataset!r} is not available on this server: pick the embedded digits, "
                         "an MNIST set or one of your uploads (Data page).")
    if config.data_dir and Path(config.data_dir).resolve() != default_data_dir().resolve():
        raise NotAllowed("data_dir must be left empty on this server: datasets live in the server's data folder.")
