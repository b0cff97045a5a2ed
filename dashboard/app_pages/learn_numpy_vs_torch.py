"""Learn PyTorch · NumPy vs PyTorch: the guide's small network written twice, trained side by side."""
from dataclasses import asdict

import pandas as pd
import streamlit as st

from core.lessons.numpy_net import DTYPES, GUIDE_X, GUIDE_Y, LOSSES, NetConfig, compare, listings
from dashboard import figures

st.title("⚖️ NumPy vs PyTorch")
st.caption("The guide's central comparison: a 2-layer network (inputs → hidden sigmoid → 1 sigmoid output) "
           "for a binary problem. In NumPy you write the backward pass yourself; in PyTorch autograd writes it. "
           "Both start from the same weights on the same data, so they must produce the same numbers.")


@st.cache_data(show_spinner="Training both networks…")
def comparison(settings: dict) -> dict:
    return asdict(compare(NetConfig(**settings)))


left, middle, right = st.columns(3)
dataset = left.radio("Data", ["guide", "blobs"], key="npvt_dataset", horizontal=True,
                     format_func={"guide": "the guide's 3 × 4 table", "blobs": "two Gaussian blobs"}.get)
n_samples = left.number_input("Samples (blobs)", 4, 2000, 64, key="npvt_samples", disabled=dataset != "blobs")
hidden = middle.number_input("Hidden units", 1, 100, 3, key="npvt_hidden")
lr = middle.number_input("Learning rate (SGD)", 0.001, 100.0, 0.5, format="%.3f", key="npvt_lr")
steps = right.slider("Steps", 10, 5000, 1000, step=10, key="npvt_steps")
loss = left.selectbox("Loss", LOSSES, key="npvt_loss",
                      format_func={"mse": "mean squared error (the guide's)", "bce": "binary cross-entropy"}.get)
dtype = middle.selectbox("dtype (both sides)", list(DTYPES), key="npvt_dtype")
seed = right.number_input("Seed (weights, blobs)", 0, 10_000, 0, key="npvt_seed")

settings = {"dataset": dataset, "n_samples": int(n_samples), "hidden": int(hidden), "lr": float(lr),
            "steps": int(steps), "loss": loss, "dtype": dtype, "seed": int(seed)}
try:
    result = comparison(settings)
except ValueError as error:
    st.error(f"{error}")
    st.stop()

metrics = st.columns(4)
metrics[0].metric("Gradient difference, step 1", f"{result['max_gradient_difference']:.1e}",
                  help="The largest |NumPy backprop − autograd| over every weight, before any update.")
metrics[1].metric("Loss difference, whole run", f"{result['max_loss_difference']:.1e}",
                  help="The largest |NumPy loss − PyTorch loss| over all steps.")
metrics[2].metric("NumPy, time per step", f"{result['numpy_seconds_per_step'] * 1e6:,.0f} µs")
metrics[3].metric("PyTorch, time per step", f"{result['torch_seconds_per_step'] * 1e6:,.0f} µs")
expected = "rounding error (~1e-16 relative)" if dtype == "float64" else "~1e-7 (float32 keeps ~7 digits)"
st.caption(f"In {dtype} the two agree to {expected}. On a net this small NumPy is usually faster: each PyTorch "
           "call carries fixed overhead (autograd bookkeeping, dispatch) that only pays off on bigger tensors "
           "or a GPU.")

figures.show(figures.numpy_torch_losses_figure(result["numpy_losses"], result["torch_losses"], loss),
             width="stretch")

gradients_column, predictions_column = st.columns(2)
gradients_column.markdown("**Step-one gradients, per parameter**")
gradients_column.dataframe(pd.DataFrame(result["gradient_differences"]), hide_index=True,
                           column_config={"largest |NumPy - autograd|": st.column_config.NumberColumn(format="%.1e")})
predictions_column.markdown(f"**After training** — accuracy NumPy {result['numpy_accuracy']:.0%}, "
                            f"PyTorch {result['torch_accuracy']:.0%}")
predictions_column.dataframe(pd.DataFrame(result["predictions"]), hide_index=True)
if dataset == "guide":
    with st.expander("The guide's data"):
        st.dataframe(pd.DataFrame([row + label for row, label in zip(GUIDE_X, GUIDE_Y, strict=True)],
                                  columns=["x1", "x2", "x3", "x4", "label"]), hide_index=True)

st.subheader("The code that ran")
code = listings()
numpy_column, torch_column = st.columns(2)
numpy_column.markdown("**NumPy**: forward, loss, backward and update by hand")
numpy_column.code(code["numpy"], language="python")
torch_column.markdown("**PyTorch**: `nn.Module`, autograd and `torch.optim.SGD`")
torch_column.code(code["torch"], language="python")
