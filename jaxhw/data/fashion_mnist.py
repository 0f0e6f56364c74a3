"""FashionMNIST (d2l 4.2) offline: a TFDS builder over local IDX files, cached uint8 arrays.

Path of the data: four IDX `.gz` files (Debian's `dataset-fashion-mnist`, `$FASHION_MNIST_DIR`,
the TFDS manual dir or a `source` folder) -> `FashionMNIST`, a TFDS builder with the stock
`fashion_mnist` name, features, splits and version -> `array_record` under the TFDS data dir ->
`tfds.data_source`, read once per split into uint8 arrays -> `jaxhw-<split>.npz` beside the
prepared dataset. Later loads, in any process, read only that `.npz`: neither TensorFlow
Datasets (0.6 s to import) nor JAX is imported on that path.

TensorFlow is never needed: the builder yields `PIL.Image`s (TFDS encodes those with PIL,
numpy images would go through TF's PNG encoder) and `data_source` decodes with PIL. Nothing
touches the network unless `online=True` is asked for.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxhw.files import write_atomic

NAME = "fashion_mnist"
VERSION = "3.0.1"  # TFDS's `fashion_mnist` version; tests check it against TFDS's class
SPLITS = ("train", "test")
SPLIT_ALIASES = {"val": "test", "validation": "test"}
IMAGE_SIZE = 28
NUM_CLASSES = 10
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}
TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")
HOW_TO_GET = ("Get the files with `sudo apt-get update && sudo apt-get install -y "
              "dataset-fashion-mnist` (installs them in /usr/share/datasets/fashion-mnist), or "
              "put the four IDX files (" + ", ".join(FILES.values()) + ") in a folder and set "
              "FASHION_MNIST_DIR to it.")
_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes; magic = 0x0000 | type << 8 | ndim
_CACHE_FORMAT = 1


class FashionMNISTDataError(ValueError):
    """The FashionMNIST IDX files are missing or malformed; the message names the file and fix."""


def default_data_dir() -> Path:
    """TFDS's default data dir, as TFDS computes it: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return Path(os.environ.get("TFDS_DATA_DIR")
                or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def dataset_dir(data_dir: str | Path | None = None) -> Path:
    """Folder of the prepared dataset: <data_dir>/fashion_mnist/<version>."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return root / NAME / VERSION


def _has_all_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES.values())


def locate_source(source: str | Path | None = None, manual_dir: str | Path | None = None) -> Path:
    """Folder holding the four IDX files: `source`, $FASHION_MNIST_DIR, `manual_dir`, Debian's.

    A folder named explicitly (`source` or $FASHION_MNIST_DIR) must hold all four files; the
    others are tried in turn. Raises FashionMNISTDataError naming what is missing and the fix.
    """
    explicit = source if source is not None else os.environ.get("FASHION_MNIST_DIR") or None
    if explicit is not None:
        folder = Path(explicit).expanduser()
        missing = [str(folder / n) for n in FILES.values() if not (folder / n).is_file()]
        if missing:
            where = "source" if source is not None else "$FASHION_MNIST_DIR"
            raise FashionMNISTDataError(
                f"FashionMNIST file(s) not found: {', '.join(missing)} ({where}={folder}). "
                + HOW_TO_GET)
        return folder
    candidates = [Path(manual_dir).expanduser()] if manual_dir is not None else []
    candidates.append(DEBIAN_DIR)
    for folder in candidates:
        if _has_all_files(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FashionMNISTDataError(
        f"FashionMNIST IDX files not found (looked in $FASHION_MNIST_DIR (unset), {looked}; "
        f"missing e.g. {candidates[-1] / FILES['train', 'images']}). " + HOW_TO_GET)


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


def read_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated IDX arrays of a split: images (n, 28, 28, 1) uint8, labels (n,) uint8."""
    folder = Path(folder)
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
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise FashionMNISTDataError(
            f"{labels_path}: label {labels.max()} is outside 0..{NUM_CLASSES - 1}. " + HOW_TO_GET)
    return images[..., None], labels


@functools.cache
def builder_class() -> type:
    """The TFDS builder class, made on first use so that importing this module stays cheap."""
    import tensorflow_datasets as tfds
    from PIL import Image
    from tensorflow_datasets.image_classification import mnist

    class FashionMNIST(mnist.FashionMNIST, skip_registration=True):
        """TFDS's `fashion_mnist` (same name, features, splits, version) from local IDX files.

        Not registered with TFDS, so `tfds.builder("fashion_mnist")` stays the stock builder
        (which reads what this one writes). `source` is the folder of the four IDX files; by
        default `locate_source` picks one, looking in the TFDS manual dir too.
        """

        name = NAME
        MANUAL_DOWNLOAD_INSTRUCTIONS = HOW_TO_GET

        def __init__(self, *, source: str | Path | None = None, **kwargs: Any) -> None:
            self.source = source
            super().__init__(**kwargs)

        def _split_generators(self, dl_manager: Any) -> list:
            try:
                manual_dir = dl_manager.manual_dir
            except AssertionError:  # TFDS's way of saying the manual dir is absent or empty
                manual_dir = None
            folder = locate_source(self.source, manual_dir)
            # Every file is decoded and checked before TFDS writes a single record.
            arrays = {split: read_split(folder, split) for split in SPLITS}
            return [tfds.core.SplitGenerator(name=split, gen_kwargs={
                "images": arrays[split][0], "labels": arrays[split][1]}) for split in SPLITS]

        def _generate_examples(self, images: np.ndarray, labels: np.ndarray
                               ) -> Iterator[tuple[int, dict[str, Any]]]:
            for index, (image, label) in enumerate(zip(images, labels, strict=True)):
                yield index, {"image": Image.fromarray(image[..., 0]),  # mode "L"
                              "label": int(label)}

    return FashionMNIST


def builder(data_dir: str | Path | None = None, source: str | Path | None = None) -> Any:
    """An instance of the local-IDX `FashionMNIST` builder under `data_dir` (TFDS default)."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return builder_class()(data_dir=str(root), source=source)


def prepare(data_dir: str | Path | None = None, source: str | Path | None = None,
            online: bool = False) -> Path:
    """Write the array_record dataset unless present; return its folder. Offline unless asked.

    With `online=True` and no local IDX files, TFDS's stock builder downloads the upstream
    files instead (this needs internet, and TensorFlow for its PNG encoding).
    """
    target = dataset_dir(data_dir)
    if (target / "dataset_info.json").is_file():  # TFDS renames a dataset into place when done
        return target
    try:
        folder = locate_source(source, _manual_dir(target))
    except FashionMNISTDataError:
        if not online:
            raise
        import tensorflow_datasets as tfds

        stock = tfds.builder(NAME, data_dir=str(target.parent.parent))
        stock.download_and_prepare(file_format="array_record")
        return target
    for split in SPLITS:  # check every file before TFDS creates any folder
        read_split(folder, split)
    builder(data_dir, folder).download_and_prepare(file_format="array_record")
    return target


def _manual_dir(target: Path) -> Path:
    return target.parent.parent / "downloads" / "manual"


def data_source(split: str, data_dir: str | Path | None = None, source: str | Path | None = None,
                online: bool = False) -> Any:
    """`tfds.data_source` of a split ("train", "test"/"val"), preparing the dataset if needed."""
    import tensorflow_datasets as tfds

    target = prepare(data_dir, source, online=online)
    return tfds.data_source(NAME, split=_canonical_split(split),
                            data_dir=str(target.parent.parent), download=False)


def _canonical_split(split: str) -> str:
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS + tuple(SPLIT_ALIASES)}")
    return split


def _info_digest(target: Path) -> str:
    return hashlib.sha256((target / "dataset_info.json").read_bytes()).hexdigest()


def _cache_path(target: Path, split: str, size: tuple[int, int] | None) -> Path:
    suffix = "" if size is None else f"-{size[0]}x{size[1]}"
    return target / f"jaxhw-{split}{suffix}.npz"


def _read_cache(target: Path, split: str, size: tuple[int, int] | None
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays if they were made from the dataset now prepared, else None."""
    path = _cache_path(target, split, size)
    if not path.is_file() or not (target / "dataset_info.json").is_file():
        return None
    try:
        with np.load(path) as cache:
            if (int(cache["format"]) != _CACHE_FORMAT
                    or str(cache["info_sha256"]) != _info_digest(target)):
                return None
            images, labels = cache["images"], cache["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # unreadable: rebuild
        return None
    height, width = size or (IMAGE_SIZE, IMAGE_SIZE)
    if images.shape[1:] != (height, width, 1) or labels.shape != images.shape[:1]:
        return None
    return images, labels


def _write_cache(target: Path, split: str, size: tuple[int, int] | None,
                 images: np.ndarray, labels: np.ndarray) -> None:
    """Write the arrays atomically: a reader sees the whole cache or none."""
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, format=np.int64(_CACHE_FORMAT),
             info_sha256=np.str_(_info_digest(target)))
    write_atomic(_cache_path(target, split, size), buffer.getvalue())


def _check_resize(resize: Any) -> tuple[int, int] | None:
    """`resize` as (height, width) of positive integers, or None; ValueError naming it."""
    if resize is None:
        return None
    try:
        height, width = resize
    except (TypeError, ValueError):
        raise ValueError(f"resize must be a pair (height, width), got {resize!r}") from None
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1
               for v in (height, width)):
        raise ValueError(f"resize must be a pair of positive integers (height, width), got "
                         f"{resize!r}")
    return int(height), int(width)


def is_cached(split: str, data_dir: str | Path | None = None,
              resize: tuple[int, int] | None = None) -> bool:
    """Whether `load(split, data_dir, resize)` would only read its `.npz` cache (no TFDS)."""
    size = _check_resize(resize)
    return _read_cache(dataset_dir(data_dir), _canonical_split(split), size) is not None


def read_data_source(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """All records of a data source in one batched read: (n, 28, 28, 1) uint8, (n,) int32."""
    records = ds.__getitems__(range(len(ds)))  # one batched read, not len(ds) single ones
    images = np.zeros((len(records), IMAGE_SIZE, IMAGE_SIZE, 1), np.uint8)
    for i, record in enumerate(records):
        images[i] = record["image"]
    labels = np.fromiter((r["label"] for r in records), dtype=np.int32, count=len(records))
    return images, labels


@functools.cache
def _resizer() -> Any:
    import jax
    import jax.numpy as jnp

    @functools.partial(jax.jit, static_argnums=1)
    def resize(images: jax.Array, size: tuple[int, int]) -> jax.Array:
        n, _, _, c = images.shape
        out = jax.image.resize(images.astype(jnp.float32), (n, *size, c), method="linear")
        return jnp.clip(jnp.round(out), 0, 255).astype(jnp.uint8)

    return resize


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (jax.image.resize) of uint8 images (n, H, W, C) to (n, *size, C), uint8."""
    return np.asarray(_resizer()(images, (int(size[0]), int(size[1]))))


def load(split: str, data_dir: str | Path | None = None, resize: tuple[int, int] | None = None,
         *, source: str | Path | None = None, online: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """A split ("train", "test"/"val") as images (N, 28, 28, 1) uint8 and labels (N,) int32.

    The first call prepares the dataset if needed and reads the split once through
    `tfds.data_source`; the arrays (and each resized version) are cached beside the dataset, so
    later calls, in any process, read only a `.npz`. Examples come in the prepared dataset's
    order. `resize=(32, 32)` resizes bilinearly as the book does: images (N, 32, 32, 1) uint8.
    """
    split = _canonical_split(split)
    size = _check_resize(resize)
    target = dataset_dir(data_dir)
    arrays = _read_cache(target, split, size)
    if arrays is not None:
        return arrays
    base = _read_cache(target, split, None)
    if base is None:
        base = read_data_source(data_source(split, data_dir, source, online=online))
        _write_cache(target, split, None, *base)
    if size is None:
        return base
    arrays = resize_images(base[0], size), base[1]
    _write_cache(target, split, size, *arrays)
    return arrays



def load_splits(num_train: int | None = None, num_val: int | None = None,
                data_dir: str | Path | None = None
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Train and validation ("test") pairs `(X (n, 28, 28, 1) uint8, y (n,) int32)`, checked.

    `num_train` / `num_val` keep the first examples only (the classes are balanced throughout),
    for quick runs.
    """
    from jaxhw.models.checks import check_classification_data

    splits = []
    for split, limit in (("train", num_train), ("test", num_val)):
        X, y = load(split, data_dir)
        if limit is not None:
            X, y = X[:limit], y[:limit]
        check_classification_data((X, y), num_classes=NUM_CLASSES,
                                  input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1),
                                  name="train" if split == "train" else "val")
        splits.append((X, y))
    return splits[0], splits[1]


def text_labels(indices: Iterable[int] | np.ndarray) -> list[str]:
    """Class names (the book's spelling) of label indices in 0..9."""
    out = []
    for i in np.asarray(indices).reshape(-1).tolist():
        if not 0 <= i < NUM_CLASSES:
            raise ValueError(f"label {i} is outside 0..{NUM_CLASSES - 1}")
        out.append(TEXT_LABELS[i])
    return out


def visualize(images: np.ndarray, labels: np.ndarray, nrows: int = 1, ncols: int = 8,
              titles: Sequence[str] | None = None):
    """Grid of images (n, H, W, 1) titled by their text labels (or `titles`); returns the axes."""
    from jaxhw.board import show_images

    count = min(len(images), nrows * ncols)
    if titles is None:
        titles = text_labels(np.asarray(labels)[:count])
    return show_images(np.asarray(images)[:count], nrows, ncols, titles=titles)
