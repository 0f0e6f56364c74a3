"""The `.npz` caches of loaded FashionMNIST splits: where they live and when one is trusted.

A cache holds one split's arrays at one image size and records which split, how many examples
and a digest of the prepared TFDS files it was read from (dataset_info.json's bytes and each
array_record shard's name, size and modification time). It is served only when all of these
match the prepared copy on disk now; a swapped, edited, truncated or older-format cache is
ignored, so the caller rebuilds it. Caches go beside the prepared dataset or, where that folder
cannot be written (read-only), under the user cache dir; where neither can be written the
arrays are served uncached, with a warning. Importing this module imports neither TFDS nor JAX.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from jaxhw.files import write_atomic

FORMAT = 2  # 1: jaxhw's caches before they recorded their split, count and source


def user_cache_dir() -> Path:
    """jaxhw's folder in the user cache dir: $XDG_CACHE_HOME/jaxhw, else ~/.cache/jaxhw."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxhw"


def cache_dirs(target: Path) -> list[Path]:
    """Folders that may hold caches of the dataset prepared at `target`, in the order tried."""
    key = hashlib.sha256(str(Path(target).resolve()).encode()).hexdigest()[:16]
    return [Path(target), user_cache_dir() / f"fashion_mnist-{key}"]


def file_name(split: str, shape: tuple[int, int]) -> str:
    """Name of the cache of `split` at image size `shape` (height, width)."""
    return f"jaxhw-{split}-{shape[0]}x{shape[1]}.npz"


def source_state(target: Path, split: str) -> tuple[str, int] | None:
    """(digest, number of examples) of a prepared split, None if its dataset_info is unusable."""
    try:
        info_bytes = (target / "dataset_info.json").read_bytes()
        lengths = next(s["shardLengths"] for s in json.loads(info_bytes)["splits"]
                       if s["name"] == split)
        count = sum(int(n) for n in lengths)
        digest = hashlib.sha256(info_bytes)
        # Rebuilding or replacing a shard changes its size or mtime; hashing the shards'
        # contents instead would make every warm load read them all.
        for shard in sorted(target.glob(f"*-{split}.array_record-*")):
            stat = shard.stat()
            digest.update(f"{shard.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    return digest.hexdigest(), count


def read(target: Path, split: str, shape: tuple[int, int]
         ) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached (images (n, *shape, 1) uint8, labels (n,) int32) of `split`, if trusted."""
    source = source_state(target, split)
    if source is None:
        return None
    for folder in cache_dirs(target):
        arrays = _read_one(folder / file_name(split, shape), split, shape, source)
        if arrays is not None:
            return arrays
    return None


def _read_one(path: Path, split: str, shape: tuple[int, int], source: tuple[str, int]
              ) -> tuple[np.ndarray, np.ndarray] | None:
    digest, count = source
    try:
        with np.load(path) as cache:
            recorded = (int(cache["format"]), str(cache["split"]), int(cache["num_examples"]),
                        str(cache["source_sha256"]))
            images, labels = cache["images"], cache["labels"]  # zip CRCs checked on read
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if recorded != (FORMAT, split, count, digest):
        return None
    if (images.shape != (count, *shape, 1) or images.dtype != np.uint8
            or labels.shape != (count,) or labels.dtype != np.int32):
        return None
    return images, labels


def write(target: Path, split: str, images: np.ndarray, labels: np.ndarray) -> Path | None:
    """Cache a split's arrays (atomically) in the first folder that takes them; its path or None.

    Never raises for a folder that cannot be written: the arrays are still valid, only uncached.
    """
    source = source_state(target, split)
    if source is None:
        return None
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, format=np.int64(FORMAT),
             split=np.str_(split), num_examples=np.int64(len(labels)),
             source_sha256=np.str_(source[0]))
    failures = []
    for folder in cache_dirs(target):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return write_atomic(folder / file_name(split, images.shape[1:3]), buffer.getvalue())
        except OSError as err:
            failures.append(f"{folder} ({err.strerror or err})")
    warnings.warn(f"FashionMNIST: could not cache the {split} arrays in {' or '.join(failures)}; "
                  "they are served uncached and later loads read the TFDS files again.",
                  RuntimeWarning, stacklevel=3)
    return None
