"""Learn PyTorch · Tensors: a runnable catalogue of operations, transpose, the NumPy bridge, 2 + 3."""
import streamlit as st

from dashboard.tensor_sections import bridge_tab, catalogue_tab, guide_tab, transpose_tab

st.title("🧮 Tensors")
st.caption("A tensor is an n-dimensional array of one dtype on one device. Every listing below is the code "
           "that produced the result next to it; change the inputs and it runs again.")
transpose, catalogue, bridge, guide = st.tabs(["Transpose", "Catalogue", "NumPy bridge", "The guide's 2 + 3"])
with transpose:
    transpose_tab()
with catalogue:
    catalogue_tab()
with bridge:
    bridge_tab()
with guide:
    guide_tab()
