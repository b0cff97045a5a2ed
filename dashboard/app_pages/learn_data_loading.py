"""Learn PyTorch · Data loading: Dataset, sampler and loader on real digits; shuffling vs drawing with replacement."""
import inspect

import pandas as pd
import streamlit as st

from core.data.digits import batches
from core.lessons.loading_demo import (
    SAMPLINGS,
    compare_sampling,
    expected_coverage,
    loader_anatomy,
    measure_coverage,
    time_pipelines,
    times_seen,
)
from dashboard import figures
from dashboard.common import dataset

st.title("📦 Data loading")
st.caption("A `Dataset` answers 'what is sample i?', a sampler decides which i come next, and a `DataLoader` "
           "groups them into batches. The sampler's choice decides which digits an epoch actually shows the model.")


@st.cache_data(show_spinner="Timing both pipelines…")
def pipeline_seconds(batch_size: int) -> dict:
    return time_pipelines(dataset(), batch_size)


@st.cache_data(show_spinner="Training a small MLP twice (a few seconds)…")
def training_curves(epochs: int, batch_size: int, seed: int) -> dict:
    return compare_sampling(dataset(), epochs=epochs, batch_size=batch_size, hidden=32, lr=3e-3, seed=seed)


data = dataset()
n_train = data.sizes()["train"]
left, middle, right = st.columns(3)
batch_size = left.select_slider("Batch size", [8, 16, 32, 64, 128, 256], 64, key="loading_batch")
sampling = middle.radio("Sampling", SAMPLINGS, key="loading_sampling", horizontal=True,
                        format_func={"shuffle": "shuffle", "replacement": "with replacement (the guide's)"}.get)
seed = right.number_input("Seed", 0, 10_000, 0, key="loading_seed")

st.subheader("Dataset → sampler → loader")
anatomy = loader_anatomy(data, batch_size, sampling, int(seed))
code_column, result_column = st.columns(2)
code_column.code(inspect.getsource(loader_anatomy), language="python")
result_column.dataframe(pd.DataFrame({
    "what": ["len(dataset)", "dataset[0] image", "dataset[0] label", "len(loader): batches per epoch",
             "sampler's first indices", "batch images", "after normalize()", "batch labels"],
    "value": [str(anatomy["dataset length"]), f"{anatomy['sample shape']} {anatomy['sample dtype']}",
              str(anatomy["sample label"]), str(anatomy["batches per epoch"]), str(anatomy["sampler indices"][:8]),
              str(anatomy["batch shape"]), str(anatomy["normalized shape"]), str(anatomy["batch labels"][:8])],
}), hide_index=True)
result_column.image([image.numpy() for image in anatomy["batch images"][:8]], width=56,
                    caption=[str(label) for label in anatomy["batch labels"][:8]])
seconds = pipeline_seconds(batch_size)
result_column.caption(f"One epoch of batches (fastest of 3 runs): DataLoader, one `__getitem__` per digit "
                      f"then collate, {seconds['DataLoader'] * 1e3:.0f} ms; slicing preloaded tensors by index "
                      f"(this project's way, `core.data.batches`) {seconds['index slicing'] * 1e3:.0f} ms.")

st.subheader("How much of the data does one epoch see?")
epochs = st.slider("Epochs to measure", 1, 10, 5, key="loading_epochs")
coverage = pd.DataFrame(measure_coverage(n_train, batch_size, "shuffle", epochs, int(seed))
                        + measure_coverage(n_train, batch_size, "replacement", epochs, int(seed)))
expected = expected_coverage(n_train, "replacement")
measured = coverage[coverage.sampling == "replacement"]["distinct fraction"].mean()
shuffled = coverage[coverage.sampling == "shuffle"]["distinct fraction"].mean()
metric_columns = st.columns(3)
metric_columns[0].metric("Shuffle, measured", f"{shuffled:.1%}", help="distinct digits per epoch")
metric_columns[1].metric("Replacement, measured", f"{measured:.1%}", help="distinct digits per epoch")
metric_columns[2].metric("Replacement, expected", f"{expected:.1%}", help="1 − (1 − 1/n)ⁿ ≈ 1 − 1/e")
chart_column, histogram_column = st.columns(2)
figures.show(figures.coverage_figure(coverage), where=chart_column, width="stretch")
counts = pd.DataFrame(times_seen(n_train, batch_size, "replacement", int(seed)))
figures.show(figures.times_drawn_figure(counts), where=histogram_column, width="stretch")
st.caption(f"With replacement each of the {n_train:,} draws picks any digit, so about 37 % are never drawn in an "
           "epoch while others come twice or more; shuffling draws each exactly once.")
with st.expander("The batching code (core.data.batches) that was measured"):
    st.code(inspect.getsource(batches), language="python")

st.subheader("Does it matter for training?")
train_epochs = st.slider("Training epochs (each way)", 1, 8, 5, key="loading_train_epochs")
curves = training_curves(train_epochs, batch_size, int(seed))
history = pd.DataFrame([row | {"sampling": name} for name, rows in curves.items() for row in rows])
loss_column, accuracy_column = st.columns(2)
figures.show(figures.sampling_curve_figure(history, "train loss"), where=loss_column, width="stretch")
figures.show(figures.sampling_curve_figure(history, "test accuracy"), where=accuracy_column, width="stretch")
st.dataframe(history, hide_index=True)
st.caption("The same MLP (784-32-10, Adam, lr 0.003) from the same initial weights, on the 3,600-digit train "
           "split. Both make the same number of steps per epoch; with replacement some digits are skipped and "
           "others repeated each epoch, so the curves are noisier but usually end close — what shuffling "
           "guarantees is that no digit is left out of an epoch.")
