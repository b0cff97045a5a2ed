"""The optimizer playground: torch.optim on two parameters, trajectories, and the loop listing."""
import numpy as np
import pytest
import torch

from core.lessons.optim_playground import (
    OPTIMIZERS,
    SURFACES,
    default_lr,
    run_all,
    run_optimizer,
    summarise,
    surface_grid,
)


@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_optimizer_makes_progress_with_its_default_lr(surface):
    start = SURFACES[surface].start
    runs = run_all(surface, {name: default_lr(surface, name) for name in OPTIMIZERS}, 150, start)
    for name, run in runs.items():
        assert not run.diverged, name
        assert run.points.shape == (151, 2) and run.losses.shape == (151,)
        assert run.losses[-1] < run.losses[0], (surface, name)


def test_sgd_on_the_bowl_follows_the_closed_form():
    # loss = x² + y², gradient 2p, so each SGD step multiplies p by (1 - 2 lr).
    run = run_optimizer("quadratic bowl", "SGD", 0.1, 10, (1.0, -2.0))
    expected = np.array([1.0, -2.0]) * 0.8 ** np.arange(11)[:, None]
    np.testing.assert_allclose(run.points, expected, rtol=1e-12)
    np.testing.assert_allclose(run.losses, (expected ** 2).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["Nesterov", "AdamW", "Adagrad"])
def test_listing_is_the_loop_that_ran(optimizer):
    run = run_optimizer("Rosenbrock", optimizer, default_lr("Rosenbrock", optimizer), 40, (-1.2, 1.0))
    namespace = {}
    exec(run.code, namespace)  # the listing shown on the page
    np.testing.assert_allclose(namespace["p"].detach().numpy(), run.points[-1], rtol=0, atol=1e-12)


def test_too_large_a_learning_rate_diverges_and_stops_early():
    run = run_optimizer("quadratic bowl", "SGD", 2.0, 500, (1.0, 1.0))
    assert run.diverged and len(run.points) < 501
    assert summarise({"SGD": run}, "quadratic bowl")[0]["diverged"]


def test_adaptive_methods_leave_the_saddle_sooner_than_sgd():
    runs = run_all("saddle", {"SGD": 0.05, "Adam": 0.05}, 25, SURFACES["saddle"].start)
    assert abs(runs["Adam"].points[-1, 1]) > 5 * abs(runs["SGD"].points[-1, 1])


def test_momentum_beats_sgd_along_the_valley():
    rows = summarise(run_all("elongated valley", {"SGD": 0.3, "Momentum": 0.3}, 150, (-4.5, 1.0)),
                     "elongated valley")
    by_name = {row["optimizer"]: row for row in rows}
    assert by_name["Momentum"]["distance to minimum"] < 0.1 * by_name["SGD"]["distance to minimum"]


def test_grid_has_its_minimum_where_the_surface_does():
    grid = surface_grid("quadratic bowl", points=101)
    assert grid["z"].shape == (101, 101)
    row, column = np.unravel_index(np.argmin(grid["z"]), grid["z"].shape)
    assert grid["x"][column] == pytest.approx(0.0, abs=0.05) and grid["y"][row] == pytest.approx(0.0, abs=0.05)
    assert surface_grid("Rosenbrock")["title"].startswith("log10")


@pytest.mark.parametrize("arguments, message", [
    (("quadratic bowl", "SGD", 0.0, 10, (0.0, 0.0)), "learning rate"),
    (("quadratic bowl", "SGD", 0.1, 0, (0.0, 0.0)), "steps"),
    (("quadratic bowl", "SGD", 0.1, 10, (float("nan"), 0.0)), "start"),
    (("quadratic bowl", "LBFGS", 0.1, 10, (0.0, 0.0)), "optimizer must be one of"),
    (("flat", "SGD", 0.1, 10, (0.0, 0.0)), "surface must be one of"),
])
def test_bad_settings_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        run_optimizer(*arguments)


def test_runs_do_not_touch_the_global_random_state():
    before = torch.random.get_rng_state()
    run_optimizer("quadratic bowl", "Adam", 0.1, 5, (1.0, 1.0))
    assert torch.equal(before, torch.random.get_rng_state())
