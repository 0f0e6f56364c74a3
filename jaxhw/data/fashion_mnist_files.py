"""FashionMNIST's files, read and checked: the four IDX files and a prepared TFDS copy.

Every check raises FashionMNISTDataError naming the file and the fix. Importing this module
imports neither TFDS nor JAX.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")
STANDARD_COUNTS = {"train": 60_000, "test": 10_000}
IMAGE_SIZE = 28
NUM_CLASSES = 10
FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}
HOW_TO_GET = ("Get the files with `sudo apt-get update && sudo apt-get install -y "
              "dataset-fashion-mnist` (installs them in /usr/share/datasets/fashion-mnist), or "
              "put the four IDX files (" + ", ".join(FILES.values()) + ") in a folder and set "
              "FASHION_MNIST_DIR to it.")
_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes; magic = 0x0000 | type << 8 | ndim


class FashionMNISTDataError(ValueError):
    """FashionMNIST files are missing, malformed or damaged; the message names the file and fix."""


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Decode one gzipped IDX file of unsigned bytes with `ndim` dims, checking it strictly."""
    path = Path(path)

    def bad(why: str) -> FashionMNISTDataError:
        return FashionMNISTDataError(f"{path}: {why}. Reinstall or replace the file. " + HOW_TO_GET)

    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise FashionMNISTDataError(f"{path}: file not found. " + HOW_TO_GET) from None
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise bad(f"not a readable gzip file (truncated or corrupt: {err})") from err
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise bad(f"only {len(raw)} bytes, shorter than the {header}-byte IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    expected = _IDX_UBYTE << 8 | ndim
    if magic != expected:
        raise bad(f"IDX magic number is {magic:#010x}, expected {expected:#010x} "
                  f"(unsigned bytes, {ndim} dimension(s))")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise bad(f"header announces shape {shape} ({size} bytes of data) but the file holds "
                  f"{len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def check_counts(expected_counts: Mapping[str, int] | None) -> dict[str, int]:
    """`expected_counts` as {"train": n, "test": m} (None: the standard 60,000 / 10,000)."""
    if expected_counts is None:
        return dict(STANDARD_COUNTS)
    if (not isinstance(expected_counts, Mapping) or set(expected_counts) != set(SPLITS)
            or not all(isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1
                       for n in expected_counts.values())):
        raise ValueError("expected_counts must map 'train' and 'test' to positive integers "
                         f"(e.g. {STANDARD_COUNTS}), got {expected_counts!r}")
    return {split: int(expected_counts[split]) for split in SPLITS}


def read_split(folder: str | Path, split: str, expected_counts: Mapping[str, int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Validated IDX arrays of a split: images (n, 28, 28, 1) uint8, labels (n,) uint8.

    n must be `expected_counts[split]`, by default the standard count (60,000 train, 10,000
    test), so a file of the other split (train and test swapped) is refused.
    """
    folder = Path(folder)
    counts = check_counts(expected_counts)
    images_path, labels_path = (folder / FILES[split, kind] for kind in ("images", "labels"))
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise FashionMNISTDataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected "
            f"{IMAGE_SIZE}x{IMAGE_SIZE}. " + HOW_TO_GET)
    if len(images) != len(labels):
        raise FashionMNISTDataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels: the two files do not belong together. " + HOW_TO_GET)
    if len(labels) != counts[split]:
        other = next(s for s in SPLITS if s != split)
        why = (f"the {split} and {other} files look swapped" if len(labels) == counts[other]
               else "not the full FashionMNIST split (pass expected_counts for other data)"
               if counts == STANDARD_COUNTS else "expected_counts says otherwise")
        raise FashionMNISTDataError(
            f"{images_path} and {labels_path} hold {len(labels)} examples, expected "
            f"{counts[split]} for the {split} split: {why}. " + HOW_TO_GET)
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise FashionMNISTDataError(
            f"{labels_path}: label {labels.max()} is outside 0..{NUM_CLASSES - 1}. " + HOW_TO_GET)
    return images[..., None], labels


def prepared_state(target: Path) -> str:
    """State of the TFDS copy at `target`: absent, stale (records shuffled) or sound (checked).

    Sound means dataset_info.json says the records keep the files' order and lists, per split,
    as many array_record shards as `target` holds, each with the number of records it holds.
    Anything else present raises FashionMNISTDataError naming the file and how to rebuild.
    """
    if not target.exists():
        return "absent"
    info_path = target / "dataset_info.json"
    try:
        info = json.loads(info_path.read_bytes())
    except FileNotFoundError:
        raise damaged(target, f"{info_path} is missing") from None
    except (OSError, ValueError) as err:
        raise damaged(target, f"{info_path} is unreadable ({err})") from err
    if not isinstance(info, dict) or not info.get("disableShuffling"):
        return "stale"  # TFDS's stock builder and jaxhw before it kept the order never set it
    try:
        lengths = {s["name"]: [int(n) for n in s["shardLengths"]] for s in info["splits"]}
    except (KeyError, TypeError, ValueError) as err:
        raise damaged(target, f"{info_path} has no readable split list ({err!r})") from err
    for split in SPLITS:
        shards = sorted(target.glob(f"*-{split}.array_record-*-of-*"))
        listed = lengths.get(split, [])
        if not shards or len(shards) != len(listed):
            raise damaged(target, f"{info_path} lists {len(listed)} {split} shard(s) but "
                          f"{target} holds {len(shards)} {split} array_record file(s)")
        for shard, length in zip(shards, listed, strict=True):
            held = num_records(shard)
            if held is None:
                raise damaged(target, f"{shard} is truncated or corrupt")
            if held != length:
                raise damaged(target, f"{info_path} lists {length} examples in {shard.name} "
                              f"but the file holds {held}")
    return "sound"


def held_counts(target: Path) -> dict[str, int]:
    """Examples per split of a copy that `prepared_state` found sound (from dataset_info.json)."""
    info = json.loads((target / "dataset_info.json").read_bytes())
    lengths = {s["name"]: sum(int(n) for n in s["shardLengths"]) for s in info["splits"]}
    return {split: lengths.get(split, 0) for split in SPLITS}


def num_records(path: Path) -> int | None:
    """Records in an array_record file, None where the file is truncated or corrupt."""
    from array_record.python import array_record_module

    reader = array_record_module.ArrayRecordReader(str(path))
    try:
        return reader.num_records() if reader.ok() else None
    finally:
        with contextlib.suppress(RuntimeError):  # closing a damaged reader reports it again
            reader.close()


def damaged(target: Path, why: str) -> FashionMNISTDataError:
    """The error for a damaged prepared copy at `target`: `why`, and how to rebuild it."""
    return FashionMNISTDataError(
        f"{why}: the prepared FashionMNIST copy at {target} is damaged. Delete that folder "
        "and prepare it again from the IDX files (`make data`, or in Python "
        f"`fashion_mnist.prepare({str(target.parent.parent)!r})`).")
