"""Learn PyTorch · nn.Module: the layers of a configured model and a real digit traced through them."""
import inspect

import pandas as pd
import streamlit as st

from core.data.digits import normalize
from core.lessons.nn_trace import class_probabilities, layer_table, parse_sizes, seeded_model, trace_forward
from core.models import ACTIVATIONS, count_parameters
from dashboard import figures
from dashboard.common import dataset

st.title("🧱 nn.Module")
st.caption("A model is an `nn.Module`: layers that hold parameters (tensors with `requires_grad=True`) and a "
           "`forward` that chains them. Configure one, then follow a real digit through it, shape by shape.")


left, middle, right = st.columns(3)
model_name = left.selectbox("Model", ["mlp", "cnn"], key="nn_model")
hidden_text = middle.text_input("Hidden layer widths", "50", key="nn_hidden",
                                help="Comma-separated, e.g. 128, 64. For the CNN: the dense layer's width.")
activation = right.selectbox("Activation", list(ACTIVATIONS), key="nn_activation")
not_cnn = model_name != "cnn"
first_channels = left.number_input("CNN channels, conv 1", 1, 64, 8, key="nn_channels_1", disabled=not_cnn)
second_channels = middle.number_input("CNN channels, conv 2", 1, 64, 16, key="nn_channels_2", disabled=not_cnn)
dropout = right.slider("Dropout", 0.0, 0.8, 0.0, step=0.1, key="nn_dropout")

try:
    hidden = parse_sizes(hidden_text, "Hidden layer widths", max_count=1 if model_name == "cnn" else 4)
except ValueError as error:
    st.error(f"{error}")
    st.stop()
model = seeded_model(model_name, hidden, (int(first_channels), int(second_channels)), activation, dropout, seed=0)

st.subheader("Layers and parameters")
st.metric("Trainable parameters", f"{count_parameters(model):,}")
st.dataframe(pd.DataFrame(layer_table(model)), hide_index=True)
with st.expander("print(model)"):
    st.code(str(model), language="text")

st.subheader("A forward pass, traced")
data = dataset()
test_images, test_labels = data.split("test")
index = st.slider("Test digit", 0, len(test_labels) - 1, 0, key="nn_digit")
image = normalize(test_images[index:index + 1])  # (1, 1, 28, 28)
rows, logits = trace_forward(model, image)
picture_column, trace_column = st.columns([1, 3])
picture_column.image(test_images[index].numpy(), caption=f"label {int(test_labels[index])}", width=140)
trace_column.dataframe(pd.DataFrame(rows), hide_index=True)
probabilities = class_probabilities(logits)
figures.show(figures.class_probabilities_figure(data.classes, probabilities), width="stretch")
st.caption(f"The weights are random (seed 0), so the prediction ({probabilities.index(max(probabilities))}) is "
           "a guess and every probability is near 10 %. Training — on the Train page — changes the numbers, "
           "never the shapes.")

with st.expander("How the trace is made: forward hooks (this is the code that ran)"):
    st.code(inspect.getsource(trace_forward), language="python")
