"""Mixed precision: the context the forward pass and loss run in."""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import torch


def mixed_precision(precision: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of the context the forward pass runs in: bfloat16 autocast, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision bf16 needs a GPU with bfloat16 support; {torch.cuda.get_device_name(device)} "
                         "has none. Choose precision fp32.")
    return functools.partial(torch.autocast, device.type, dtype=torch.bfloat16)
