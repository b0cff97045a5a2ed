"""Tensor demos for the Learn PyTorch page: a runnable catalogue of operations and a few guided demos.

Each catalogue entry is a real function whose body *is* the code shown: :func:`code_of`
reads it with :mod:`inspect` and turns its ``return`` into ``result = ...``. User inputs are
typed as Python literals and read with :func:`ast.literal_eval` (never ``eval``), checked,
then written back into the listing with ``repr``, so the listing runs as shown.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

MAX_ELEMENTS = 10_000  # per input or created tensor; keeps every demo instant
MAX_TEXT = 2_000  # characters per typed input


# --- the operations; each body is what the page shows --------------------------------------

def from_list(values):
    return torch.tensor(values)


def zeros(shape):
    return torch.zeros(shape)


def ones(shape):
    return torch.ones(shape)


def full(shape, fill_value):
    return torch.full(shape, fill_value)


def rand(shape, seed):
    generator = torch.Generator().manual_seed(seed)  # same seed, same numbers
    return torch.rand(shape, generator=generator)


def randn(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator)


def arange(start, end, step):
    return torch.arange(start, end, step)


def linspace(start, end, steps):
    return torch.linspace(start, end, steps)


def eye(n):
    return torch.eye(n)


def from_numpy(array):
    return torch.from_numpy(array)


def dtype_of(a):
    return a.dtype


def to_float64(a):
    return a.to(torch.float64)


def to_int32(a):
    return a.to(torch.int32)  # float -> int truncates toward zero


def pick_device(a):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return a.to(device).device


def add(a, b):
    return a + b


def multiply(a, b):
    return a * b  # element by element, not the matrix product


def divide(a, b):
    return a / b


def power(a, exponent):
    return a ** exponent


def exp(a):
    return torch.exp(a)


def sqrt(a):
    return torch.sqrt(a)


def clamp(a, low, high):
    return torch.clamp(a, min=low, max=high)


def greater_than(a, threshold):
    return a > threshold


def total(a):
    return a.sum()


def sum_over(a, dim):
    return a.sum(dim=dim)


def mean_over(a, dim):
    return a.mean(dim=dim)


def max_over(a, dim):
    return a.max(dim=dim)  # (values, indices)


def argmax_over(a, dim):
    return a.argmax(dim=dim)


def matrix_product(a, b):
    return a @ b  # (n, k) @ (k, m) -> (n, m)


def matmul_function(a, b):
    return torch.matmul(a, b)


def dot(a, b):
    return torch.dot(a, b)  # 1-D only


def reshape(a, shape):
    return a.reshape(shape)  # -1 means "whatever is left"


def view(a, shape):
    return a.view(shape)  # shares memory; needs a contiguous tensor


def view_of_transpose(a):
    return a.t().view(-1)  # fails: a.t() is not contiguous; use reshape


def flatten(a):
    return a.flatten()


def unsqueeze(a, dim):
    return a.unsqueeze(dim)


def squeeze(a):
    return a.squeeze()


def row(a, i):
    return a[i]


def column(a, j):
    return a[:, j]


def element(a, i, j):
    return a[i, j]


def row_slice(a, start, stop):
    return a[start:stop]


def every_other(a):
    return a[:, ::2]


def boolean_mask(a, threshold):
    return a[a > threshold]


def pick_rows(a, rows):
    return a[rows]


def broadcast_add(a, b):
    return a + b


def outer_product(a, b):
    return a[:, None] * b[None, :]  # (n, 1) * (1, m) -> (n, m)


def scalar_times(a, factor):
    return factor * a


def transpose_t(a):
    return a.t()


def transpose_attribute(a):
    return a.T


def transpose_dims(a):
    return a.transpose(0, 1)


def concatenate(a, b, dim):
    return torch.cat([a, b], dim=dim)


def stack(a, b):
    return torch.stack([a, b])  # a new leading dimension


def two_plus_three(a, b):
    return a + b


@dataclass(frozen=True)
class Operation:
    """One catalogue entry: the function that runs, and the inputs a user can edit."""

    name: str
    category: str
    summary: str
    function: Callable[..., Any]
    inputs: dict[str, tuple[str, str]]  # argument -> (kind, default text); kinds in _PARSERS
    explain_broadcast: bool = False  # show the shape-alignment table for inputs a and b


_M = "[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]"  # a 2 x 3 matrix most demos start from
_V = "[1.0, 2.0, 3.0]"
CATALOGUE = (
    Operation("torch.tensor(list)", "Create", "A tensor from (nested) Python lists; ints give int64, floats float32.",
              from_list, {"values": ("list", "[[1, 2], [3, 4]]")}),
    Operation("torch.zeros", "Create", "All zeros of a given shape (float32).", zeros, {"shape": ("shape", "(2, 3)")}),
    Operation("torch.ones", "Create", "All ones of a given shape.", ones, {"shape": ("shape", "(2, 3)")}),
    Operation("torch.full", "Create", "A constant tensor.", full,
              {"shape": ("shape", "(2, 2)"), "fill_value": ("number", "7.0")}),
    Operation("torch.rand", "Create", "Uniform [0, 1) numbers; a seeded Generator makes them repeatable.", rand,
              {"shape": ("shape", "(2, 3)"), "seed": ("int", "0")}),
    Operation("torch.randn", "Create", "Standard normal numbers (mean 0, std 1).", randn,
              {"shape": ("shape", "(2, 3)"), "seed": ("int", "0")}),
    Operation("torch.arange", "Create", "Evenly spaced values in [start, end), like Python's range.", arange,
              {"start": ("number", "0"), "end": ("number", "10"), "step": ("number", "2")}),
    Operation("torch.linspace", "Create", "`steps` values from start to end, both included.", linspace,
              {"start": ("number", "0.0"), "end": ("number", "1.0"), "steps": ("int", "5")}),
    Operation("torch.eye", "Create", "The identity matrix.", eye, {"n": ("int", "3")}),
    Operation("torch.from_numpy", "Create", "Wraps a NumPy array without copying: they share memory.", from_numpy,
              {"array": ("array", _M)}),
    Operation("tensor.dtype", "dtype and device", "The element type.", dtype_of, {"a": ("tensor", "[1, 2, 3]")}),
    Operation("tensor.to(torch.float64)", "dtype and device", "Convert the element type (a copy).", to_float64,
              {"a": ("tensor", "[1, 2, 3]")}),
    Operation("tensor.to(torch.int32)", "dtype and device", "Float to int truncates toward zero.", to_int32,
              {"a": ("tensor", "[-1.7, 0.5, 2.9]")}),
    Operation("tensor.to(device)", "dtype and device", "Move to the GPU when there is one; here it reports where.",
              pick_device, {"a": ("tensor", _V)}),
    Operation("a + b", "Element-wise maths", "Adds matching elements.", add,
              {"a": ("tensor", _M), "b": ("tensor", _M)}),
    Operation("a * b", "Element-wise maths", "Multiplies matching elements (not the matrix product).", multiply,
              {"a": ("tensor", _M), "b": ("tensor", _M)}),
    Operation("a / b", "Element-wise maths", "Divides; ints are promoted to float.", divide,
              {"a": ("tensor", _M), "b": ("tensor", "[[2.0, 2.0, 2.0], [4.0, 4.0, 4.0]]")}),
    Operation("a ** n", "Element-wise maths", "Raises every element to a power.", power,
              {"a": ("tensor", _M), "exponent": ("number", "2")}),
    Operation("torch.exp", "Element-wise maths", "e to the power of every element.", exp, {"a": ("tensor", _V)}),
    Operation("torch.sqrt", "Element-wise maths", "Square roots; negative numbers give nan.", sqrt,
              {"a": ("tensor", "[4.0, 9.0, -1.0]")}),
    Operation("torch.clamp", "Element-wise maths", "Clips values into [min, max].", clamp,
              {"a": ("tensor", "[-2.0, 0.5, 3.0]"), "low": ("number", "0.0"), "high": ("number", "1.0")}),
    Operation("a > t", "Element-wise maths", "Comparisons give a bool tensor (a mask).", greater_than,
              {"a": ("tensor", _M), "threshold": ("number", "2.5")}),
    Operation("a.sum()", "Reductions", "Sums everything into a 0-d tensor.", total, {"a": ("tensor", _M)}),
    Operation("a.sum(dim)", "Reductions", "Sums along one dimension, which disappears.", sum_over,
              {"a": ("tensor", _M), "dim": ("int", "0")}),
    Operation("a.mean(dim)", "Reductions", "Mean along a dimension (needs a float tensor).", mean_over,
              {"a": ("tensor", _M), "dim": ("int", "1")}),
    Operation("a.max(dim)", "Reductions", "Largest values and where they are.", max_over,
              {"a": ("tensor", "[[1.0, 9.0, 3.0], [8.0, 5.0, 6.0]]"), "dim": ("int", "1")}),
    Operation("a.argmax(dim)", "Reductions", "Index of the largest value: how a class is predicted.", argmax_over,
              {"a": ("tensor", "[[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]"), "dim": ("int", "1")}),
    Operation("a @ b", "Matrix product", "(n, k) @ (k, m) -> (n, m); inner sizes must match.", matrix_product,
              {"a": ("tensor", _M), "b": ("tensor", "[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]")}),
    Operation("torch.matmul", "Matrix product", "The function behind @; also batches and broadcasts.",
              matmul_function, {"a": ("tensor", _M), "b": ("tensor", _V)}),
    Operation("torch.dot", "Matrix product", "Dot product of two 1-D tensors.", dot,
              {"a": ("tensor", _V), "b": ("tensor", "[4.0, 5.0, 6.0]")}),
    Operation("a.reshape(shape)", "Reshape and view", "Same elements, new shape; copies only if it must.", reshape,
              {"a": ("tensor", _M), "shape": ("shape", "(3, 2)")}),
    Operation("a.view(shape)", "Reshape and view", "New shape over the same memory (no copy).", view,
              {"a": ("tensor", _M), "shape": ("shape", "(-1,)")}),
    Operation("a.t().view(-1)", "Reshape and view", "The classic error: a transpose is not contiguous.",
              view_of_transpose, {"a": ("tensor", _M)}),
    Operation("a.flatten()", "Reshape and view", "All elements in one dimension.", flatten, {"a": ("tensor", _M)}),
    Operation("a.unsqueeze(dim)", "Reshape and view", "Adds a dimension of size 1 (e.g. a batch of one).",
              unsqueeze, {"a": ("tensor", _V), "dim": ("int", "0")}),
    Operation("a.squeeze()", "Reshape and view", "Removes every dimension of size 1.", squeeze,
              {"a": ("tensor", "[[[1.0], [2.0], [3.0]]]")}),
    Operation("a[i]", "Indexing and slicing", "One row; the first dimension is dropped.", row,
              {"a": ("tensor", _M), "i": ("int", "1")}),
    Operation("a[:, j]", "Indexing and slicing", "One column.", column, {"a": ("tensor", _M), "j": ("int", "2")}),
    Operation("a[i, j]", "Indexing and slicing", "One element, still a 0-d tensor (.item() gives the number).",
              element, {"a": ("tensor", _M), "i": ("int", "0"), "j": ("int", "1")}),
    Operation("a[start:stop]", "Indexing and slicing", "A range of rows: a view, not a copy.", row_slice,
              {"a": ("tensor", "[[1, 2], [3, 4], [5, 6], [7, 8]]"), "start": ("int", "1"), "stop": ("int", "3")}),
    Operation("a[:, ::2]", "Indexing and slicing", "Every other column (negative steps are not allowed).",
              every_other, {"a": ("tensor", "[[1, 2, 3, 4], [5, 6, 7, 8]]")}),
    Operation("a[a > t]", "Indexing and slicing", "A boolean mask picks elements; the result is 1-D.", boolean_mask,
              {"a": ("tensor", _M), "threshold": ("number", "2.5")}),
    Operation("a[[rows]]", "Indexing and slicing", "A list of indices picks (and may repeat) rows: a copy.",
              pick_rows, {"a": ("tensor", _M), "rows": ("index list", "[1, 0, 1]")}),
    Operation("a + b (broadcast)", "Broadcasting", "Shapes are aligned from the right; size-1 dimensions stretch.",
              broadcast_add, {"a": ("tensor", "[[0.0], [10.0], [20.0]]"), "b": ("tensor", _V)},
              explain_broadcast=True),
    Operation("outer product", "Broadcasting", "(n, 1) * (1, m) -> (n, m) without a loop.", outer_product,
              {"a": ("tensor", _V), "b": ("tensor", "[1.0, 10.0]")}),
    Operation("scalar * a", "Broadcasting", "A number is broadcast to every element.", scalar_times,
              {"a": ("tensor", _M), "factor": ("number", "0.5")}),
    Operation("a.t()", "Transpose", "Transpose of a 2-D tensor (a view with swapped strides).", transpose_t,
              {"a": ("tensor", _M)}),
    Operation("a.T", "Transpose", "The same transpose as an attribute.", transpose_attribute, {"a": ("tensor", _M)}),
    Operation("a.transpose(0, 1)", "Transpose", "Swap any two dimensions; for 2-D the same as .t().",
              transpose_dims, {"a": ("tensor", _M)}),
    Operation("torch.cat", "Reshape and view", "Joins tensors along an existing dimension.", concatenate,
              {"a": ("tensor", _M), "b": ("tensor", _M), "dim": ("int", "0")}),
    Operation("torch.stack", "Reshape and view", "Joins tensors along a new dimension.", stack,
              {"a": ("tensor", _V), "b": ("tensor", "[4.0, 5.0, 6.0]")}),
    Operation("2 + 3 (the guide's first example)", "Element-wise maths", "Two 0-d tensors added.", two_plus_three,
              {"a": ("tensor", "2.0"), "b": ("tensor", "3.0")}),
)
CATEGORIES = tuple(dict.fromkeys(op.category for op in CATALOGUE))


def find_operation(name: str) -> Operation:
    for op in CATALOGUE:
        if op.name == name:
            return op
    raise ValueError(f"operation must be one of the catalogue names, got {name!r}")


def code_of(function: Callable[..., Any]) -> str:
    """The body of ``function`` as a listing, its ``return X`` written as ``result = X``."""
    source = textwrap.dedent(inspect.getsource(function))
    body = ast.parse(source).body[0].body
    lines = source.splitlines()
    listing = []
    for statement in body:
        text = "\n".join(lines[statement.lineno - 1:statement.end_lineno]).strip()
        if isinstance(statement, ast.Return):
            text = "result = " + text.removeprefix("return ").strip()
        listing.append(text)
    return "\n".join(listing)


def search_catalogue(query: str, category: str | None = None) -> list[Operation]:
    """Entries whose name, category, summary or code contain every word of ``query``."""
    words = query.lower().split()
    found = []
    for op in CATALOGUE:
        if category and op.category != category:
            continue
        haystack = " ".join((op.name, op.category, op.summary, code_of(op.function))).lower()
        if all(word in haystack for word in words):
            found.append(op)
    return found


# --- reading typed inputs ---------------------------------------------------------------------

def _literal(text: str, field: str) -> Any:
    if len(text) > MAX_TEXT:
        raise ValueError(f"{field}: input is {len(text)} characters; keep it under {MAX_TEXT}")
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"{field}: {text.strip()!r} is not a Python number or list, "
                         "e.g. [[1.0, 2.0], [3.0, 4.0]]") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _leaves(value: Any) -> list[Any]:
    """Every non-list item inside a nested list (the value itself if it is not a list)."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _nested_numbers(text: str, field: str) -> list | float:
    """A number or rectangular nested list of numbers, at most MAX_ELEMENTS of them."""
    value = _literal(text, field)
    value = list(value) if isinstance(value, tuple) else value
    if not all(_is_number(leaf) for leaf in _leaves(value)):
        raise ValueError(f"{field}: use numbers in (nested) square brackets, e.g. [[1.0, 2.0], [3.0, 4.0]]")
    try:
        shape = np.array(value, dtype=float).shape
    except ValueError:
        raise ValueError(f"{field}: every row must have the same length (the tensor must be rectangular)") from None
    if int(np.prod(shape)) > MAX_ELEMENTS:
        raise ValueError(f"{field}: at most {MAX_ELEMENTS:,} numbers, got {int(np.prod(shape)):,}")
    return value


def parse_numbers(text: str, field: str = "values") -> list[float]:
    """'1, 2.5, -3' (or '[1, 2.5, -3]') -> [1.0, 2.5, -3.0]: a flat list of numbers."""
    inner = text.strip().removeprefix("[").removesuffix("]")
    try:
        value = _nested_numbers(f"[{inner}]", field)
    except ValueError:
        value = None
    if value is None or any(isinstance(item, list) for item in value):
        raise ValueError(f"{field}: {text.strip()!r} is not a list of numbers; type numbers separated by "
                         "commas, like 1.0, 2.0, 3.0")
    return [float(item) for item in value]


def _integer(text: str, field: str) -> int:
    value = _literal(text, field)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1_000_000:
        raise ValueError(f"{field}: expected a whole number (like 0 or -1), got {text.strip()!r}")
    return value


def _number(text: str, field: str) -> float | int:
    value = _literal(text, field)
    if not _is_number(value) or not abs(value) <= 1e12:
        raise ValueError(f"{field}: expected a number (like 2 or 0.5), got {text.strip()!r}")
    return value


def _shape(text: str, field: str) -> tuple[int, ...]:
    value = _literal(text, field)
    value = (value,) if isinstance(value, int) else value
    if (not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= -1 for v in value)):
        raise ValueError(f"{field}: expected a shape like (2, 3): 1 to 4 whole numbers, -1 allowed once")
    if int(np.prod([abs(v) for v in value])) > MAX_ELEMENTS:
        raise ValueError(f"{field}: shape {tuple(value)} has more than {MAX_ELEMENTS:,} elements")
    return tuple(value)


def _index_list(text: str, field: str) -> list[int]:
    value = _literal(text, field)
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise ValueError(f"{field}: expected a list of whole numbers, like [1, 0, 1]")
    return value


# kind -> (parse typed text, turn the parsed value into the argument, write it as code)
_PARSERS = {
    "tensor": (_nested_numbers, torch.tensor, lambda v: f"torch.tensor({v!r})"),
    "array": (_nested_numbers, np.array, lambda v: f"np.array({v!r})"),
    "list": (_nested_numbers, lambda v: v, repr),
    "shape": (_shape, lambda v: v, repr),
    "int": (_integer, lambda v: v, repr),
    "number": (_number, lambda v: v, repr),
    "index list": (_index_list, lambda v: v, repr),
}


@dataclass(frozen=True)
class OperationResult:
    """What the page draws for one run: the listing, the printed result, and its facts."""

    code: str
    result: Any
    printed: str  # what print(result) shows
    facts: dict[str, str]  # shape / dtype / device / ... of a tensor result, else {}
    broadcast: list[dict] | None = None


def run_operation(name: str, texts: dict[str, str]) -> OperationResult:
    """Parse the typed inputs, run the catalogue entry, and describe the result."""
    op = find_operation(name)
    uses_numpy = any(kind == "array" for kind, _ in op.inputs.values())
    arguments, lines = {}, ["import numpy as np"] * uses_numpy + ["import torch", ""]
    for argument, (kind, default) in op.inputs.items():
        parse, convert, spell = _PARSERS[kind]
        value = parse(texts.get(argument, default), argument)
        arguments[argument] = convert(value)
        lines.append(f"{argument} = {spell(value)}")
    lines.append(code_of(op.function))
    broadcast = None
    if op.explain_broadcast:
        broadcast = _broadcast_or_raise(tuple(arguments["a"].shape), tuple(arguments["b"].shape))
    try:
        result = op.function(**arguments)
    except (RuntimeError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"PyTorch refused these inputs ({type(error).__name__}): {error}") from None
    return OperationResult("\n".join(lines), result, str(result), describe_tensor(result), broadcast)


def describe_tensor(value: Any) -> dict[str, str]:
    """The facts worth knowing about a tensor (empty for anything else)."""
    if not isinstance(value, torch.Tensor):
        return {}
    return {
        "shape": str(tuple(value.shape)), "dtype": str(value.dtype), "device": str(value.device),
        "elements": str(value.numel()), "bytes per element": str(value.element_size()),
        "strides": str(value.stride()), "contiguous": str(value.is_contiguous()),
        "requires_grad": str(value.requires_grad),
    }


def _broadcast_or_raise(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> list[dict]:
    rows, shape = explain_broadcast(shape_a, shape_b)
    if shape is None:
        bad = next(row for row in rows if row["result"] == "✗")
        raise ValueError(f"a has shape {shape_a} and b has shape {shape_b}: at dimension {bad['dimension']} the "
                         f"sizes are {bad['a']} and {bad['b']}, and neither is 1, so they cannot be broadcast")
    return rows


def explain_broadcast(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> tuple[list[dict], tuple[int, ...] | None]:
    """Align two shapes from the right and say, per dimension, what broadcasting does.

    Returns (rows, result shape), the shape None when the two cannot be broadcast.
    """
    width = max(len(shape_a), len(shape_b))
    padded_a = (None,) * (width - len(shape_a)) + tuple(shape_a)
    padded_b = (None,) * (width - len(shape_b)) + tuple(shape_b)
    rows, result = [], []
    for dim, (size_a, size_b) in enumerate(zip(padded_a, padded_b)):
        a, b = 1 if size_a is None else size_a, 1 if size_b is None else size_b
        if a == b:
            rule, size = "same size", a
        elif a == 1 or b == 1:
            which = "a" if a == 1 else "b"
            missing = (padded_a if which == "a" else padded_b)[dim] is None
            rule = f"{which} {'has no such dimension (treated as 1)' if missing else 'has size 1'}: stretched"
            size = max(a, b)
        else:
            rule, size = "sizes differ and neither is 1: error", None
        rows.append({"dimension": dim - width, "a": "–" if size_a is None else size_a,
                     "b": "–" if size_b is None else size_b, "result": "✗" if size is None else size, "rule": rule})
        result.append(size)
    return rows, (None if None in result else tuple(result))


# --- guided demos -------------------------------------------------------------------------------

LEGACY_TWO_PLUS_THREE = """\
# PyTorch 0.3 era, as in the guide (still runs, but legacy):
a = torch.FloatTensor([2])  # a type-specific constructor
b = torch.FloatTensor([3])
a + b  # printed as: 5  [torch.FloatTensor of size 1]"""


def two_plus_three_demo(a: float, b: float) -> dict[str, Any]:
    """The guide's first example in today's API, for any two numbers."""
    result = run_operation("2 + 3 (the guide's first example)", {"a": repr(float(a)), "b": repr(float(b))})
    code = result.code + "\nresult.item()  # a plain Python number"
    return {"legacy": LEGACY_TWO_PLUS_THREE, "code": code, "result": result.result,
            "printed": result.printed, "item": result.result.item()}


def matrix_from_cells(rows: list[list[Any]], field: str = "matrix") -> torch.Tensor:
    """A float32 (rows, cols) tensor from table cells; ValueError names the first bad cell."""
    if not rows or not rows[0]:
        raise ValueError(f"{field}: needs at least one row and one column")
    if len(rows) * len(rows[0]) > MAX_ELEMENTS:
        raise ValueError(f"{field}: at most {MAX_ELEMENTS:,} cells")
    values = []
    for r, cells in enumerate(rows, start=1):
        if len(cells) != len(rows[0]):
            raise ValueError(f"{field}: row {r} has {len(cells)} cells, expected {len(rows[0])}")
        # Rows counted from 1 (as a reader counts them), columns named like the table's "col 0" headers.
        values.append([_cell(cell, f"{field}: the cell in row {r}, column 'col {c}'") for c, cell in enumerate(cells)])
    return torch.tensor(values, dtype=torch.float32)


def _cell(cell: Any, where: str) -> float:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        raise ValueError(f"{where} is {cell!r}; type a number in every cell") from None
    if value != value:  # NaN: an empty cell in a numeric table
        raise ValueError(f"{where} is empty; type a number in every cell (or delete the row)")
    return value


def transpose_demo(rows: list[list[Any]]) -> dict[str, Any]:
    """A matrix and its three transposes (.t(), .T, transpose(0, 1)), checked to be the same."""
    matrix = matrix_from_cells(rows)
    transposes = {"m.t()": matrix.t(), "m.T": matrix.T, "m.transpose(0, 1)": matrix.transpose(0, 1)}
    first = transposes["m.t()"]
    code = "\n".join([f"m = torch.tensor({matrix.tolist()!r})", *transposes])
    printed = "\n".join(f">>> {name}\n{value}" for name, value in transposes.items())
    return {
        "matrix": matrix, "transpose": first, "transposes": transposes, "code": code, "printed": printed,
        "all_equal": all(torch.equal(first, t) for t in transposes.values()),
        # A transpose is a view: same memory, strides swapped, so no numbers are copied.
        "shares_memory": first.data_ptr() == matrix.data_ptr(),
        "strides": {"m": matrix.stride(), "m.t()": first.stride()},
        "contiguous": {"m": matrix.is_contiguous(), "m.t()": first.is_contiguous()},
    }


def numpy_bridge_demo(values: list[float], index: int, new_value: float) -> list[dict[str, Any]]:
    """torch.from_numpy / .numpy() share memory, torch.tensor() and .clone() copy: step by step."""
    if not 1 <= len(values) <= 20 or not all(_is_number(v) for v in values):
        raise ValueError("values: give 1 to 20 numbers")
    if not -len(values) <= index < len(values):
        raise ValueError(f"index: must be between 0 and {len(values) - 1}, got {index}")
    array = np.array(values, dtype=np.float64)
    tensor = torch.from_numpy(array)  # the same memory, seen as a tensor
    copied = torch.tensor(array)  # a copy
    steps = [_snapshot(f"array = np.array({list(map(float, values))!r})\ntensor = torch.from_numpy(array)\n"
                       "copied = torch.tensor(array)  # copies", array, tensor, copied, None)]
    array[index] = new_value
    steps.append(_snapshot(f"array[{index}] = {float(new_value)!r}  # change the NumPy array",
                           array, tensor, copied, None))
    tensor.mul_(2)  # in place: the array sees it too
    steps.append(_snapshot("tensor.mul_(2)  # change the tensor in place", array, tensor, copied, None))
    clone = tensor.clone()
    tensor[index] = 0.0
    steps.append(_snapshot(f"clone = tensor.clone()\ntensor[{index}] = 0.0  # the clone keeps its values",
                           array, tensor, copied, clone))
    back = tensor.numpy()
    back += 1
    steps.append(_snapshot("back = tensor.numpy()  # shares memory again\nback += 1", array, tensor, copied, clone))
    return steps


def _snapshot(code: str, array: np.ndarray, tensor: torch.Tensor, copied: torch.Tensor,
              clone: torch.Tensor | None) -> dict[str, Any]:
    return {
        "code": code, "array": array.tolist(), "tensor": tensor.tolist(), "torch.tensor copy": copied.tolist(),
        "clone": None if clone is None else clone.tolist(),
        "shares memory": bool(np.shares_memory(array, tensor.numpy())),
    }
