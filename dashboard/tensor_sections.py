"""The Tensors page's tabs: transpose, the operation catalogue, the NumPy bridge and the guide's 2 + 3."""
import pandas as pd
import streamlit as st

from core.lessons.tensor_demos import (
    CATEGORIES,
    find_operation,
    numpy_bridge_demo,
    parse_numbers,
    run_operation,
    search_catalogue,
    transpose_demo,
    two_plus_three_demo,
)


def labelled(tensor, row_name: str, column_name: str) -> pd.DataFrame:
    """A 2-D tensor as a table whose labels say which row and column of m each cell came from."""
    frame = pd.DataFrame(tensor.numpy())
    frame.index = [f"{row_name} {row}" for row in frame.index]
    frame.columns = [f"{column_name} {column}" for column in frame.columns]
    return frame


def transpose_tab() -> None:
    st.markdown("Edit the matrix **m** (add or delete rows too). On the right is its transpose: row *i* of "
                "m becomes column *i*. `.t()`, `.T` and `.transpose(0, 1)` are the same operation on a 2-D "
                "tensor — and the transpose is always of *this* matrix (the guide's printout showed a "
                "transpose that did not match its matrix).")
    start = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], columns=["col 0", "col 1", "col 2"])
    matrix_column, transpose_column = st.columns(2)
    with matrix_column:
        st.markdown("**m**")
        edited = st.data_editor(start, key="tensors_transpose_matrix", num_rows="dynamic", hide_index=True)
    try:
        demo = transpose_demo(edited.values.tolist())
    except ValueError as error:
        st.error(f"{error}")
        return
    with transpose_column:
        st.markdown("**m.t()**")
        st.dataframe(labelled(demo["transpose"], "col", "row"), key="tensors_transpose_result")
    verdict = "the same matrix" if demo["all_equal"] else "DIFFERENT matrices (this should never happen)"
    st.success(f"m.t(), m.T and m.transpose(0, 1) give {verdict}, of shape {tuple(demo['transpose'].shape)}.")
    code_column, printed_column = st.columns(2)
    code_column.code(demo["code"], language="python", wrap_lines=True)
    printed_column.code(demo["printed"], language="text")
    st.caption(f"No numbers are copied: the transpose is a view of the same memory "
               f"(shares memory: {demo['shares_memory']}) read with swapped strides, "
               f"{demo['strides']['m']} → {demo['strides']['m.t()']}, which is why it is not contiguous "
               f"({demo['contiguous']['m.t()']}) and `.view()` on it fails while `.reshape()` works.")


def catalogue_tab() -> None:
    left, right = st.columns([2, 1])
    query = left.text_input("Search", key="tensors_search", placeholder="e.g. matmul, reshape, mask, dtype")
    topic = right.selectbox("Topic", ["All", *CATEGORIES], key="tensors_topic")
    found = search_catalogue(query, None if topic == "All" else topic)
    if not found:
        st.info(f"No operation matches {query!r}. Try a shorter word, or pick the topic 'All'.")
        return
    name = st.selectbox("Operation", [operation.name for operation in found], key="tensors_operation",
                        help=f"{len(found)} of the catalogue's operations match")
    operation = find_operation(name)
    st.markdown(f"**{operation.name}** · {operation.category} — {operation.summary}")
    columns = st.columns(max(1, min(3, len(operation.inputs))))
    texts = {argument: columns[index % len(columns)].text_input(f"{argument} ({kind})", default,
                                                                key=f"tensors_input_{operation.name}_{argument}")
             for index, (argument, (kind, default)) in enumerate(operation.inputs.items())}
    try:
        result = run_operation(operation.name, texts)
    except ValueError as error:
        st.error(f"{error}\n\nEdit the inputs above and the operation runs again.")
        return
    code_column, result_column = st.columns(2)
    code_column.code(result.code, language="python")
    result_column.code(result.printed, language="text")
    if result.facts:
        result_column.dataframe(pd.DataFrame(result.facts.items(), columns=["property", "value"]), hide_index=True)
    if result.broadcast:
        st.markdown("**Broadcasting, dimension by dimension** (shapes are aligned from the right):")
        st.dataframe(pd.DataFrame(result.broadcast), hide_index=True)


def bridge_tab() -> None:
    st.markdown("`torch.from_numpy(array)` and `tensor.numpy()` share memory with the array: change one and "
                "the other changes. `torch.tensor(array)` and `.clone()` make copies that keep their values.")
    left, middle, right = st.columns(3)
    values_text = left.text_input("NumPy array values", "1.0, 2.0, 3.0, 4.0", key="tensors_bridge_values")
    index = middle.number_input("Index to change", 0, 19, 1, key="tensors_bridge_index")
    new_value = right.number_input("New value", value=9.0, key="tensors_bridge_value")
    try:
        steps = numpy_bridge_demo(parse_numbers(values_text), int(index), float(new_value))
    except ValueError as error:
        st.error(f"{error}")
        return
    for step in steps:
        code_column, values_column = st.columns([2, 3])
        code_column.code(step["code"], language="python")
        names = ["array", "tensor", "torch.tensor copy"] + (["clone"] if step["clone"] is not None else [])
        values_column.dataframe(pd.DataFrame({name: step[name] for name in names}).T)


def guide_tab() -> None:
    left, right = st.columns(2)
    first = left.number_input("a", value=2.0, key="tensors_guide_a")
    second = right.number_input("b", value=3.0, key="tensors_guide_b")
    sums = two_plus_three_demo(first, second)
    legacy_column, today_column = st.columns(2)
    legacy_column.markdown("**Then** (PyTorch 0.3)")
    legacy_column.code(sums["legacy"], language="python")
    today_column.markdown("**Today**")
    today_column.code(sums["code"], language="python")
    today_column.metric("result.item()", f"{sums['item']:g}")
    today_column.code(f">>> result\n{sums['printed']}", language="text")
