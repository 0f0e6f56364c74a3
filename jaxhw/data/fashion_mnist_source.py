"""What a prepared FashionMNIST copy was made from: its source record, and checks against it.

Each copy jaxhw prepares holds `jaxhw-source.json`: a sha256 over its four IDX files, the
number of examples per split, the TFDS releases known to prepare this version, and the stat
signatures (size, mtime, ctime, inode, device) of folders found to hold those very files.
A copy is served only for the IDX files that would be used to prepare it now, and only with
the expected counts: the signature check costs four `stat` calls, so a warm load stays a few
milliseconds; the files are hashed (30 MB, ~40 ms) only when a signature is new, and a match
is then remembered. Importing this module imports neither TFDS nor JAX.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxhw.data.fashion_mnist_files import FILES, SPLITS
from jaxhw.files import write_atomic

RECORD = "jaxhw-source.json"
FORMAT = 1


def signature(folder: Path) -> dict[str, list[int]]:
    """Per IDX file in `folder`: [size, mtime_ns, ctime_ns, inode, device].

    Rewriting or replacing a file changes its mtime or inode, and setting the mtime back
    changes its ctime: a file whose signature is unchanged is taken to hold the same bytes.
    """
    out = {}
    for name in FILES.values():
        stat = (Path(folder) / name).stat()
        out[name] = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]
    return out


def digest(folder: Path) -> str:
    """sha256 over the four IDX files' names and bytes (read in 1 MiB blocks)."""
    total = hashlib.sha256()
    for name in sorted(FILES.values()):
        one = hashlib.sha256()
        with open(Path(folder) / name, "rb") as f:
            while block := f.read(1 << 20):
                one.update(block)
        total.update(f"{name} {one.hexdigest()}\n".encode())
    return total.hexdigest()


def new_record(folder: Path | None, counts: Mapping[str, int], tfds_release: str
               ) -> dict[str, Any]:
    """The record of a copy prepared from `folder` (None: made elsewhere, source unknown)."""
    seen = {}
    sha = None
    if folder is not None:
        seen[str(Path(folder).resolve())] = signature(folder)  # before hashing: see `holds`
        sha = digest(folder)
    return {"format": FORMAT, "sha256": sha, "counts": {s: int(counts[s]) for s in SPLITS},
            "tfds": [tfds_release], "seen": seen}


def read_record(target: Path) -> dict[str, Any] | None:
    """The source record of the copy at `target`; None if absent, unreadable or malformed."""
    try:
        record = json.loads((Path(target) / RECORD).read_bytes())
        if (record["format"] == FORMAT and isinstance(record["tfds"], list)
                and isinstance(record["seen"], dict) and set(record["counts"]) == set(SPLITS)):
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write_record(target: Path, record: Mapping[str, Any]) -> None:
    """Write the record beside the copy at `target`, atomically."""
    write_atomic(Path(target) / RECORD, (json.dumps(record, indent=1) + "\n").encode())


def holds(record: dict[str, Any], folder: Path | None, target: Path) -> bool:
    """Whether the copy at `target` was prepared from the files in `folder` (None: no files).

    With no files to compare against, the copy is served as it was prepared. A folder whose
    signature is new is hashed; a match is remembered in the record (when it can be written).
    """
    if folder is None:
        return True
    if record["sha256"] is None:
        return False
    key, now = str(Path(folder).resolve()), signature(folder)
    if record["seen"].get(key) == now:
        return True
    if digest(folder) != record["sha256"]:
        return False
    record["seen"][key] = now
    try:
        write_record(target, record)
    except OSError:  # a read-only copy: hashed again next time, still served
        pass
    return True


def known_version(versions: Sequence[Path], tfds_release: str) -> str | None:
    """The folder name (a version) among `versions` whose record lists `tfds_release`."""
    for folder in sorted(versions):
        record = read_record(folder)
        if record is not None and tfds_release in record["tfds"]:
            return folder.name
    return None


def lock_path(dataset_root: Path) -> Path:
    """The lock file of `<data_dir>/fashion_mnist`: one prepare at a time per data dir."""
    return Path(dataset_root) / ".jaxhw-prepare.lock"
