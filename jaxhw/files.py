"""Small file helpers shared by checkpoints, data caches and results (no JAX import)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one, never half.

    The bytes go to a temporary file beside it, are flushed to disk, and the file is renamed
    over `path`; a failure leaves no temporary file behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # make the rename itself durable
    finally:
        os.close(fd)
    return path
