import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# One thread: the suite shares 2 vCPUs with the app server and the browser in e2e tests.
torch.set_num_threads(1)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty run store for one test; pages and workers find it through the env var."""
    path = tmp_path / "runs"
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(path))
    return path
