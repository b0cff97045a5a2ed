"""Seeds as noise, wherever runs are compared: one band per config over its seeds, and whether two configs
differ by more than their seeds do."""
import streamlit as st

from core.results import compare
from core.results.seed_noise import noise_verdict, seed_band, seed_groups
from core.store.run_store import Run
from dashboard import figures
from dashboard.common import store

IGNORED = ("seed", *compare.LEGEND_IGNORES)


def group_labels(groups: list[list[Run]]) -> list[str]:
    """'lr=0.003 · 2 seeds': what sets each config apart from the others, and how many seeds it has."""
    configs = [compare.with_defaults(group[0].config) for group in groups]
    fields = compare.differing_fields(configs, ignore=IGNORED)
    return [f"{compare.legend_label(config, fields) or group[0].name} · {len(group)} seed"
            f"{'s' if len(group) > 1 else ''}" for config, group in zip(configs, groups)]


def config_bands(runs: list[Run], key: str) -> bool:
    """Loss and validation accuracy per config: seeds' mean as a line, their min-max as a band. False if no runs."""
    groups = seed_groups(runs)
    if not groups:
        st.caption("Curves show here once runs have started.")
        return False
    labels = dict(enumerate(group_labels(groups)))
    colors = figures.palette(list(labels))
    overlay = compare.overlay_series(store(), [run.id for run in runs])
    left, right = st.columns(2)
    for where, name, title, per_epoch in ((left, "loss_smooth", "Training loss (smoothed)", False),
                                          (right, "val_accuracy", "Validation accuracy", True)):
        bands = {index: seed_band([overlay[name][run.id] for run in group if run.id in overlay[name]])
                 for index, group in enumerate(groups)}
        figures.show(figures.band_figure(bands, labels, colors, title, per_epoch), where=where, width="stretch",
                     key=f"{key}_band_{name}")
    st.caption("A line per config: the mean over its seeds; the shaded band spans the lowest to the highest seed.")
    return True


def final_accuracies(group: list[Run]) -> list[float]:
    return [run.summary["val_accuracy"] for run in group
            if run.status == "completed" and isinstance(run.summary.get("val_accuracy"), float)]


def noise_pick(runs: list[Run], key: str) -> None:
    """Two configs side by side: is the difference in final validation accuracy bigger than the seed noise?"""
    groups = [group for group in seed_groups(runs) if final_accuracies(group)]
    if len(groups) < 2:
        st.caption("With two configs finished, this says whether their difference beats the noise between seeds.")
        return
    # The labels themselves are the options: a choice kept from an earlier set of runs cannot point elsewhere.
    by_label = dict(zip(group_labels(groups), groups))
    labels = list(by_label)
    means = {label: sum(final_accuracies(g)) / len(final_accuracies(g)) for label, g in by_label.items()}
    ranked = sorted(range(len(labels)), key=lambda index: -means[labels[index]])  # default: the two best
    left, right = st.columns(2)
    first = left.selectbox("Config A", labels, index=ranked[1], key=f"{key}_noise_a")
    second = right.selectbox("Config B", labels, index=ranked[0], key=f"{key}_noise_b")
    if first == second:
        st.caption("Pick two different configs.")
        return
    verdict = noise_verdict(final_accuracies(by_label[first]), final_accuracies(by_label[second]))
    (st.success if verdict.verdict == "larger than seed noise" else st.info)(verdict.sentence)


def seed_comparison(chosen: list[Run]) -> bool:
    """On the Runs page: bands instead of one line per run when some chosen runs share a config. True if drawn."""
    if len(seed_groups(chosen)) == len(chosen):
        return False
    if not st.toggle("One band per config over its seeds", value=True, key="runs_seed_bands",
                     help="runs that differ only in their seed drawn as their mean and min-max"):
        return False
    config_bands(chosen, key="runs")
    noise_pick(chosen, key="runs")
    return True
