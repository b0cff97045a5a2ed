"""Data: pick a dataset, see what is in it, bring your own digits in the guide's zip format."""
import streamlit as st

from core.data import torchvision_sets, uploads
from core.data.digits import default_data_dir
from core.data.safe_zip import DatasetError
from dashboard import data_sections as sections
from dashboard.common import dataset, datasets

data_dir = default_data_dir()  # read on every run: it follows DIGITLAB_DATA_DIR

st.title("Datasets: what the model learns from")
st.caption("Every dataset becomes uint8 tensors (N, 28, 28) with labels and train/validation/test splits.")
choices = dict(datasets(data_dir, include_absent=True))
if "data_pending" in st.session_state:
    st.session_state["data_dataset"] = st.session_state.pop("data_pending")
if st.session_state.get("data_dataset") not in choices:
    st.session_state["data_dataset"] = "embedded"
picker, uploader = st.columns([2, 3])
selected = picker.selectbox("Dataset", list(choices), format_func=choices.get, key="data_dataset")
with picker:
    if "data_deleted" in st.session_state:
        st.success(f"Deleted {st.session_state.pop('data_deleted')}; runs trained on it are still listed.")
    if selected.startswith(uploads.UPLOAD_PREFIX):
        sections.delete_section(selected, data_dir)
with uploader:
    sections.upload_section(data_dir)

if selected in torchvision_sets.TORCHVISION_SETS and not torchvision_sets.torchvision_present(selected, data_dir):
    sections.offer_download(selected, data_dir)
try:
    digits = dataset(selected, sections.VAL_FRACTION, str(data_dir))
except DatasetError as error:
    st.error(str(error))
    st.stop()
sections.summary(selected, digits, choices[selected], data_dir)
sections.overview_tabs(digits)
