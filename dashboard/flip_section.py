"""The Runs page's "which digits flipped": test digits one side gets right and the other wrong, both ways,
for two runs or two epochs of one run, as counts and galleries with both predictions."""
import streamlit as st

from core.results.flips import Flips, run_flips
from core.results.inspection import dataset_source, file_mtime, upscale
from core.store import run_files
from core.store.run_store import Run, load_predictions
from dashboard.common import dataset, run_label, store

SHOWN, SCALE = 30, 2  # digits per gallery; 28 px -> 56 px


def flips(first: str, second: str, epochs: tuple, mtimes: tuple, source: tuple) -> Flips:
    for run_id in (first, second):  # the cache is shared by every session, and a hit skips the store's check
        store().check_visible(run_id)
    return _flips(first, second, epochs, mtimes, source)


@st.cache_data(show_spinner=False, max_entries=16)
def _flips(first: str, second: str, epochs: tuple, mtimes: tuple, source: tuple) -> Flips:
    # mtimes: the predictions file grows every epoch, so a run still training gets fresh flips.
    labels = dataset(*source).split("test")[1]
    return run_flips(store(), first, second, *epochs, labels=labels)


def recorded_epochs(run: Run) -> list[int]:
    try:
        return [int(e) for e in load_predictions(store(), run.id)["epochs"].tolist()]
    except ValueError:
        return []


def sides(chosen: list[Run]) -> tuple[Run, Run, int | None, int | None] | None:
    """The two sides to compare: two runs (latest epochs), or two epochs of one run."""
    if len(chosen) == 1:
        epochs = recorded_epochs(chosen[0])
        if len(epochs) < 2:
            st.caption("Two epochs of this run can be compared once it has recorded two.")
            return None
        left, right = st.columns(2)
        first = left.selectbox("First epoch", epochs, index=0, key="flips_epoch_a")
        second = right.selectbox("Second epoch", epochs, index=len(epochs) - 1, key="flips_epoch_b")
        return chosen[0], chosen[0], first, second
    by_id = {run.id: run for run in chosen}
    left, right = st.columns(2)
    first = left.selectbox("First run", list(by_id), index=0, key="flips_run_a",
                           format_func=lambda run_id: run_label(by_id[run_id]))
    second = right.selectbox("Second run", list(by_id), index=1, key="flips_run_b",
                             format_func=lambda run_id: run_label(by_id[run_id]))
    return by_id[first], by_id[second], None, None


def gallery(result: Flips, positions, images, title: str, where) -> None:
    where.markdown(f"**{title}: {len(positions)}**")
    shown = positions[:SHOWN]
    if not len(shown):
        where.caption("none")
        return
    captions = [f"{result.labels[i]}: {result.first[i]}→{result.second[i]}" for i in shown]
    where.image(list(upscale(images[shown], SCALE)), caption=captions, width=28 * SCALE, output_format="PNG")
    if len(positions) > SHOWN:
        where.caption(f"… and {len(positions) - SHOWN} more (the surest wrong answers first)")


def flip_section(chosen: list[Run]) -> None:
    st.markdown("**Which digits flipped**")
    picked = sides(chosen)
    if picked is None:
        return
    first, second, first_epoch, second_epoch = picked
    if first.id == second.id and first_epoch == second_epoch:
        st.caption("Pick two different runs or epochs.")
        return
    try:
        mtimes = tuple(file_mtime(store(), run.id, run_files.PREDICTIONS) for run in (first, second))
        result = flips(first.id, second.id, (first_epoch, second_epoch), mtimes, dataset_source(first.config))
    except ValueError as exc:
        st.info(str(exc))
        return
    images = dataset(*dataset_source(first.config)).split("test")[0].numpy()
    cols = st.columns(4)
    cols[0].metric("First: test accuracy", f"{result.first_accuracy:.1%}")
    cols[1].metric("Second: test accuracy", f"{result.second_accuracy:.1%}")
    cols[2].metric("Right, then wrong", len(result.lost))
    cols[3].metric("Wrong, then right", len(result.gained))
    st.caption(f"Of {len(result.labels):,} test digits, {result.both_right:,} are right in both and "
               f"{result.both_wrong:,} wrong in both. Captions: true digit: first answer→second answer.")
    left, right = st.columns(2)
    gallery(result, result.lost, images, "Right in the first, wrong in the second", left)
    gallery(result, result.gained, images, "Wrong in the first, right in the second", right)
