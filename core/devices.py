"""Which devices exist, which one ``auto`` means, and how many CPU threads to use."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Device:
    id: str  # what torch.device() takes: "cpu", "cuda:0", "mps"
    label: str  # what a person reads


def cpu_count() -> int:
    """CPUs this process may run on (cgroup/affinity aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def list_devices() -> list[Device]:
    devices = [Device("cpu", f"CPU ({cpu_count()} cores)")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append(Device(f"cuda:{i}", f"cuda:{i} · {props.name} · {props.total_memory / 2**30:.0f} GiB"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(Device("mps", "Apple GPU (MPS)"))
    return devices


def resolve_device(name: str) -> torch.device:
    """``auto`` is the first GPU if there is one, else Apple's MPS, else the CPU."""
    ids = [d.id for d in list_devices()]
    if name == "auto":
        return torch.device(ids[1] if len(ids) > 1 else "cpu")
    if name == "cuda":
        name = "cuda:0"
    if name not in ids:
        raise ValueError(f"device must be 'auto' or one of {ids} on this machine, got {name!r}")
    return torch.device(name)


def choose_threads(model_name: str, probe=None, cores: int | None = None) -> int:
    """CPU threads for training.

    The MLP's steps are ~1 ms of overhead-bound work: a second thread gains nothing idle
    and costs ~10x when another process (the Streamlit server, a browser) wants that core,
    so it gets one thread. For the CNN, ``probe(threads) -> seconds`` times a few real
    steps with each candidate and the fastest wins: measured here, on the machine as it
    is loaded right now.
    """
    cores = cores or cpu_count()
    if model_name == "mlp" or cores == 1 or probe is None:
        return 1
    candidates = sorted({1, min(cores, 4), max(1, min(cores - 1, 4))})
    timings = {n: probe(n) for n in candidates}
    return min(timings, key=timings.get)


def time_steps(step, threads: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds of one ``step()`` under ``threads`` CPU threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        step()  # warm-up: first call allocates
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - start)
        return best
    finally:
        torch.set_num_threads(previous)
