"""The tensors page's logic: every listing reproduces its result, and typed inputs are checked."""
import pytest
import torch

from core.lessons.tensor_demos import (
    CATALOGUE,
    explain_broadcast,
    numpy_bridge_demo,
    parse_numbers,
    run_operation,
    search_catalogue,
    transpose_demo,
    two_plus_three_demo,
)

EXPECTED_ERRORS = {"a.t().view(-1)"}  # the catalogue's deliberate "this fails" example


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and bool(torch.equal(a, b) or (
            a.is_floating_point() and a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)))
    if isinstance(a, tuple):  # e.g. torch.return_types.max(values, indices)
        return all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("op", [op for op in CATALOGUE if op.name not in EXPECTED_ERRORS], ids=lambda op: op.name)
def test_listing_reproduces_the_result_shown(op):
    result = run_operation(op.name, {})
    namespace = {}
    exec(result.code, namespace)  # the listing on the page, run as a learner would run it
    assert same(result.result, namespace["result"])
    assert result.printed == str(namespace["result"])


def test_deliberate_view_error_explains_itself():
    with pytest.raises(ValueError, match="PyTorch refused.*reshape"):
        run_operation("a.t().view(-1)", {})


def test_values_a_learner_checks():
    assert run_operation("a @ b", {}).result.tolist() == [[4.0, 5.0], [10.0, 11.0]]
    assert run_operation("a.sum(dim)", {"dim": "0"}).result.tolist() == [5.0, 7.0, 9.0]
    assert run_operation("a.sum(dim)", {"dim": "1"}).result.tolist() == [6.0, 15.0]
    assert run_operation("a.reshape(shape)", {"shape": "(3, -1)"}).facts["shape"] == "(3, 2)"
    assert run_operation("torch.tensor(list)", {"values": "[1, 2]"}).facts["dtype"] == "torch.int64"
    assert run_operation("torch.tensor(list)", {"values": "[1.0, 2]"}).facts["dtype"] == "torch.float32"
    assert run_operation("tensor.to(torch.int32)", {}).result.tolist() == [-1, 0, 2]  # truncation toward zero
    assert run_operation("a[a > t]", {"threshold": "4"}).result.tolist() == [5.0, 6.0]
    rand = run_operation("torch.rand", {"shape": "(2, 2)", "seed": "7"}).result
    assert torch.equal(rand, run_operation("torch.rand", {"shape": "(2, 2)", "seed": "7"}).result)


def test_broadcast_result_and_explanation():
    result = run_operation("a + b (broadcast)", {"a": "[[0.0], [10.0]]", "b": "[1.0, 2.0, 3.0]"})
    assert result.result.tolist() == [[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]]
    assert [row["result"] for row in result.broadcast] == [2, 3]
    assert "no such dimension" in result.broadcast[0]["rule"] and "size 1" in result.broadcast[1]["rule"]
    rows, shape = explain_broadcast((2, 3), (4,))
    assert shape is None and rows[-1]["result"] == "✗"
    with pytest.raises(ValueError, match="at dimension -1 the sizes are 3 and 4"):
        run_operation("a + b (broadcast)", {"a": "[[1, 2, 3], [4, 5, 6]]", "b": "[1, 2, 3, 4]"})


@pytest.mark.parametrize("text, message", [
    ("[[1, 2], [3]]", "same length"),
    ("[1, 'a']", "use numbers"),
    ("hello", "not a Python number or list"),
    ("__import__('os').system('echo hacked')", "not a Python number or list"),
    ("[1] * 100", "not a Python number or list"),
    ("[" + "1, " * 10_001 + "]", "characters"),
])
def test_bad_tensor_inputs_are_named(text, message):
    with pytest.raises(ValueError, match=f"^a: .*{message}"):
        run_operation("a + b", {"a": text})


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="shape: .*more than"):
        run_operation("torch.zeros", {"shape": "(1000, 1000)"})
    with pytest.raises(ValueError, match="dim: expected a whole number"):
        run_operation("a.sum(dim)", {"dim": "0.5"})
    with pytest.raises(ValueError, match="PyTorch refused.*cannot be multiplied"):
        run_operation("a @ b", {"b": "[[1.0, 2.0]]"})
    with pytest.raises(ValueError, match="PyTorch refused.*IndexError"):
        run_operation("a[i]", {"i": "5"})


def test_search_finds_by_name_topic_and_code():
    assert {op.name for op in search_catalogue("", "Transpose")} == {"a.t()", "a.T", "a.transpose(0, 1)"}
    assert "a @ b" in {op.name for op in search_catalogue("matrix product")}
    assert {op.name for op in search_catalogue("from_numpy")} == {"torch.from_numpy"}
    assert search_catalogue("no such thing") == []
    assert len(search_catalogue("")) == len(CATALOGUE)


def test_transpose_is_the_same_matrix_three_ways():
    demo = transpose_demo([[1, 2, 3], [4, 5, 6]])
    assert demo["transpose"].tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    assert demo["all_equal"] and demo["shares_memory"]
    assert demo["strides"] == {"m": (3, 1), "m.t()": (1, 3)}
    assert demo["contiguous"] == {"m": True, "m.t()": False}
    assert "m.transpose(0, 1)" in demo["code"] and demo["printed"].count("tensor(") == 3


@pytest.mark.parametrize("cells, message", [
    ([[1, 2], [3, float("nan")]], "row 2, column 'col 1' is empty"),
    ([[1, 2], [None, 4]], "row 2, column 'col 0'"),
    ([[1, "abc"]], "'abc'; type a number"),
    ([], "at least one row"),
])
def test_transpose_rejects_bad_cells(cells, message):
    with pytest.raises(ValueError, match=message):
        transpose_demo(cells)


def test_numpy_bridge_shares_memory_and_clone_breaks_it():
    steps = numpy_bridge_demo([1.0, 2.0, 3.0], 1, 9.0)
    assert steps[1]["array"] == steps[1]["tensor"] == [1.0, 9.0, 3.0]  # array changed -> tensor too
    assert steps[1]["torch.tensor copy"] == [1.0, 2.0, 3.0]  # torch.tensor(array) copied
    assert steps[2]["array"] == [2.0, 18.0, 6.0]  # tensor.mul_ changed the array
    assert steps[3]["tensor"][1] == 0.0 and steps[3]["clone"] == [2.0, 18.0, 6.0]  # the clone kept its values
    assert steps[4]["tensor"] == steps[4]["array"] == [3.0, 1.0, 7.0]  # .numpy() shares memory again
    assert all(step["shares memory"] for step in steps)
    with pytest.raises(ValueError, match="index"):
        numpy_bridge_demo([1.0, 2.0], 5, 0.0)


def test_parse_numbers():
    assert parse_numbers("1, 2.5, -3") == [1.0, 2.5, -3.0]
    assert parse_numbers("[4, 5]") == [4.0, 5.0]
    with pytest.raises(ValueError, match="values: 'a, b' is not a list of numbers"):
        parse_numbers("a, b")


def test_two_plus_three_today():
    demo = two_plus_three_demo(2, 3)
    assert demo["item"] == 5.0 and demo["printed"] == "tensor(5.)"
    assert "torch.FloatTensor" in demo["legacy"] and "torch.tensor(2.0)" in demo["code"]
    assert two_plus_three_demo(1.5, 2.25)["item"] == 3.75
    assert type(demo["item"]) is float  # .item() gives a plain Python number
