"""The guide's central comparison: one small network written twice, in NumPy and in PyTorch.

A 2-layer net (inputs -> hidden sigmoid -> 1 sigmoid output) for binary classification.
The NumPy version does forward, loss, backpropagation and the update by hand; the PyTorch
version is an ``nn.Module`` trained with autograd and ``torch.optim.SGD``. Both start from
the same weights on the same data, so their losses must agree to rounding error, and the
page shows the source of these very functions (``inspect.getsource``) side by side.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# The guide's toy problem: 3 samples, 4 binary features, labels 1, 1, 0.
GUIDE_X = [[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]]
GUIDE_Y = [[1], [1], [0]]
DATASETS = ("guide", "blobs")
LOSSES = ("mse", "bce")
DTYPES = {"float64": (np.float64, torch.float64), "float32": (np.float32, torch.float32)}


@dataclass(frozen=True)
class NetConfig:
    """Settings of one side-by-side run; the defaults are the guide's."""

    dataset: str = "guide"  # "guide": its 3 x 4 table; "blobs": two Gaussian clusters
    n_samples: int = 64  # blobs only
    n_features: int = 4  # blobs only (the guide's table has 4)
    hidden: int = 3  # the guide's hidden width
    lr: float = 0.5
    steps: int = 1_000
    loss: str = "mse"  # "mse" as in the guide (squared error), or "bce" (binary cross-entropy)
    dtype: str = "float64"  # float64 makes the two agree to ~1e-16; float32 to ~1e-7
    seed: int = 0

    def validate(self) -> None:
        checks = [
            ("dataset", self.dataset in DATASETS, f"one of {DATASETS}"),
            ("n_samples", 2 <= self.n_samples <= 2_000, "between 2 and 2000"),
            ("n_features", 1 <= self.n_features <= 50, "between 1 and 50"),
            ("hidden", 1 <= self.hidden <= 100, "between 1 and 100"),
            ("lr", 0 < self.lr <= 100, "in (0, 100]"),
            ("steps", 1 <= self.steps <= 20_000, "between 1 and 20000"),
            ("loss", self.loss in LOSSES, f"one of {LOSSES}"),
            ("dtype", self.dtype in DTYPES, f"one of {tuple(DTYPES)}"),
        ]
        for field, ok, expected in checks:
            if not ok:
                raise ValueError(f"{field} must be {expected}, got {getattr(self, field)!r}")


def make_data(config: NetConfig) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, d), y (n, 1)) in the config's dtype."""
    np_dtype = DTYPES[config.dtype][0]
    if config.dataset == "guide":
        return np.array(GUIDE_X, dtype=np_dtype), np.array(GUIDE_Y, dtype=np_dtype)
    rng = np.random.default_rng(config.seed)
    y = (np.arange(config.n_samples) % 2).reshape(-1, 1)  # alternating labels: balanced classes
    centres = np.where(y == 1, 1.0, -1.0)  # class 1 around +1, class 0 around -1, in every feature
    X = centres + rng.normal(0.0, 1.0, size=(config.n_samples, config.n_features))
    return X.astype(np_dtype), y.astype(np_dtype)


def init_params(n_inputs: int, hidden: int, seed: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases, the range nn.Linear uses."""
    rng = np.random.default_rng(seed)
    shapes = {"w1": (n_inputs, hidden), "b1": (1, hidden), "w2": (hidden, 1), "b2": (1, 1)}
    fan_in = {"w1": n_inputs, "b1": n_inputs, "w2": hidden, "b2": hidden}
    return {name: (rng.uniform(-1, 1, size=shape) / np.sqrt(fan_in[name])).astype(DTYPES[dtype][0])
            for name, shape in shapes.items()}


# --- NumPy: everything by hand ------------------------------------------------------------

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_forward(params, X):
    hidden = sigmoid(X @ params["w1"] + params["b1"])  # (n, h)
    output = sigmoid(hidden @ params["w2"] + params["b2"])  # (n, 1)
    return hidden, output


def numpy_loss(output, y, loss):
    if loss == "mse":
        return np.mean((output - y) ** 2)
    return -np.mean(y * np.log(output) + (1 - y) * np.log(1 - output))


def numpy_backward(params, X, y, hidden, output, loss):
    n = len(X)
    if loss == "mse":  # d/dz of mean((sigmoid(z) - y)^2)
        d_output = 2 * (output - y) / n * output * (1 - output)  # (n, 1)
    else:  # sigmoid + cross-entropy: the derivative simplifies to (output - y) / n
        d_output = (output - y) / n
    d_hidden = (d_output @ params["w2"].T) * hidden * (1 - hidden)  # (n, h)
    return {
        "w1": X.T @ d_hidden, "b1": d_hidden.sum(axis=0, keepdims=True),
        "w2": hidden.T @ d_output, "b2": d_output.sum(axis=0, keepdims=True),
    }


def numpy_step(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]


def train_numpy(params, X, y, loss, lr, steps):
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        hidden, output = numpy_forward(params, X)
        losses.append(float(numpy_loss(output, y, loss)))
        grads = numpy_backward(params, X, y, hidden, output, loss)
        numpy_step(params, grads, lr)
    return losses, (time.perf_counter() - start) / steps


# --- PyTorch: nn.Module, autograd, torch.optim ----------------------------------------------

class TorchNet(nn.Module):
    def __init__(self, n_inputs, hidden):
        super().__init__()
        self.hidden = nn.Linear(n_inputs, hidden)
        self.output = nn.Linear(hidden, 1)

    def forward(self, X):
        return torch.sigmoid(self.output(torch.sigmoid(self.hidden(X))))


def train_torch(model, X, y, loss, lr, steps):
    loss_fn = nn.MSELoss() if loss == "mse" else nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss_fn(model(X), y)
        value.backward()  # autograd does numpy_backward's work
        optimizer.step()  # p -= lr * p.grad, like numpy_step
        losses.append(value.item())
    return losses, (time.perf_counter() - start) / steps


# --- the bridge between the two -----------------------------------------------------------

def torch_net_from(params: dict[str, np.ndarray], dtype: str = "float64") -> TorchNet:
    """A TorchNet holding exactly these NumPy weights (nn.Linear keeps W as (out, in): transposed)."""
    n_inputs, hidden = params["w1"].shape
    model = TorchNet(n_inputs, hidden).to(DTYPES[dtype][1])
    with torch.no_grad():
        model.hidden.weight.copy_(torch.from_numpy(params["w1"].T.copy()))
        model.hidden.bias.copy_(torch.from_numpy(params["b1"].ravel().copy()))
        model.output.weight.copy_(torch.from_numpy(params["w2"].T.copy()))
        model.output.bias.copy_(torch.from_numpy(params["b2"].ravel().copy()))
    return model


def numpy_gradients(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, loss: str) -> dict[str, np.ndarray]:
    hidden, output = numpy_forward(params, X)
    return numpy_backward(params, X, y, hidden, output, loss)


def torch_gradients(model: TorchNet, X: np.ndarray, y: np.ndarray, loss: str) -> dict[str, np.ndarray]:
    """Autograd's gradients, reshaped to the NumPy layout (w as (in, out), b as (1, out))."""
    loss_fn = nn.MSELoss() if loss == "mse" else nn.BCELoss()
    model.zero_grad()
    loss_fn(model(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    return {
        "w1": model.hidden.weight.grad.T.numpy().copy(), "b1": model.hidden.bias.grad.numpy().reshape(1, -1).copy(),
        "w2": model.output.weight.grad.T.numpy().copy(), "b2": model.output.bias.grad.numpy().reshape(1, -1).copy(),
    }


@dataclass(frozen=True)
class Comparison:
    """Everything the NumPy vs PyTorch page shows for one config."""

    numpy_losses: list[float]  # loss before each step
    torch_losses: list[float]
    gradient_differences: list[dict]  # step one, per parameter: name, shape, largest |numpy - torch|
    max_gradient_difference: float
    max_loss_difference: float  # over the whole run
    numpy_seconds_per_step: float
    torch_seconds_per_step: float
    predictions: list[dict]  # per sample (first 10): label, NumPy output, PyTorch output
    numpy_accuracy: float
    torch_accuracy: float


def compare(config: NetConfig) -> Comparison:
    """Build both nets from the same weights, compare step-one gradients, then train both."""
    config.validate()
    X, y = make_data(config)
    params = init_params(X.shape[1], config.hidden, config.seed, config.dtype)
    model = torch_net_from(params, config.dtype)
    ours, autograd = numpy_gradients(params, X, y, config.loss), torch_gradients(model, X, y, config.loss)
    differences = [{"parameter": name, "shape": str(ours[name].shape),
                    "largest |NumPy - autograd|": float(np.max(np.abs(ours[name] - autograd[name])))}
                   for name in ours]
    numpy_losses, numpy_time = train_numpy(params, X, y, config.loss, config.lr, config.steps)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    torch_losses, torch_time = train_torch(model, X_t, y_t, config.loss, config.lr, config.steps)
    numpy_out = numpy_forward(params, X)[1].ravel()  # (n,) probabilities of class 1
    with torch.no_grad():
        torch_out = model(X_t).numpy().ravel()
    labels = y.ravel()
    return Comparison(
        numpy_losses, torch_losses, differences, max(d["largest |NumPy - autograd|"] for d in differences),
        float(np.max(np.abs(np.subtract(numpy_losses, torch_losses)))), numpy_time, torch_time,
        _predictions(labels, numpy_out, torch_out),
        float(np.mean((numpy_out > 0.5) == (labels > 0.5))), float(np.mean((torch_out > 0.5) == (labels > 0.5))),
    )


def _predictions(labels: np.ndarray, numpy_out: np.ndarray, torch_out: np.ndarray, limit: int = 10) -> list[dict]:
    return [{"sample": i, "label": int(labels[i]), "NumPy output": float(numpy_out[i]),
             "PyTorch output": float(torch_out[i])} for i in range(min(limit, len(labels)))]


def listings() -> dict[str, str]:
    """The source of the functions that ran, as the page shows them."""
    numpy_side = (sigmoid, numpy_forward, numpy_loss, numpy_backward, numpy_step, train_numpy)
    torch_side = (TorchNet, train_torch, torch_net_from)
    return {
        "numpy": "\n\n".join(inspect.getsource(f) for f in numpy_side),
        "torch": "\n\n".join(inspect.getsource(f) for f in torch_side),
    }
