"""Small file helpers shared by checkpoints, data caches and results (no JAX import)."""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

# `.<name>.tmp-<pid>-<token>-<host>`; older jaxhw wrote `.<name>.tmp-<pid>` (host unknown).
_TEMPORARY = re.compile(r"^\..+\.tmp-(?P<pid>\d+)(?:-[0-9a-f]{8}-(?P<host>.+))?$")


def _host() -> str:
    """This machine's name, restricted to characters that are safe in a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "unknown"


def temporary_path(path: str | Path) -> Path:
    """A hidden file beside `path` that only this call will use.

    The name holds the writer's pid and host (so that a later writer can tell whether it is
    still running) and a random token (so that two threads of one process never share it).
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}-{_host()}")


def _running(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)  # signal 0 checks existence and sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def abandoned_temporaries(folder: str | Path) -> list[Path]:
    """`write_atomic`'s temporary files in `folder` whose writer is gone, safe to delete.

    Gone means: written on this host (or by an older jaxhw, which named no host) by a pid that
    no longer runs. A file from another host, or from a live pid, is left alone: it may be a
    write in progress. A pid reused since only delays the cleanup.
    """
    found = []
    for entry in Path(folder).iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and match["host"] in (None, _host()) and not _running(int(match["pid"])):
            found.append(entry)
    return sorted(found)


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
