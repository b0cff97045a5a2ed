"""Learn PyTorch · Autograd: type f(x, y), see its value, autograd's gradients, calculus's, and the graph."""
import math

import pandas as pd
import streamlit as st

from core.lessons.expressions import EXAMPLES, FUNCTIONS, analyze, graph_to_dot

st.title("∂ Autograd")
st.caption("PyTorch records every operation on a tensor with `requires_grad=True`; `backward()` walks that "
           "record in reverse and applies the chain rule. Below, the same derivative is also worked out by "
           "symbolic differentiation, so you can check autograd against calculus.")
st.session_state.setdefault("autograd_expression", next(iter(EXAMPLES)))


def use_example() -> None:
    st.session_state.autograd_expression = st.session_state.autograd_example


st.selectbox("Start from an example", list(EXAMPLES), key="autograd_example", on_change=use_example,
             format_func=lambda text: f"{text}  —  {EXAMPLES[text]}")
st.text_input("f(x, y) =", key="autograd_expression",
              help=f"Numbers, x, y, pi, e, + - * / ** and the functions {', '.join(FUNCTIONS)}.")
left, right = st.columns(2)
x = left.number_input("x", value=0.7, step=0.1, format="%.3f", key="autograd_x")
y = right.number_input("y", value=1.3, step=0.1, format="%.3f", key="autograd_y")

try:
    report = analyze(st.session_state.autograd_expression, x, y)
except ValueError as error:
    st.error(f"{error}\n\nOnly arithmetic is evaluated here, never Python code: fix the expression above.")
    st.stop()

code_column, result_column = st.columns(2)
code_column.code(report.code, language="python")
result_column.metric(f"f({x:g}, {y:g})", f"{report.value:.6g}")
rows = []
for name in ("x", "y"):
    from_autograd = report.autograd[name]
    difference = None if from_autograd is None else abs(from_autograd - report.analytic[name])
    rows.append({"gradient": f"df/d{name}", "autograd": from_autograd, "symbolic derivative": report.derivatives[name],
                 "its value": report.analytic[name], "difference": difference})
result_column.dataframe(pd.DataFrame(rows), hide_index=True)
if any(value is None for value in report.autograd.values()):
    result_column.caption("An empty autograd cell means the variable is not in f, so its `.grad` stays None "
                          "(calculus says 0).")
if not all(math.isfinite(value) for value in [report.value, *report.analytic.values()]):
    st.warning("f or a derivative is not a finite number here (e.g. log or sqrt of a negative number, or "
               "division by zero): move x or y into the function's domain.")

st.subheader("The recorded graph")
st.caption("Read left to right: leaves x and y (AccumulateGrad stores their .grad), each operation's "
           "backward function (`f.grad_fn`, then its `.next_functions`), and f. `backward()` walks it right to "
           "left. `step` and `sign` in the symbolic derivatives are the slopes of relu and abs; at exactly 0 "
           "PyTorch uses 0 for both.")
if report.graph.edges:
    st.graphviz_chart(graph_to_dot(report.graph))
else:
    st.info("f does not depend on x or y: nothing was recorded, so there is no graph (f.grad_fn is None).")
chain = [f"{node['label']}" for node in report.graph.nodes if node["kind"] != "output"]
st.code("f.grad_fn chain, breadth first from f:\n  " + "\n  ".join(chain or ["None"]), language="text")
