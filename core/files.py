"""Writing files so that a crash, a full disk or a concurrent reader never sees half of one."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, save: Callable[[Path], None]) -> None:
    """Call ``save(temporary)`` on a file next to ``path``, then rename it over ``path``.

    The rename is atomic on one file system, so readers see the old file or the new one; on any
    error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save(Path(temporary))
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``data`` into ``path`` atomically, creating its folder if needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda temporary: temporary.write_bytes(data))
