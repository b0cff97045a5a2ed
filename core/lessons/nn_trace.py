"""What an nn.Module is made of, and a forward pass traced shape by shape with forward hooks."""
from __future__ import annotations

import torch
from torch import nn

from core.models import build_model

MAX_LAYERS = 4
MAX_WIDTH = 1024


def parse_sizes(text: str, field: str = "hidden", max_count: int = MAX_LAYERS,
                max_size: int = MAX_WIDTH) -> tuple[int, ...]:
    """'128, 64' -> (128, 64); ValueError names the field and says what is expected."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not 1 <= len(parts) <= max_count:
        wanted = ("one width, like 64" if max_count == 1
                  else f"1 to {max_count} widths separated by commas, like 128, 64")
        raise ValueError(f"{field}: give {wanted}")
    sizes = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= max_size:
            raise ValueError(f"{field}: {part!r} is not a width; use whole numbers from 1 to {max_size}")
        sizes.append(int(part))
    return tuple(sizes)


def seeded_model(model: str, hidden: tuple[int, ...], channels: tuple[int, int], activation: str,
                 dropout: float, seed: int) -> nn.Module:
    """build_model with its random initial weights fixed by ``seed`` (the global RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(model, hidden=hidden, channels=channels, activation=activation, dropout=dropout)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules with no children: the layers that actually compute."""
    return [(name, module) for name, module in model.named_modules() if not list(module.children())]


def layer_table(model: nn.Module) -> list[dict]:
    """One row per layer: its settings, parameter shapes and parameter count."""
    rows = []
    for name, module in _leaves(model):
        shapes = [f"{pname} {tuple(p.shape)}" for pname, p in module.named_parameters()]
        rows.append({
            "layer": name, "type": type(module).__name__, "settings": module.extra_repr(),
            "parameter shapes": ", ".join(shapes) or "—",
            "parameters": sum(p.numel() for p in module.parameters()),
        })
    return rows


def trace_forward(model: nn.Module, image: torch.Tensor) -> tuple[list[dict], torch.Tensor]:
    """Run one image (1, 1, 28, 28) through the model, recording each layer's input and output shape."""
    rows = [{"step": 0, "layer": "input", "type": "", "input shape": "", "output shape": str(tuple(image.shape)),
             "values": image.numel(), "min": float(image.min()), "max": float(image.max())}]

    def record(name):
        def hook(module, inputs, output):  # called by PyTorch right after module.forward
            rows.append({"step": len(rows), "layer": name, "type": type(module).__name__,
                         "input shape": str(tuple(inputs[0].shape)), "output shape": str(tuple(output.shape)),
                         "values": output.numel(), "min": float(output.min()), "max": float(output.max())})
        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in _leaves(model)]
    try:
        model.eval()  # dropout off: the trace shows what inference does
        with torch.no_grad():
            logits = model(image)
    finally:
        for handle in handles:
            handle.remove()
    return rows, logits


def class_probabilities(logits: torch.Tensor) -> list[float]:
    """Softmax of (1, 10) logits as ten plain floats."""
    return torch.softmax(logits, dim=1).squeeze(0).tolist()
