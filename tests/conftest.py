import os
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# One thread: the suite shares 2 vCPUs with the app server and the browser in e2e tests.
torch.set_num_threads(1)

# Datasets and caches of this test session go to a temporary folder, never ./data (subprocesses
# and servers started by tests inherit it; tests that need their own folder set it again).
os.environ["DIGITLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="digitlab-data-")
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="digitlab-cache-")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty run store for one test; pages and workers find it through the env var."""
    path = tmp_path / "runs"
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(path))
    return path
