"""Sweep plans: grid and random expansion, the text people type, and the messages for bad input."""
import math

import pytest

from core.sweep.plan import (
    MAX_RUNS,
    SweepSpec,
    combinations,
    default_jobs,
    expand,
    parse_field,
    run_count,
    spec_from_text,
)


def test_grid_is_every_combination_times_every_seed_with_seeds_together():
    spec = spec_from_text({"lr": "0.001,0.01", "hidden": "50,128-64", "epochs": "1"}, seeds="0,1")
    planned = expand(spec)
    assert run_count(spec) == len(planned) == 2 * 2 * 2
    configs = [config for _, config in planned]
    assert {(c.lr, c.hidden, c.seed) for c in configs} == {(lr, hidden, seed) for lr in (0.001, 0.01)
                                                           for hidden in ((50,), (128, 64)) for seed in (0, 1)}
    assert [c.seed for c in configs[:2]] == [0, 1] and configs[0].lr == configs[1].lr  # a config's seeds adjacent
    assert all(c.epochs == 1 for c in configs)  # a single value is a fixed field
    assert planned[0][0] == "hidden=50, lr=0.001, seed=0"  # labels name what varies, in config order


def test_random_draws_are_reproducible_in_range_and_log_uniform_for_the_learning_rate():
    spec = spec_from_text({"lr": "0.0001:0.1", "dropout": "0:0.5", "batch_size": "32:512", "optimizer": "adam,sgd"},
                          seeds="0", samples=200, sample_seed=3)
    draws = combinations(spec)
    assert draws == combinations(spec) and draws != combinations(SweepSpec.from_dict({**spec.to_dict(),
                                                                                        "sample_seed": 4}))
    assert len(draws) == 200
    assert all(1e-4 <= d["lr"] <= 0.1 and 0 <= d["dropout"] <= 0.5 and 32 <= d["batch_size"] <= 512 for d in draws)
    assert all(isinstance(d["batch_size"], int) for d in draws) and {d["optimizer"] for d in draws} == {"adam", "sgd"}
    # Log-uniform: each of the three decades holds about a third of the draws (uniform would put ~90 % in the last).
    decades = [sum(10 ** k <= d["lr"] < 10 ** (k + 1) for d in draws) for k in (-4, -3, -2)]
    assert all(40 <= count <= 95 for count in decades), decades
    assert math.isclose(sum(d["dropout"] for d in draws) / 200, 0.25, abs_tol=0.05)


def test_a_spec_survives_json_and_expands_the_same():
    spec = spec_from_text({"hidden": "50,128-64"}, seeds="1,2", base={"epochs": 1, "hidden": "7"})
    again = SweepSpec.from_dict(spec.to_dict())
    assert [c for _, c in expand(again)] == [c for _, c in expand(spec)]
    assert "hidden" not in spec.base  # the swept field overrides the base


@pytest.mark.parametrize("fields, seeds, samples, message", [
    ({"lr": "0.001:0.01"}, "0", 0, "needs random samples"),
    ({"lr": "fast"}, "0", 0, "lr: 'fast' is not a number"),
    ({"hidden": "50,a-b"}, "0", 0, "whole numbers joined by '-'"),
    ({"optimizer": "adam:sgd"}, "0", 2, "a range (low:high) needs a numeric field"),
    ({"lr": "0.01:0.001"}, "0", 2, "low end must be below"),
    ({"seed": "1,2"}, "0", 0, "seed cannot be swept"),
    ({"lr": ""}, "0", 0, "give at least one value"),
    ({"lr": "0.001"}, "one", 0, "seeds must be whole numbers"),
    ({"weight_decay": "0:0.1"}, "0", 2, "must start above 0"),
])
def test_bad_input_says_what_is_wrong(fields, seeds, samples, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand(spec_from_text(fields, seeds, samples))


def test_a_value_the_config_refuses_names_the_field_and_the_config():
    with pytest.raises(ValueError, match=r"lr must be from .* \(in the config lr=20"):
        expand(spec_from_text({"lr": "0.001,20"}))


def test_too_many_runs_are_refused_before_anything_is_made():
    spec = spec_from_text({"lr": ",".join(str(i / 1000) for i in range(1, 11)), "batch_size": "16,32,64,128,256"},
                          seeds=",".join(map(str, range(5))))
    assert run_count(spec) == 250 > MAX_RUNS
    with pytest.raises(ValueError, match="250 runs, more than the 200"):
        expand(spec)


def test_parse_field_types_and_dedupes():
    assert parse_field("augment", "true,no") == ("values", [True, False])
    assert parse_field("batch_size", "64,64,128") == ("values", [64, 128])
    assert parse_field("lr", "1e-4:1e-2") == ("range", (1e-4, 1e-2))


def test_default_jobs_divides_the_cores_by_the_threads_a_run_takes(monkeypatch):
    monkeypatch.setattr("core.sweep.plan.cpu_count", lambda: 2)
    one_thread = [config for _, config in expand(spec_from_text({"lr": "0.001,0.01"}))]
    assert default_jobs(one_thread) == 2  # 2 cores, 1-thread MLP runs
    two_threads = [config for _, config in expand(spec_from_text({"lr": "0.001"}, base={"threads": 2}))]
    assert default_jobs(two_threads) == 1
