"""AppTest for every Learn PyTorch page: it renders without an exception, shows real values, reacts to input."""
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "dashboard" / "app_pages"


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first read-only dataframe on the page that has ``column``."""
    for frame in at.dataframe:
        if frame.editing_mode == "read_only" and column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def codes(at: AppTest) -> str:
    return "\n".join(code.value for code in at.code)


def test_tensors_transpose_follows_the_edited_matrix():
    at = open_page("learn_tensors.py")
    assert at.data_editor[0].key == "tensors_transpose_matrix"
    assert table_with(at, "row 0").values.tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    at.session_state["tensors_transpose_matrix"] = {
        "edited_rows": {0: {"col 0": 10.0}}, "added_rows": [{"col 0": 7.0, "col 1": 8.0, "col 2": 9.0}],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception and not at.error
    assert table_with(at, "row 2").values.tolist() == [[10.0, 4.0, 7.0], [2.0, 5.0, 8.0], [3.0, 6.0, 9.0]]
    assert "same matrix" in at.success[0].value


def test_tensors_half_filled_row_is_an_error_not_a_traceback():
    at = open_page("learn_tensors.py")
    at.session_state["tensors_transpose_matrix"] = {"edited_rows": {}, "added_rows": [{"col 0": 1.0}],
                                                    "deleted_rows": []}
    at.run()
    assert not at.exception
    assert "row 3, column 'col 1' is empty" in at.error[0].value


def test_tensors_catalogue_search_run_and_bad_input():
    at = open_page("learn_tensors.py")
    assert "tensor(5.)" in codes(at)  # the guide's 2 + 3, today
    at.text_input(key="tensors_search").input("matmul").run()
    assert at.selectbox(key="tensors_operation").options == ["torch.matmul"]
    at.text_input(key="tensors_search").input("").run()
    at.selectbox(key="tensors_operation").select("a @ b").run()
    assert "result = a @ b" in codes(at) and "tensor([[ 4.,  5.],\n        [10., 11.]])" in codes(at)
    assert table_with(at, "property").set_index("property").loc["shape", "value"] == "(2, 2)"
    at.text_input(key="tensors_input_a @ b_b").input("[[1.0, 2.0]]").run()
    assert not at.exception and "cannot be multiplied" in at.error[0].value


def test_autograd_page_values_and_safe_parsing():
    at = open_page("learn_autograd.py")
    assert metrics(at)["f(0.7, 1.3)"] == "0.837483"  # sin(0.7) * 1.3
    at.text_input(key="autograd_expression").input("x**2 + 3*y").run()
    at.number_input(key="autograd_x").set_value(2.0).run()
    assert metrics(at)["f(2, 1.3)"] == "7.9"
    gradients = table_with(at, "autograd").set_index("gradient")
    assert gradients.loc["df/dx", "autograd"] == pytest.approx(4.0)
    assert gradients.loc["df/dx", "symbolic derivative"] == "2 * x"
    assert gradients.loc["df/dy", "its value"] == pytest.approx(3.0)
    at.text_input(key="autograd_expression").input("__import__('os').system('ls')").run()
    assert not at.exception and "not allowed" in at.error[0].value


def test_autograd_example_picker_fills_the_expression():
    at = open_page("learn_autograd.py")
    at.selectbox(key="autograd_example").select("x**y").run()
    assert at.text_input(key="autograd_expression").value == "x**y"
    assert "f = x ** y" in codes(at)


def test_optimizers_page_table_and_surface_switch():
    at = open_page("learn_optimizers.py")
    summary = table_with(at, "final loss")
    assert list(summary["optimizer"]) == ["SGD", "Momentum", "Adam"]
    assert (summary["final loss"] < 1e-3).all()  # the bowl is easy
    at.selectbox(key="optim_surface").select("Rosenbrock").run()
    assert not at.exception
    assert "loss = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2" in codes(at)
    assert list(table_with(at, "final loss")["lr"]) == [0.001, 0.001, 0.05]
    at.multiselect(key="optim_optimizers").set_value([]).run()
    assert "Pick at least one optimizer" in at.info[0].value


def test_nn_page_counts_and_traces():
    at = open_page("learn_nn.py")
    assert metrics(at)["Trainable parameters"] == "39,760"  # the guide's 784-50-10
    assert table_with(at, "output shape")["output shape"].iloc[-1] == "(1, 10)"
    at.text_input(key="nn_hidden").input("12, x").run()
    assert not at.exception and "'x' is not a width" in at.error[0].value
    at.text_input(key="nn_hidden").input("50").run()
    at.selectbox(key="nn_model").select("cnn").run()
    assert metrics(at)["Trainable parameters"] == "23,984"  # conv 8, conv 16, dense 50
    assert "(1, 8, 14, 14)" in list(table_with(at, "output shape")["output shape"])
    at.text_input(key="nn_hidden").input("64, 32").run()
    assert "give one width" in at.error[0].value  # the CNN has a single dense layer


def test_numpy_vs_torch_page_agreement_and_listings():
    at = open_page("learn_numpy_vs_torch.py")
    assert float(metrics(at)["Gradient difference, step 1"]) < 1e-12
    assert "def numpy_backward" in codes(at) and "class TorchNet(nn.Module)" in codes(at)
    assert list(table_with(at, "NumPy output")["label"]) == [1, 1, 0]
    at.selectbox(key="npvt_dtype").select("float32").run()
    assert 1e-12 < float(metrics(at)["Loss difference, whole run"]) < 1e-4


def test_data_loading_page_measures_coverage():
    at = open_page("learn_data_loading.py")
    shown = metrics(at)
    assert shown["Shuffle, measured"] == "100.0%"
    assert 60.0 < float(shown["Replacement, measured"].rstrip("%")) < 66.0
    assert shown["Replacement, expected"] == "63.2%"
    history = table_with(at, "test accuracy")
    assert set(history["sampling"]) == {"shuffle", "replacement"} and (history["test accuracy"] > 0.5).all()
    anatomy = table_with(at, "what").set_index("what")
    assert anatomy.loc["batch images", "value"] == "(64, 28, 28)"
    first_indices = anatomy.loc["sampler's first indices", "value"]
    at.radio(key="loading_sampling").set_value("replacement").run()
    assert not at.exception
    assert table_with(at, "what").set_index("what").loc["sampler's first indices", "value"] != first_indices
