"""Arithmetic expressions in x and y: parsed safely, run through autograd, differentiated by hand.

Typed text never reaches ``eval``. It is parsed with :mod:`ast` and every node is checked
against a whitelist (numbers, the names x / y / pi / e, + - * / **, unary minus and a few
known functions); the checked tree is then walked by :func:`evaluate` with torch tensors.
The same tree is differentiated symbolically (:func:`derivative`), so the page can put the
gradient autograd computed next to the one calculus predicts.
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass

import torch

VARIABLES = ("x", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}
FUNCTIONS = ("sin", "cos", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs")
MAX_LENGTH = 200  # characters; a teaching expression is one line
MAX_NODES = 120
MAX_CONSTANT = 1e6
MAX_EXPONENT = 100  # a constant exponent beyond this only overflows (9**9**9 would be 9**387420489)

# step and sign appear only in derivatives (of relu and abs); users cannot type them.
_TORCH_FUNCTIONS = {
    "sin": torch.sin, "cos": torch.cos, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
    "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "abs": torch.abs,
    "step": lambda t: (t > 0).to(t.dtype), "sign": torch.sign,
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_DESCRIPTIONS = {
    ast.Attribute: "attribute access (a.b)", ast.Lambda: "lambda", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.Subscript: "indexing (a[i])", ast.Compare: "comparisons", ast.BoolOp: "and / or",
    ast.IfExp: "if / else", ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets",
    ast.JoinedStr: "f-strings", ast.NamedExpr: "assignment (:=)", ast.Starred: "unpacking (*)",
}
_ALLOWED_HINT = "use numbers, x, y, pi, e, + - * / ** and " + ", ".join(FUNCTIONS)


def parse_expression(text: str) -> ast.expr:
    """Parse ``text`` into a checked expression tree; ValueError says what is not allowed."""
    text = text.strip()
    if not text:
        raise ValueError(f"expression is empty: type something like x**2 + y ({_ALLOWED_HINT})")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is {len(text)} characters long; keep it under {MAX_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise ValueError(f"expression could not be parsed: {error.msg}{where}; {_ALLOWED_HINT}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ValueError(f"expression is too long: keep it under {MAX_NODES} pieces")
    _check(tree)
    return tree


def _check(node: ast.AST) -> None:
    """Raise ValueError unless ``node`` and all below it are on the whitelist."""
    if isinstance(node, ast.Constant):
        _check_constant(node.value)
    elif isinstance(node, ast.Name):
        if node.id not in VARIABLES and node.id not in CONSTANTS:
            hint = f"; call it as {node.id}(...)" if node.id in FUNCTIONS else ""
            raise ValueError(f"expression: unknown name {node.id!r}: variables are x and y, constants pi and e{hint}")
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left)
        _check(node.right)
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right)
    elif isinstance(node, ast.Call):
        _check_call(node)
    elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
        raise ValueError(f"expression: operator {type(node.op).__name__} is not allowed; {_ALLOWED_HINT}")
    else:
        what = _DESCRIPTIONS.get(type(node), type(node).__name__)
        raise ValueError(f"expression: {what} is not allowed; {_ALLOWED_HINT}")


def _check_constant(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expression: {value!r} is not a number; {_ALLOWED_HINT}")
    if not abs(value) <= MAX_CONSTANT:  # also catches nan
        raise ValueError(f"expression: the number {value!r} is too large (limit ±{MAX_CONSTANT:g})")


def _check_exponent(exponent: ast.expr) -> None:
    """A constant exponent (no x or y in it) must stay within ±MAX_EXPONENT."""
    if any(isinstance(n, ast.Name) and n.id in VARIABLES for n in ast.walk(exponent)):
        return  # evaluated as float tensors: overflow gives inf, never a hang
    value = float(evaluate(exponent, {}))
    if not abs(value) <= MAX_EXPONENT:
        shown = ast.unparse(exponent)
        shown = shown if shown == f"{value:g}" else f"{shown} = {value:g}"
        raise ValueError(f"expression: exponent {shown} is too large (limit ±{MAX_EXPONENT})")


def _check_call(node: ast.Call) -> None:
    if isinstance(node.func, ast.Attribute):
        raise ValueError(f"expression: attribute access (a.b) is not allowed; {_ALLOWED_HINT}")
    if not isinstance(node.func, ast.Name):
        raise ValueError(f"expression: only plain function calls are allowed, like sin(x); {_ALLOWED_HINT}")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ValueError(f"expression: function {name!r} is not allowed; known functions: {', '.join(FUNCTIONS)}")
    if len(node.args) != 1 or node.keywords:
        raise ValueError(f"expression: {name}() takes exactly one argument, like {name}(x)")
    _check(node.args[0])


def evaluate(node: ast.expr, variables: dict[str, torch.Tensor]) -> torch.Tensor:
    """Value of a checked tree; x and y come from ``variables``, numbers stay Python floats."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id not in variables:
            raise ValueError(f"expression uses {node.id} but no value was given for it")
        return variables[node.id]
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](evaluate(node.operand, variables))
    if isinstance(node, ast.BinOp):
        left, right = evaluate(node.left, variables), evaluate(node.right, variables)
        if isinstance(left, float) and isinstance(right, float):
            left = torch.tensor(left, dtype=torch.float64)  # float ** float may raise; tensors give inf
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        argument = evaluate(node.args[0], variables)
        return _TORCH_FUNCTIONS[node.func.id](torch.as_tensor(argument, dtype=torch.float64))
    raise ValueError(f"cannot evaluate {type(node).__name__}")  # unreachable for checked trees


# --- symbolic differentiation: small constructors that simplify as they build -------------

def _number(value: float) -> ast.expr:
    """A constant node; negatives become -(c) so unparse prints (-1) ** 2, not -1 ** 2."""
    value = int(value) if float(value).is_integer() and abs(value) < 1e15 else float(value)
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _constant(node: ast.expr) -> float | None:
    """The node's value if it is a plain number (or minus one), else None."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -float(node.operand.value)
    return None


def _neg(a: ast.expr) -> ast.expr:
    if _constant(a) is not None:
        return _number(-_constant(a))
    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
        return a.operand
    return ast.UnaryOp(ast.USub(), a)


def _add(a: ast.expr, b: ast.expr) -> ast.expr:
    ca, cb = _constant(a), _constant(b)
    if ca is not None and cb is not None:
        return _number(ca + cb)
    if ca == 0:
        return b
    if cb == 0:
        return a
    return ast.BinOp(a, ast.Add(), b)


def _sub(a: ast.expr, b: ast.expr) -> ast.expr:
    ca, cb = _constant(a), _constant(b)
    if ca is not None and cb is not None:
        return _number(ca - cb)
    if cb == 0:
        return a
    if ca == 0:
        return _neg(b)
    return ast.BinOp(a, ast.Sub(), b)


def _mul(a: ast.expr, b: ast.expr) -> ast.expr:
    ca, cb = _constant(a), _constant(b)
    if ca is not None and cb is not None:
        return _number(ca * cb)
    if cb is not None:
        return _mul(b, a)  # constants first: 2 * x, not x * 2
    if ca == 0:
        return _number(0)
    if ca == 1:
        return b
    if ca == -1:
        return _neg(b)
    for negated, other in ((a, b), (b, a)):  # pull a minus sign out front: -(u * v)
        if isinstance(negated, ast.UnaryOp) and isinstance(negated.op, ast.USub) and _constant(negated) is None:
            return _neg(_mul(negated.operand, other))
    if isinstance(a, ast.BinOp) and isinstance(a.op, ast.Div) and _constant(a.left) == 1:
        return _div(b, a.right)  # (1 / u) * v -> v / u
    return ast.BinOp(a, ast.Mult(), b)


def _div(a: ast.expr, b: ast.expr) -> ast.expr:
    if _constant(a) == 0:
        return _number(0)
    if _constant(b) == 1:
        return a
    return ast.BinOp(a, ast.Div(), b)


def _pow(a: ast.expr, b: ast.expr) -> ast.expr:
    if _constant(b) == 0:
        return _number(1)
    if _constant(b) == 1:
        return a
    return ast.BinOp(a, ast.Pow(), b)


def _call(name: str, argument: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(name, ast.Load()), [argument], [])


def _depends_on(node: ast.expr, variable: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == variable for n in ast.walk(node))


def _outer_derivative(name: str, u: ast.expr) -> ast.expr:
    """d name(u) / du, as a tree in u."""
    rules = {
        "sin": lambda: _call("cos", u),
        "cos": lambda: _neg(_call("sin", u)),
        "exp": lambda: _call("exp", u),
        "log": lambda: _div(_number(1), u),
        "sqrt": lambda: _div(_number(1), _mul(_number(2), _call("sqrt", u))),
        "tanh": lambda: _sub(_number(1), _pow(_call("tanh", u), _number(2))),
        "sigmoid": lambda: _mul(_call("sigmoid", u), _sub(_number(1), _call("sigmoid", u))),
        "relu": lambda: _call("step", u),  # 0 at u = 0, like torch
        "abs": lambda: _call("sign", u),  # 0 at u = 0, like torch
        "step": lambda: _number(0),
        "sign": lambda: _number(0),
    }
    return rules[name]()


def _power_derivative(u: ast.expr, v: ast.expr, du: ast.expr, dv: ast.expr, variable: str) -> ast.expr:
    """d(u ** v): power rule, exponential rule, or the general u**v * (v' log u + v u'/u)."""
    if not _depends_on(v, variable):
        return _mul(_mul(v, _pow(u, _sub(v, _number(1)))), du)
    if not _depends_on(u, variable):
        return _mul(_mul(_pow(u, v), _call("log", u)), dv)
    return _mul(_pow(u, v), _add(_mul(dv, _call("log", u)), _div(_mul(v, du), u)))


def derivative(node: ast.expr, variable: str) -> ast.expr:
    """Symbolic d node / d variable, simplified a little (0 and 1 folded away)."""
    if isinstance(node, ast.Constant):
        return _number(0)
    if isinstance(node, ast.Name):
        return _number(1 if node.id == variable else 0)
    if isinstance(node, ast.UnaryOp):
        inner = derivative(node.operand, variable)
        return _neg(inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Call):
        u = node.args[0]
        return _mul(_outer_derivative(node.func.id, u), derivative(u, variable))
    u, v = node.left, node.right
    du, dv = derivative(u, variable), derivative(v, variable)
    if isinstance(node.op, ast.Add):
        return _add(du, dv)
    if isinstance(node.op, ast.Sub):
        return _sub(du, dv)
    if isinstance(node.op, ast.Mult):
        return _add(_mul(du, v), _mul(u, dv))
    if isinstance(node.op, ast.Div):
        return _sub(_div(du, v), _div(_mul(u, dv), _pow(v, _number(2))))
    return _power_derivative(u, v, du, dv, variable)


# --- the recorded graph -------------------------------------------------------------------

@dataclass(frozen=True)
class GradGraph:
    """The autograd graph behind a result, in forward direction (inputs -> output)."""

    nodes: list[dict]  # {"id": int, "label": str, "kind": "leaf" | "op" | "output"}
    edges: list[tuple[int, int]]  # (from id, to id)


def grad_graph(result: torch.Tensor, leaves: dict[str, torch.Tensor]) -> GradGraph:
    """Walk ``result.grad_fn`` and its ``next_functions`` down to the leaves (AccumulateGrad)."""
    nodes, edges, ids = [{"id": 0, "label": "f", "kind": "output"}], [], {}
    if result.grad_fn is None:
        return GradGraph(nodes, edges)
    names = {id(tensor): name for name, tensor in leaves.items()}
    pending = [(result.grad_fn, 0)]  # (function, id of the node that consumes its output)
    while pending:
        function, consumer = pending.pop(0)
        if id(function) not in ids:
            ids[id(function)] = len(nodes)
            variable = getattr(function, "variable", None)
            if variable is not None:
                label, kind = f"{names.get(id(variable), '?')}  (AccumulateGrad)", "leaf"
            else:
                label, kind = type(function).__name__, "op"
            nodes.append({"id": ids[id(function)], "label": label, "kind": kind})
            pending += [(child, ids[id(function)]) for child, _ in function.next_functions if child is not None]
        edges.append((ids[id(function)], consumer))
    return GradGraph(nodes, edges)


def graph_to_dot(graph: GradGraph) -> str:
    """Graphviz DOT text for ``st.graphviz_chart``: leaves as boxes, ops as ellipses."""
    shapes = {"leaf": "box", "op": "ellipse", "output": "doublecircle"}
    lines = ["digraph autograd {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    lines += [f'  n{n["id"]} [label="{n["label"]}", shape={shapes[n["kind"]]}];' for n in graph.nodes]
    lines += [f"  n{source} -> n{target};" for source, target in graph.edges]
    return "\n".join(lines + ["}"])


# --- the whole analysis for the page --------------------------------------------------------

class _TorchSpelling(ast.NodeTransformer):
    """sin(x) -> torch.sin(x), pi -> math.pi: the expression as PyTorch code."""

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        return ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), node.func.id, ast.Load()), node.args, [])

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in CONSTANTS:
            return ast.Attribute(ast.Name("math", ast.Load()), node.id, ast.Load())
        return node


def torch_code(tree: ast.expr, values: dict[str, float]) -> str:
    """The PyTorch lines that compute f and its gradients for these values."""
    expression = ast.unparse(_TorchSpelling().visit(ast.parse(ast.unparse(tree), mode="eval").body))
    used = [name for name in VARIABLES if _depends_on(tree, name)]
    lines = (["import math"] if "math." in expression else []) + ["import torch", ""]
    lines += [f"{name} = torch.tensor({values[name]!r}, dtype=torch.float64, requires_grad=True)" for name in VARIABLES]
    lines.append(f"f = {expression}")
    if used:
        lines += ["f.backward()  # fills x.grad and y.grad", "print(f.item(), x.grad, y.grad)"]
    else:
        lines += ["print(f)  # no x or y in f: nothing to differentiate"]
    return "\n".join(lines)


@dataclass(frozen=True)
class GradientReport:
    """Everything the autograd page shows for one expression at one point."""

    expression: str  # normalised text (ast.unparse)
    code: str  # the PyTorch code that computes it
    value: float
    autograd: dict[str, float | None]  # x.grad / y.grad after backward(); None if f does not use it
    derivatives: dict[str, str]  # symbolic df/dx, df/dy
    analytic: dict[str, float]  # the symbolic derivatives evaluated at the point
    graph: GradGraph


def analyze(text: str, x: float, y: float) -> GradientReport:
    """Parse, evaluate with autograd, differentiate symbolically and record the graph."""
    tree = parse_expression(text)
    leaves = {name: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
              for name, v in (("x", x), ("y", y))}
    result = torch.as_tensor(evaluate(tree, leaves), dtype=torch.float64)
    if result.requires_grad:
        result.backward()
    autograd = {name: (None if t.grad is None else float(t.grad)) for name, t in leaves.items()}
    symbolic = {name: derivative(tree, name) for name in VARIABLES}
    point = {"x": torch.tensor(float(x), dtype=torch.float64), "y": torch.tensor(float(y), dtype=torch.float64)}
    analytic = {name: float(torch.as_tensor(evaluate(d, point), dtype=torch.float64)) for name, d in symbolic.items()}
    return GradientReport(
        expression=ast.unparse(tree), code=torch_code(tree, {"x": float(x), "y": float(y)}),
        value=result.detach().item(),
        autograd=autograd, derivatives={name: ast.unparse(d) for name, d in symbolic.items()},
        analytic=analytic, graph=grad_graph(result, leaves),
    )


EXAMPLES = {
    "sin(x) * y": "a product: df/dx = cos(x)·y, df/dy = sin(x)",
    "x**2 + 3*x*y + y**2": "a polynomial",
    "exp(-(x**2 + y**2))": "a Gaussian bump",
    "sigmoid(2*x - y)": "one neuron with weights 2 and -1",
    "log(1 + exp(x))": "softplus, a smooth relu",
    "relu(x - y) + abs(y)": "kinks: the gradient jumps at 0",
    "sqrt(x**2 + y**2)": "distance from the origin",
    "tanh(x * y) / (1 + x**2)": "a quotient",
    "x**y": "a variable exponent (x > 0)",
}
