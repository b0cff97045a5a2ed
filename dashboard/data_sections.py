"""The Data page's sections: importing and deleting uploads, downloading a set, and what a dataset holds."""
from pathlib import Path

import pandas as pd
import streamlit as st

from core.data import catalog, stats, torchvision_sets
from core.data.digits import MEAN, STD
from core.data.embedded import embedded_digits
from core.data.guide_format import example_archive
from core.data.safe_zip import DatasetError
from dashboard import figures
from dashboard.common import dataset, delete_upload, import_archive, upload_limit_mb

VAL_FRACTION = 0.1  # the Train page's default; here it only decides how train/validation are counted


@st.cache_data(show_spinner=False)
def example_zip() -> bytes:
    images, labels = embedded_digits()
    every_25th = slice(0, None, 25)  # 200 digits, 20 of each class
    return example_archive(images[every_25th], labels[every_25th], n_test=50)


def import_upload(upload, data_dir: Path) -> None:
    """Import a newly uploaded zip once per file; reruns reuse the remembered outcome."""
    if upload is None or st.session_state.get("data_upload_result", (None,))[0] == upload.file_id:
        return
    bar = st.progress(0.0, text=f"Checking {upload.name}…")
    try:
        name = import_archive(upload.getvalue(), upload.name, data_dir,
                              progress=lambda done, text: bar.progress(done, text=text))
    except ValueError as error:  # a bad archive (DatasetError) or, in public mode, a limit reached
        st.session_state["data_upload_result"] = (upload.file_id, None, str(error))
    else:
        st.session_state["data_upload_result"] = (upload.file_id, name, None)
        st.session_state["data_pending"] = name  # selected on the rerun, before the picker exists
        st.rerun()
    bar.empty()


def upload_section(data_dir: Path) -> None:
    upload = st.file_uploader("Upload your digits: a zip with train.csv, test.csv and Images/", type=["zip"],
                              key="data_upload", max_upload_size=upload_limit_mb(),
                              help="The guide's format: train.csv (filename,label), test.csv (filename), "
                                   "PNG or JPEG digits under Images/train/ and Images/test/.")
    import_upload(upload, data_dir)
    result = st.session_state.get("data_upload_result")
    if upload is not None and result and result[0] == upload.file_id:
        if result[2]:
            st.error(result[2])
        elif result[1]:  # None once that upload was deleted
            st.success(f"Imported {upload.name} as {result[1]}; the Train page lists it too.")
    st.download_button("Download an example zip (200 digits)", example_zip(), file_name="digits-example.zip",
                       mime="application/zip", key="data_example")


def delete_section(name: str, data_dir: Path) -> None:
    """An upload can be deleted, after a confirmation; runs trained on it stay in the run store."""
    sure = st.checkbox(f"Yes, delete {name}", key=f"data_delete_sure_{name}",
                       help="Removes its decoded copy from the cache; runs trained on it keep their results.")
    if not st.button("Delete this dataset", key="data_delete", disabled=not sure):
        return
    try:
        delete_upload(name, data_dir)
    except ValueError as error:  # DatasetError, or NotAllowed for another workspace's upload
        st.error(str(error))
        return
    dataset.clear()  # every page's loaded copies; the others reload cheaply
    result = st.session_state.get("data_upload_result")
    if result and result[1] == name:  # the uploader still holds the file: keep it from importing it again
        st.session_state["data_upload_result"] = (result[0], None, None)
    st.session_state["data_deleted"] = name  # said on the rerun, which no longer lists it
    st.rerun()


def offer_download(name: str, data_dir: Path) -> None:
    """A torchvision set that is not here yet: say where its files go, offer to fetch them."""
    st.info(torchvision_sets.missing_message(name, data_dir))
    title = torchvision_sets.TORCHVISION_SETS[name][1]
    if st.button(f"Download {title}", key="data_download", type="primary"):
        bar = st.progress(0.0, text="Connecting…")
        try:
            torchvision_sets.download_torchvision(name, data_dir,
                                                  progress=lambda done, text: bar.progress(done, text=text))
        except DatasetError as error:
            bar.empty()
            st.error(str(error))
        else:
            st.rerun()
    st.stop()


def summary(name: str, data, label: str, data_dir: Path) -> None:
    sizes = data.sizes()
    columns = st.columns(5)
    columns[0].metric("Labelled digits", f"{len(data.labels):,}")
    columns[1].metric("Train", f"{sizes['train']:,}")
    columns[2].metric("Validation", f"{sizes['val']:,}", help=f"{VAL_FRACTION:.0%} of the non-test digits")
    columns[3].metric("Test", f"{sizes['test']:,}")
    columns[4].metric("To predict (test.csv)", f"{len(data.predict_names):,}" if data.predict_names else "—")
    st.caption(f"**Source:** {label} · **{len(data.classes)} classes:** {', '.join(data.classes)} · "
               f"**Cache:** {catalog.cache_state(name, data_dir)}")
    for note in data.notes:
        st.warning(note)


def overview_tabs(data) -> None:
    """What is in a dataset: digits per class, sample digits, each class's mean digit, pixel values."""
    classes, samples, means, pixels = st.tabs(["Classes", "Samples", "Mean digit", "Pixels"])
    figures.show(figures.class_counts_figure(stats.class_counts(data), data.classes), where=classes,
                 key="data_classes")
    per_class = samples.slider("Digits per class", 4, 12, 10, key="data_per_class")
    grid = stats.tile(stats.class_samples(data.images, data.labels, per_class, len(data.classes)), per_class)
    samples.image(grid, caption=f"One row per class, {data.classes[0]} at the top; pixels enlarged 3×, not smoothed")
    train_images, train_labels = data.split("train")
    means.image(stats.tile(stats.mean_images(train_images, train_labels, len(data.classes)), 10, scale=4),
                caption="The average training digit of each class, left to right")
    pixels.dataframe(pd.DataFrame(stats.pixel_statistics(data)), hide_index=True)
    pixels.caption(f"Pixel values on [0, 1]. Training standardises every dataset with MNIST's mean {MEAN} and "
                   f"std {STD}, so a set far from those numbers starts off-centre.")
    figures.show(figures.pixel_values_figure(stats.pixel_histogram(train_images)), where=pixels, key="data_pixels")
