"""The learning-rate range test: the known answer on a quadratic, a sensible rate for the guide's MLP, the CLI."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.lr_find import build_parser, main
from core.training.lr_find import EXPLODED, lr_find, range_test

ROOT = Path(__file__).resolve().parents[1]


def quadratic_sgd(curvature: float):
    """SGD on ½·a·w² from w = 1: w ← (1 − lr·a)·w, fastest at lr = 1/a, diverging past 2/a."""
    w = [1.0]

    def step(lr: float) -> float:
        loss = 0.5 * curvature * w[0] ** 2
        w[0] -= lr * curvature * w[0]
        return loss

    return step


@pytest.mark.parametrize("curvature", [4.0, 100.0])
def test_finds_sgds_best_rate_on_a_quadratic(curvature):
    result = range_test(quadratic_sgd(curvature))
    best = 1 / curvature
    assert best / 2 <= result.suggested_lr <= 2 * best
    assert len(result.lr) < 100, "stops once the loss explodes, long before lr = 10"
    assert result.loss[-1] > EXPLODED * min(result.loss)


def test_rates_grow_exponentially_and_the_loss_is_smoothed_without_bias():
    result = range_test(lambda lr: 2.0, start_lr=1e-4, end_lr=1.0, steps=5)
    assert result.lr == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert result.loss == pytest.approx([2.0] * 5), "a debiased average of a constant is that constant"
    with pytest.raises(ValueError, match="0 < start < end"):
        range_test(lambda lr: 1.0, start_lr=1.0, end_lr=0.1)


@pytest.fixture(scope="module")
def data():
    return load_dataset("embedded", val_fraction=0.1)


def test_guides_mlp_with_adam_gets_a_rate_between_1e_4_and_5e_2(data):
    state = torch.random.get_rng_state()
    result = lr_find(TrainConfig(threads=1), data)
    assert 1e-4 <= result.suggested_lr <= 5e-2
    assert result.loss[0] == pytest.approx(math.log(10), abs=0.2), "an untrained net guesses: ln 10"
    assert min(result.loss) < 1.5, "the loss falls on the way up"
    assert len(result.lr) == len(result.loss) == len(result.raw_loss)
    assert torch.equal(torch.random.get_rng_state(), state), "the caller's random state is left alone"


def test_command_shares_train_flags_prints_json_and_writes_no_run(tmp_path, capsys):
    flags = build_parser().format_help()
    for flag in ("--optimizer", "--batch-size", "--hidden", "--augment", "--config", "--json"):
        assert flag in flags
    env = {**os.environ, "DIGITLAB_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run([sys.executable, "-m", "core.lr_find", "--threads", "1", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert {"suggested_lr", "lr", "loss"} <= set(shown)
    assert 1e-4 <= shown["suggested_lr"] <= 5e-2 and len(shown["lr"]) == len(shown["loss"]) > 10
    assert not (tmp_path / "runs").exists(), "the range test never touches the run store"
    assert main(["--lr", "-1"]) == 2
    assert "error: lr must be from" in capsys.readouterr().err
