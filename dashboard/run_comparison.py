"""The Runs page's comparison: chosen runs' curves overlaid (seeds of one config as a band), a table of the
settings that differ, and which test digits flipped."""
import streamlit as st

from core.results import compare
from dashboard import figures
from dashboard.common import store
from dashboard.flip_section import flip_section
from dashboard.seed_sections import seed_comparison

HIGHLIGHT = "background-color: rgba(255, 189, 69, 0.35)"


def comparison(chosen: list) -> None:
    if not seed_comparison(chosen):  # runs sharing a config are drawn as one band over their seeds instead
        curves(chosen)
    if len(chosen) >= 2:
        settings_diff(chosen)
    flip_section(chosen)


def curves(chosen: list) -> None:
    labels = compare.trace_labels(chosen)
    colors = figures.palette([run.id for run in chosen])  # a run keeps its colour on both charts
    overlay = compare.overlay_series(store(), [run.id for run in chosen])
    left, right = st.columns(2)
    figures.show(figures.overlay_figure(overlay["loss_smooth"], labels, colors, "Training loss (smoothed)", False),
                 where=left, width="stretch", key="runs_compare_loss")
    figures.show(figures.overlay_figure(overlay["val_accuracy"], labels, colors, "Validation accuracy", True),
                 where=right, width="stretch", key="runs_compare_acc")


def settings_diff(chosen: list) -> None:
    diff = compare.config_diff_table(chosen)
    differing = list(diff.index[diff["differs"]])
    st.markdown(f"**Settings that differ:** {', '.join(differing) or 'none (same config)'}")
    if st.toggle("Only the settings that differ", key="runs_diff_only"):
        diff = diff[diff["differs"]]
    styled = diff.style.apply(lambda row: [HIGHLIGHT if row["differs"] else ""] * len(row), axis=1)
    st.dataframe(styled, width="stretch", key="runs_diff", height=min(36 * (len(diff) + 1) + 3, 560),
                 column_config={"_index": st.column_config.Column("field", width="medium")})
