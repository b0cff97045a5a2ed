import pytest
import torch

from core.devices import choose_threads, list_devices, resolve_device


def test_the_cpu_is_always_listed_and_auto_picks_a_gpu_only_when_there_is_one():
    devices = list_devices()
    assert devices[0].id == "cpu" and "cores" in devices[0].label
    expected = "cuda" if torch.cuda.is_available() else ("mps" if len(devices) > 1 else "cpu")
    assert resolve_device("auto").type == expected


def test_a_device_that_does_not_exist_is_a_clear_error():
    with pytest.raises(ValueError, match="device must be 'auto' or one of"):
        resolve_device("cuda:7")


def test_the_mlp_gets_one_thread_and_the_cnn_the_fastest_measured():
    calls = []

    def probe(threads):
        calls.append(threads)
        return {1: 2.0, 2: 1.1, 3: 0.9, 4: 1.5}[threads]

    assert choose_threads("mlp", probe, cores=8) == 1 and calls == []
    assert choose_threads("cnn", probe, cores=4) == 3
    assert choose_threads("cnn", lambda n: {1: 1.0, 2: 3.0}[n], cores=2) == 1  # the second core is busy
    assert choose_threads("cnn", probe, cores=1) == 1
