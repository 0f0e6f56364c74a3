"""Shared fixtures: a tiny FashionMNIST IDX set, temporary TFDS data dirs, the real data.

The test run keeps XLA's compiled programs in one fresh folder that every test process shares
(pytest's workers and the scripts tests start inherit the variables): the same program, traced
again by another test or process, is compiled once per run. Set JAX_COMPILATION_CACHE_DIR
yourself to use another folder.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

from jaxhw.data import fashion_mnist as fm

_OWN_XLA_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # set before any test imports jax
    _OWN_XLA_CACHE = tempfile.mkdtemp(prefix="jaxhw-test-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_XLA_CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's compile cache goes with the process that made it (pytest's main process)."""
    if _OWN_XLA_CACHE is not None:
        shutil.rmtree(_OWN_XLA_CACHE, ignore_errors=True)

TINY_SIZES = {"train": 64, "test": 16}


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """Write uint8 `array` as a gzipped IDX file (magic 0x08 << 8 | ndim unless given)."""
    magic = 0x0800 | array.ndim if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array, np.uint8).tobytes()))
    return path


def tiny_arrays(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split: random images (n, 28, 28) uint8 (all distinct) and labels covering 0..9."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in TINY_SIZES.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        out[split] = images, labels
    return out


@pytest.fixture
def idx_writer():
    """`write_idx(path, array, magic=None)`, for tests that build malformed IDX files."""
    return write_idx


@pytest.fixture
def tiny_idx(tmp_path: Path) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A folder holding the four IDX .gz files of a tiny FashionMNIST, and its arrays."""
    folder = tmp_path / "idx"
    folder.mkdir()
    arrays = tiny_arrays()
    for split, (images, labels) in arrays.items():
        write_idx(folder / fm.FILES[split, "images"], images)
        write_idx(folder / fm.FILES[split, "labels"], labels)
    return folder, arrays


@pytest.fixture
def tfds_data_dir(tmp_path: Path) -> Path:
    """An empty TFDS data dir for one test (never TFDS's default one)."""
    path = tmp_path / "tfds"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TFDS data dir holding the real FashionMNIST arrays, cached.

    TFDS's default data dir when `make data`/`make run` already left a warm cache there (read
    only); otherwise a session temp dir, prepared here once (about a minute on 2 slow cores).
    """
    if all(fm.is_cached(split) for split in fm.SPLITS):
        return fm.default_data_dir()
    data_dir = tmp_path_factory.mktemp("tfds-real")
    for split in fm.SPLITS:
        fm.load(split, data_dir)
    return data_dir
