"""The Sweeps page's view of one sweep: progress and Stop/Resume, results, parallel coordinates, each field's
effect, seeds as bands, and "use the best config" for the Train form."""
import streamlit as st

from core.results import sweep_summary
from core.results.compare import format_value
from core.store.sweep_store import Sweep
from core.sweep.control import resume_sweep, stop_sweep
from dashboard import figures, train_form
from dashboard.common import store
from dashboard.seed_sections import config_bands, noise_pick

COLUMNS = {"val_accuracy": st.column_config.NumberColumn("val", format="percent"),
           "test_accuracy": st.column_config.NumberColumn("test", format="percent")}


def use_config(config: dict) -> None:
    """Fill the Train form with a run's settings (session state the Train page's widgets read)."""
    for key in train_form.DEFAULTS:
        value = config.get(key.removeprefix("train_"), train_form.DEFAULTS[key])
        st.session_state[key] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    st.session_state.sweep_flash = ("success", "The Train form now holds the best config: open **Train** and "
                                               "press Start training (its seed too: change it to check the result).")


def act(action, sweep_id: str, done: str) -> None:
    try:
        action(sweep_id)
        st.session_state.sweep_flash = ("success", done)
    except ValueError as exc:
        st.session_state.sweep_flash = ("error", str(exc))


def resume(sweep_id: str) -> None:
    resume_sweep(store(), sweep_id)  # no capacity check here: the scheduler waits for free slots itself


def controls(sweep: Sweep, counts: dict) -> None:
    st.progress(counts["finished"] / max(1, counts["total"]),
                text=f"{sweep.status} · {counts['finished']}/{counts['total']} runs finished · {counts['training']} "
                     f"training · {counts['queued']} queued · at most {sweep.jobs} at once")
    if sweep.active:
        st.button("Stop sweep", key="sweep_stop", icon=":material/stop:", on_click=act,
                  args=(lambda sweep_id: stop_sweep(store(), sweep_id), sweep.id,
                        "Stop requested: nothing more starts, and its runs stop after their current batch."),
                  help="stops every run of the sweep; Resume later trains what did not finish")
    elif sweep.status in ("stopped", "interrupted"):
        if sweep.error:
            st.caption(sweep.error)
        st.button("Resume sweep", key="sweep_resume", icon=":material/play_arrow:", on_click=act,
                  args=(resume, sweep.id, "Resumed: the runs that did not finish train again."))


def best_section(rows: list[dict], final: bool) -> None:
    best = sweep_summary.best_run(rows)
    if best is None:
        st.caption("The best config shows here once a run has finished.")
        return
    heading = "Best" if final else "Best so far"
    st.markdown(f"**{heading}:** {best['label']} · validation accuracy **{best['val_accuracy']:.2%}** "
                f"(test {best['test_accuracy']:.2%}).")
    st.caption("Picked on validation accuracy, never on the test set: choosing by the test digits would make "
               "their accuracy an optimistic guess of how the config does on new digits.")
    st.button("Use the best config", key="sweep_use_best", icon=":material/input:", on_click=use_config,
              args=(best["config"],), help="fills the Train page's form with this run's settings")


def effects(rows: list[dict]) -> None:
    fields = sweep_summary.varying_fields(rows)
    groups = sweep_summary.seed_groups(rows)
    if not fields or not any(group["mean_val_accuracy"] is not None for group in groups):
        st.caption("Each varying field's effect shows here once runs have finished.")
        return
    columns = st.columns(min(3, len(fields)))
    for index, field in enumerate(fields):
        effect = sweep_summary.field_effect(groups, field, fields)
        figures.show(figures.effect_figure(effect, field), where=columns[index % len(columns)], width="stretch",
                     key=f"sweep_effect_{field}")
    st.caption("A dot per config at its mean over seeds; the bar spans its seeds' lowest to highest accuracy.")


def view(sweep_id: str) -> None:
    sweep, rows = sweep_summary.sweep_rows(store(), sweep_id)
    controls(sweep, sweep_summary.progress_counts(rows))
    table, parallel, effect, seeds = st.tabs(["Results", "Parallel coordinates", "Each field's effect", "Seeds"])
    with table:
        st.dataframe(sweep_summary.results_table(rows), hide_index=True, width="stretch", column_config=COLUMNS,
                     key="sweep_table")
        best_section(rows, final=not sweep.active)
    with parallel:
        data = sweep_summary.parallel_table(rows)
        if len(data) and len(data.columns) > 1:
            figures.show(figures.parallel_figure(data), width="stretch", key="sweep_parallel")
            st.caption("One line per finished run; drag along an axis to keep only the lines that pass there.")
        else:
            st.caption("Lines appear as runs finish (a sweep that varies no field has no axes to draw).")
    with effect:
        effects(rows)
    with seeds:
        runs = [run for run in store().list_runs() if run.id in {row["run_id"] for row in rows}]
        config_bands(runs, key="sweep")
        noise_pick(runs, key="sweep")
    if st.session_state.get("sweep_live") and not sweep.active:
        st.session_state.sweep_live = False
        st.rerun()  # the whole page, so the poller stops polling a finished sweep
    st.session_state.sweep_live = sweep.active


def describe(sweep: Sweep) -> str:
    spec = sweep.spec
    values = ", ".join(f"{k}={'/'.join(format_value(v) for v in vs)}" for k, vs in spec.get("values", {}).items()
                       if len(vs) > 1)
    ranges = ", ".join(f"{k}∈[{format_value(lo)}, {format_value(hi)}]" for k, (lo, hi) in
                       spec.get("ranges", {}).items())
    return " · ".join(part for part in (values, ranges, f"seeds {'/'.join(map(str, spec.get('seeds', [])))}") if part)
