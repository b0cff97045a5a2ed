"""Learn PyTorch · Optimizers: torch.optim on two parameters, trajectories drawn over the loss surface."""
import pandas as pd
import streamlit as st

from core.lessons.optim_playground import (
    OPTIMIZERS,
    SURFACES,
    default_lr,
    optimizer_code,
    run_all,
    summarise,
    surface_grid,
)
from dashboard import figures

COLOURS = figures.palette(OPTIMIZERS, "D3")  # each optimizer keeps its colour whichever others are chosen

st.title("⛰️ Optimizers")
st.caption("Every optimizer in `torch.optim` turns gradients into steps. Here the model is just two numbers "
           "p = (x, y) and the loss is a surface you can see, so each step is a point on the map.")


@st.cache_data(show_spinner=False)
def trajectories(surface: str, learning_rates: tuple, steps: int, start: tuple) -> dict:
    return run_all(surface, dict(learning_rates), steps, start)


@st.cache_data(show_spinner=False)
def grid(surface: str) -> dict:
    return surface_grid(surface)


top_left, top_right = st.columns([1, 2])
surface = top_left.selectbox("Loss surface", list(SURFACES), key="optim_surface")
chosen = top_right.multiselect("Optimizers", list(OPTIMIZERS), default=["SGD", "Momentum", "Adam"],
                               key="optim_optimizers")
st.caption(SURFACES[surface].note)
left, middle, right = st.columns(3)
steps = left.slider("Steps", 10, 500, 150, step=10, key="optim_steps")
start_x = middle.number_input("Start x", -10.0, 10.0, float(SURFACES[surface].start[0]), key=f"optim_x_{surface}")
start_y = right.number_input("Start y", -10.0, 10.0, float(SURFACES[surface].start[1]), key=f"optim_y_{surface}")
if not chosen:
    st.info("Pick at least one optimizer above.")
    st.stop()
lr_columns = st.columns(len(chosen))
learning_rates = {name: column.number_input(f"{name} lr", 1e-5, 10.0, default_lr(surface, name), format="%.4f",
                                            key=f"optim_lr_{surface}_{name}")
                  for name, column in zip(chosen, lr_columns, strict=True)}

try:
    runs = trajectories(surface, tuple(learning_rates.items()), steps, (start_x, start_y))
except ValueError as error:
    st.error(f"{error}")
    st.stop()

chosen_surface = SURFACES[surface]
paths = {name: run.points for name, run in runs.items()}
figures.show(figures.trajectories_figure(grid(surface), paths, COLOURS, chosen_surface.minima, (start_x, start_y),
                                         chosen_surface.x_range, chosen_surface.y_range), width="stretch")
figures.show(figures.optimizer_losses_figure({name: run.losses for name, run in runs.items()}, COLOURS),
             width="stretch")

scientific = st.column_config.NumberColumn(format="%.2e")
st.dataframe(pd.DataFrame(summarise(runs, surface)), hide_index=True,
             column_config={"final loss": scientific, "distance to minimum": scientific})
for name, run in runs.items():
    if run.diverged:
        st.warning(f"{name} diverged after {len(run.points) - 1} steps: lower its learning rate.")

first = next(iter(runs.values()))
st.markdown(f"**The loop that ran** ({first.optimizer}; for the others only the optimizer line changes):")
st.code(first.code, language="python")
st.code("\n".join(f"optimizer = {optimizer_code(name, lr)}" for name, lr in learning_rates.items()),
        language="python")
