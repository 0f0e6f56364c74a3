"""Small file helpers shared by checkpoints, data caches and results (no JAX import)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def temporary_path(path: str | Path) -> Path:
    """A hidden file beside `path` that only this call will use: the writer's pid and a random
    token (so that two threads of one process never share it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one, never half.

    The bytes go to a temporary file beside it (see `temporary_path`), are flushed to disk, and
    the file is renamed over `path`; a failure leaves no temporary file behind.
    """
    path = Path(path)
    tmp = temporary_path(path)
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


class LockBusy(OSError):
    """Another process holds the lock; the message names the holder as it described itself
    (`holder`: that text, or None when the holder has written nothing yet)."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@contextlib.contextmanager
def file_lock(path: str | Path, *, shared: bool = False, wait: bool = True,
              holder: str | None = None) -> Iterator[None]:
    """Hold an `flock` on `path` (created if missing) for the `with` block.

    Exclusive unless `shared`. With `wait=False` a lock held elsewhere raises LockBusy, whose
    message is what the holder wrote with `holder=` ("pid 12 on host ..."). The kernel releases
    the lock when its holder exits or dies, even by SIGKILL, so a crash leaves nothing to clean
    up; the file stays (deleting it would race with the next holder).
    """
    import fcntl  # POSIX only; imported here so that the module loads everywhere

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        if not shared or not os.path.exists(path):
            raise
        fd = os.open(path, os.O_RDONLY)  # another user's lock file: a shared flock needs no more
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 1024, 0).decode(errors="replace").strip() or None
            raise LockBusy(f"{path} is held by {text or 'another process, just starting'}",
                           text) from None
        if holder is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder + "\n").encode(), 0)
        try:
            yield
        finally:
            if holder is not None:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
