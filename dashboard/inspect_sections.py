"""The Inspect page's sections: the epoch, headline numbers, matrix, gallery, close-up and your own digit."""
import streamlit as st

from core.results import inspection
from core.results.user_digit import decode_data_url, prepare_digit
from core.store.run_files import model_from_checkpoint
from core.store.run_store import load_checkpoint
from dashboard import figures, inside_sections
from dashboard.common import dataset, store
from dashboard.drawing_pad import canvas

PER_PAGE, SCALE = 40, 3  # gallery digits per page; 28 px -> 84 px, nearest-neighbour
CLASSES = [None, *range(10)]  # None = any


def load_summary(run_id: str, epoch: int | None, mtime: float, source: tuple) -> inspection.InspectSummary:
    # The caches below are shared by every session: a hit skips the store's own access check, so it runs here.
    store().check_visible(run_id)
    return _summary(run_id, epoch, mtime, source)


def load_model(run_id: str, mtime: float):
    store().check_visible(run_id)
    return _model(run_id, mtime)


@st.cache_data(show_spinner=False, max_entries=64)
def _summary(run_id: str, epoch: int | None, mtime: float, source: tuple) -> inspection.InspectSummary:
    # mtime: the predictions file grows every epoch, so a run in training gets a fresh summary.
    return inspection.inspect_summary(store(), run_id, epoch, data=dataset(*source))


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _model(run_id: str, mtime: float):
    checkpoint = load_checkpoint(store(), run_id, "last")
    return model_from_checkpoint(checkpoint)[0], checkpoint.get("epoch")


def select_cell() -> None:
    """A clicked matrix cell becomes the true/predicted filters (which stay the one source of truth)."""
    points = st.session_state.inspect_matrix.selection.points
    if points:
        st.session_state.inspect_true, st.session_state.inspect_pred = int(points[0]["y"]), int(points[0]["x"])


def class_filter(label: str, key: str, column) -> int | None:
    return column.selectbox(label, CLASSES, key=key, format_func=lambda digit: "any" if digit is None else str(digit))


def crisp(where, pictures, caption) -> None:
    """st.image at exactly its upscaled size, as PNG: JPEG or browser resizing would blur the pixels."""
    first = pictures[0] if isinstance(pictures, list) else pictures
    where.image(pictures, caption=caption, width=first.shape[1], output_format="PNG")


def epoch_slider(latest: inspection.InspectSummary) -> int:
    """The epoch to show: the newest while a run trains, unless the user moved the slider back."""
    if st.session_state.get("inspect_epoch") in (None, st.session_state.get("inspect_latest")) \
            or st.session_state.inspect_epoch not in latest.epochs:
        st.session_state.inspect_epoch = latest.epoch
    st.session_state.inspect_latest = latest.epoch
    if len(latest.epochs) > 1:
        st.select_slider("Predictions after epoch", latest.epochs, key="inspect_epoch",
                         help="the matrix and the mistakes as they were after each epoch")
    return st.session_state.inspect_epoch


def headline(run, latest: inspection.InspectSummary, summary: inspection.InspectSummary) -> None:
    final = run.summary.get("test_accuracy")
    columns = st.columns(4)
    columns[0].metric("Test accuracy (end of run)", f"{final:.1%}" if isinstance(final, float) else
                      "still training" if run.active else "—")
    columns[1].metric(f"Accuracy after epoch {summary.epoch}", f"{summary.accuracy:.1%}")
    columns[2].metric(f"Mistakes (of {len(summary.labels):,} test digits)", f"{len(summary.mistakes):,}")
    columns[3].metric("Weakest class", "—" if summary.weakest is None else summary.weakest)
    if run.active:
        st.caption(f"Still training: predictions so far after epochs {latest.epochs[0]}–{latest.epoch}.")
        st.button("↻ Load newer epochs", key="inspect_refresh")


def confusion(summary: inspection.InspectSummary) -> None:
    """The clickable confusion matrix beside the per-class table."""
    left, right = st.columns([3, 2])
    normalise = left.toggle("Row-normalised (share of each true class)", key="inspect_normalise")
    chosen = (st.session_state.get("inspect_true"), st.session_state.get("inspect_pred"))
    figures.show(figures.confusion_figure(summary.matrix, normalise, chosen if None not in chosen else None),
                 where=left, on_select=select_cell, selection_mode="points", key="inspect_matrix", width="stretch")
    left.caption("Click a cell to see its digits in the gallery below.")
    right.dataframe(inspection.metrics_rows(summary), hide_index=True, width="stretch", column_config={
        name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "F1")})
    if note := inspection.weakest_note(summary):
        right.warning(note)


def gallery(summary: inspection.InspectSummary, positions, images, key: str):
    """One page of digits as a single st.image call (one element, one caption each)."""
    n_pages = inspection.page_count(len(positions), PER_PAGE)
    if st.session_state.get(key, 1) > n_pages:  # the filters shrank the list
        st.session_state[key] = 1
    page = st.pagination(n_pages, key=key) if n_pages > 1 else 1
    start, stop = inspection.page_bounds(len(positions), page, PER_PAGE)
    shown = positions[start:stop]
    crisp(st, list(inspection.upscale(images[shown], SCALE)), inspection.captions(summary, shown))
    return shown


def mistakes(summary: inspection.InspectSummary, images) -> list[int]:
    """The filters and the gallery they narrow; returns the test positions on the gallery's page."""
    true_column, predicted_column, order_column = st.columns(3)
    true_class = class_filter("True class", "inspect_true", true_column)
    predicted_class = class_filter("Predicted", "inspect_pred", predicted_column)
    order = order_column.radio("Order", list(inspection.ORDERS), key="inspect_order", format_func=inspection.ORDERS.get,
                               horizontal=True)
    positions = inspection.gallery_indices(summary, true_class, predicted_class, order)
    correct = true_class is not None and true_class == predicted_class
    st.caption(f"{len(positions):,} {'correct' if correct else 'misclassified'} digits after epoch {summary.epoch} "
               "· caption: true → predicted · confidence")
    if not len(positions):
        st.success("No mistakes match these filters.")
        return []
    return [int(position) for position in gallery(summary, positions, images, "inspect_page")]


def run_model(run_id: str):
    """(model, its checkpoint's epoch), or (None, None) with the reason shown when it cannot be loaded."""
    try:
        return load_model(run_id, inspection.file_mtime(store(), run_id, "last.pt"))
    except ValueError as exc:
        st.error(f"{exc} The predictions above still show; the close-up and your own digit need the model.")
        return None, None


def close_up(summary: inspection.InspectSummary, shown: list[int], images, net, checkpoint_epoch) -> None:
    if st.session_state.get("inspect_digit") not in shown:  # the gallery page changed under it
        st.session_state.inspect_digit = shown[0]
    pick = st.selectbox("Digit (from this page of the gallery)", shown, key="inspect_digit",
                        format_func=lambda position: f"#{position}: {inspection.captions(summary, [position])[0]}")
    detail = inspection.digit_detail(net, images[pick])
    digit_column, saliency_column, chart_column = st.columns([1, 1, 2])
    crisp(digit_column, inspection.upscale(images[pick], 6), f"test digit #{pick}, true {summary.labels[pick]}")
    crisp(saliency_column, inspection.saliency_rgb(detail.saliency, 6), f"saliency of the {detail.predicted}")
    figures.show(figures.probability_figure(detail.probabilities, 3, int(summary.labels[pick])),
                 where=chart_column, width="stretch", key="inspect_top3")
    st.caption(f"Saliency: red pixels are where more ink would raise the score of {detail.predicted}, blue where "
               f"it would lower it. Close-up from the latest checkpoint (epoch {checkpoint_epoch}).")
    inside_sections.feature_maps(net, images[pick])


def learned_when(summary: inspection.InspectSummary, images) -> None:
    """When each test digit was learned for good, and the digits never learned or forgotten."""
    chart_column, numbers_column = st.columns([2, 1])
    figures.show(figures.learned_figure(summary.epochs, summary.learned_epoch), where=chart_column,
                 width="stretch", key="inspect_learned")
    numbers_column.metric("Never learned (wrong at every epoch)", f"{len(summary.never_learned):,}")
    numbers_column.metric("Forgotten (correct, then wrong again)", f"{len(summary.forgotten):,}")
    for title, group in (("Never learned", summary.never_learned), ("Forgotten at least once", summary.forgotten)):
        first = group[:PER_PAGE]  # in test-index order
        more = f", first {len(first)} shown" if len(group) > len(first) else ""
        with st.expander(f"{title}: {len(group):,} digits{more}"):
            if len(first):
                crisp(st, list(inspection.upscale(images[first], SCALE)), inspection.captions(summary, first))


def own_digit(source: bytes | str, net, key: str) -> None:
    """Prepare an uploaded file (bytes) or a drawing (data URL) like MNIST and show the prediction."""
    digit = prepare_digit(decode_data_url(source) if isinstance(source, str) else source)
    detail = inspection.digit_detail(net, digit)
    left, right = st.columns([1, 2])
    crisp(left, inspection.upscale(digit, 6), f"what the model sees (28×28): a {detail.predicted}")
    figures.show(figures.probability_figure(detail.probabilities), where=right, width="stretch", key=key)


def own_digit_tabs(net) -> None:
    """An uploaded photo and a drawing, each predicted in its own tab."""
    upload_tab, draw_tab = st.tabs(["Upload", "Draw"])
    upload = upload_tab.file_uploader("A photo or scan of one digit, any size", type=["png", "jpg", "jpeg"],
                                      key="inspect_upload")
    with draw_tab:
        st.caption("Draw one digit, large; the prediction updates when you lift the pen.")
        drawing = canvas(key="inspect_canvas", default={"png": None}, on_png_change=lambda: None, height=340).png
    for tab, source in ((upload_tab, upload.getvalue() if upload else None), (draw_tab, drawing)):
        with tab:
            try:
                if source:
                    own_digit(source, net, key="inspect_probs_" + ("draw" if tab is draw_tab else "upload"))
                elif tab is upload_tab:
                    st.caption("The prediction for your image appears here.")
            except ValueError as exc:
                st.error(str(exc))
