"""FashionMNIST (d2l 4.2) offline and in the files' order: a TFDS builder over local IDX files.

Path of the data: four IDX `.gz` files (a `source` folder, `$FASHION_MNIST_DIR`, the TFDS
manual dir or Debian's `dataset-fashion-mnist`) -> `FashionMNIST`, a TFDS builder with the
stock `fashion_mnist` name, features, splits and version, given the folder as its manual dir
(`DownloadConfig(manual_dir=...)`) -> `array_record` under the TFDS data dir, written with
shuffling disabled so the examples keep the IDX files' order (the book's, torchvision's and
Keras's) -> the builder's data source, read once per split into uint8 arrays -> a `.npz` cache
(`fashion_mnist_cache`). Later loads, in any process, read only that cache: neither TensorFlow
Datasets (0.6 s to import) nor JAX is imported on that path.

Nothing is served silently wrong (`fashion_mnist_files`): IDX files are checked (header, sizes,
labels, and counts of 60,000 / 10,000 unless `expected_counts` says otherwise), a prepared copy
is checked against its array_record files (damage raises FashionMNISTDataError saying how to
rebuild), an older copy that TFDS shuffled is replaced, and a cache is served only for the same
split and source. A prepared copy knows its source (`fashion_mnist_source`): it is served, warm
or cold, only for the IDX files that would be used to prepare it now and with the expected
counts, and is rebuilt (or refused, with the reason) otherwise.

One prepare at a time per data dir: preparing holds an exclusive `flock` on
`<data_dir>/fashion_mnist/.jaxhw-prepare.lock`, reading a shared one, so concurrent first loads
all succeed (one prepares, the others wait, then read) and no copy is replaced while another
process reads it. Leftovers of killed prepares (TFDS's `incomplete.*`, our `*.stale-*`) are
removed by the next prepare. The version folder is the builder's (TFDS's `fashion_mnist`
version); the record lists the TFDS releases known to use it, so that a warm load finds it
without importing TFDS.

TensorFlow is never needed: the builder yields `PIL.Image`s (TFDS encodes those with PIL,
numpy images would go through TF's PNG encoder) and `data_source` decodes with PIL. Nothing
touches the network unless `online=True` is asked for.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.metadata
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxhw.data import fashion_mnist_cache as cache
from jaxhw.data import fashion_mnist_source as src
from jaxhw.data.fashion_mnist_files import (
    FILES,
    HOW_TO_GET,
    IMAGE_SIZE,
    NUM_CLASSES,
    SPLITS,
    FashionMNISTDataError,
    check_counts,
    damaged,
    held_counts,
    prepared_state,
    read_split,
)
from jaxhw.data.fashion_mnist_files import STANDARD_COUNTS as STANDARD_COUNTS
from jaxhw.data.fashion_mnist_files import read_idx as read_idx
from jaxhw.files import file_lock, write_atomic

NAME = "fashion_mnist"
SPLIT_ALIASES = {"val": "test", "validation": "test"}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")


def default_data_dir() -> Path:
    """TFDS's default data dir, as TFDS computes it: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return Path(os.environ.get("TFDS_DATA_DIR")
                or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def _root(data_dir: str | Path | None) -> Path:
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def builder_version() -> str:
    """The version of TFDS's `fashion_mnist` builder (ours keeps it), e.g. "3.0.1"."""
    return str(builder_class().VERSION)


@functools.cache
def _tfds_release() -> str:
    """The installed TensorFlow Datasets release, read without importing it."""
    for dist in ("tensorflow-datasets", "tfds-nightly"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return f"{dist} {importlib.metadata.version(dist)}"
    return "unknown"


def _known_version(root: Path) -> str | None:
    """The version whose prepared copy's record lists this TFDS release (no TFDS import)."""
    return src.known_version([p.parent for p in (root / NAME).glob(f"*/{src.RECORD}")],
                             _tfds_release())


def _version(root: Path) -> str:
    """The builder's version: from a prepared copy's record when one lists this TFDS release,
    else from the builder itself."""
    return _known_version(root) or builder_version()


def dataset_dir(data_dir: str | Path | None = None) -> Path:
    """Folder of the prepared dataset: <data_dir>/fashion_mnist/<the builder's version>."""
    root = _root(data_dir)
    return root / NAME / _version(root)


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


@functools.cache
def builder_class() -> type:
    """The TFDS builder class, made on first use so that importing this module stays cheap."""
    import tensorflow_datasets as tfds
    from PIL import Image
    from tensorflow_datasets.image_classification import mnist

    class FashionMNIST(mnist.FashionMNIST, skip_registration=True):
        """TFDS's `fashion_mnist` (same name, features, splits, version) from local IDX files.

        Not registered with TFDS, so `tfds.builder("fashion_mnist")` stays the stock builder
        (which reads what this one writes). The IDX files come from the TFDS manual dir
        (`DownloadConfig(manual_dir=...)`, default <data_dir>/downloads/manual) when it holds
        all four, else from $FASHION_MNIST_DIR or Debian's folder; it never downloads. Each
        split must hold `expected_counts[split]` examples (default 60,000 / 10,000).
        """

        name = NAME
        MANUAL_DOWNLOAD_INSTRUCTIONS = HOW_TO_GET

        def __init__(self, *, expected_counts: Mapping[str, int] | None = None,
                     **kwargs: Any) -> None:
            self.expected_counts = check_counts(expected_counts)
            super().__init__(**kwargs)

        def _info(self) -> Any:
            stock = super()._info()
            # TFDS would otherwise shuffle the records by a hash of their keys as it writes.
            return tfds.core.DatasetInfo(
                builder=self, description=stock.description, features=stock.features,
                supervised_keys=stock.supervised_keys, homepage=stock.homepage,
                citation=stock.citation, disable_shuffling=True)

        def _split_generators(self, dl_manager: Any) -> list:
            try:
                manual_dir = Path(dl_manager.manual_dir)
            except AssertionError:  # TFDS's way of saying the manual dir is absent or empty
                manual_dir = None
            folder = manual_dir if manual_dir and _has_all_files(manual_dir) else locate_source()
            # Every file is decoded and checked before TFDS writes a single record.
            arrays = {split: read_split(folder, split, self.expected_counts) for split in SPLITS}
            return [tfds.core.SplitGenerator(name=split, gen_kwargs={
                "images": arrays[split][0], "labels": arrays[split][1]}) for split in SPLITS]

        def _generate_examples(self, images: np.ndarray, labels: np.ndarray
                               ) -> Iterator[tuple[int, dict[str, Any]]]:
            for index, (image, label) in enumerate(zip(images, labels, strict=True)):
                yield index, {"image": Image.fromarray(image[..., 0]),  # mode "L"
                              "label": int(label)}

    return FashionMNIST


def builder(data_dir: str | Path | None = None, *,
            expected_counts: Mapping[str, int] | None = None) -> Any:
    """An instance of the local-IDX `FashionMNIST` builder under `data_dir` (TFDS default)."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return builder_class()(data_dir=str(root), expected_counts=expected_counts)


def download_config(manual_dir: str | Path) -> Any:
    """TFDS's DownloadConfig that hands the builder the IDX folder `manual_dir`, offline."""
    import tensorflow_datasets as tfds

    return tfds.download.DownloadConfig(manual_dir=str(manual_dir), try_download_gcs=False)


def prepare(data_dir: str | Path | None = None, source: str | Path | None = None,
            online: bool = False, *, expected_counts: Mapping[str, int] | None = None) -> Path:
    """Write the ordered array_record dataset unless a sound copy of the same source is there;
    return its folder.

    The copy is kept when it holds `expected_counts` examples and was prepared from the IDX
    files found now (`locate_source`; compared by digest), else rebuilt from them. An older copy
    whose records TFDS shuffled (TFDS's stock builder, jaxhw before it kept the files' order) is
    replaced; a damaged one raises FashionMNISTDataError saying how to rebuild it. Offline
    unless `online=True`: then, without local IDX files, the four upstream files are downloaded
    (TFDS's registered checksums checked) into the TFDS manual dir first.
    """
    counts = check_counts(expected_counts)
    root = _root(data_dir)
    with _locked(root, shared=False):
        return _prepare_locked(root, source, online, counts)


_NO_LOCK = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOLCK)


def _locked(root: Path, *, shared: bool) -> contextlib.ExitStack:
    """The data dir's prepare lock, held until the returned stack is closed (`with`).

    Shared to read a prepared copy, exclusive to prepare one. Where no lock file can be made
    (a read-only data dir, a file system without locks) nothing is held: nobody can prepare
    in a read-only folder, and reading needs the lock only while someone might.
    """
    stack = contextlib.ExitStack()
    folder = root / NAME
    try:
        if not shared:
            folder.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            stack.enter_context(file_lock(src.lock_path(folder), shared=shared))
    except OSError as err:
        if err.errno not in _NO_LOCK:
            raise
    return stack


def _served(root: Path, source: str | Path | None, counts: Mapping[str, int]) -> Path | None:
    """The prepared copy if it may be served as it is: its record lists this TFDS release and
    `counts`, and it was prepared from the IDX files found now (or none are found). No TFDS."""
    version = _known_version(root)
    if version is None:
        return None
    target = root / NAME / version
    record = src.read_record(target)
    if record is None or record["counts"] != dict(counts):
        return None
    return target if src.holds(record, _files_found(source, root)[0], target) else None


def _prepare_locked(root: Path, source: str | Path | None, online: bool,
                    counts: Mapping[str, int]) -> Path:
    """`prepare`, with the data dir's lock held."""
    _remove_leftovers(root / NAME)
    target = root / NAME / builder_version()
    state = prepared_state(target)
    folder, missing = _files_found(source, root)
    why = _why_prepare_again(target, state, folder, counts)
    if why is None:
        return target
    if folder is None and online and source is None:
        folder = download_upstream(_manual_dir(root))
    if folder is None:
        if state == "absent":
            raise missing
        raise FashionMNISTDataError(f"{target} {why}; rebuilding it needs the IDX files: "
                                    f"{missing}") from missing
    if state != "absent":  # check the files before the copy they would replace goes
        for split in SPLITS:
            read_split(folder, split, counts)
    _set_aside(target, why)
    builder(root, expected_counts=counts).download_and_prepare(
        file_format="array_record", download_config=download_config(folder))
    src.write_record(target, src.new_record(folder, counts, _tfds_release()))
    return target


def _files_found(source: str | Path | None, root: Path
                 ) -> tuple[Path | None, FashionMNISTDataError | None]:
    """(IDX folder, None), or (None, the error saying none was found). A folder named by
    `source` or $FASHION_MNIST_DIR must hold the files: FashionMNISTDataError if it does not."""
    try:
        return locate_source(source, _manual_dir(root)), None
    except FashionMNISTDataError as err:
        if source is not None or os.environ.get("FASHION_MNIST_DIR"):
            raise
        return None, err


def _why_prepare_again(target: Path, state: str, folder: Path | None,
                       counts: Mapping[str, int]) -> str | None:
    """Why the copy at `target` (in `state`) is not served for `folder` and `counts`; None when
    it is (its record then lists this TFDS release)."""
    if state == "absent":
        return "is absent"
    if state == "stale":
        return ("holds an older FashionMNIST copy whose records TFDS shuffled, which jaxhw "
                "does not serve")
    record, held = src.read_record(target), held_counts(target)
    if held != counts:
        return f"holds {held} examples where {dict(counts)} are expected"
    if record is None and folder is None:  # prepared before copies recorded their source
        _keep_record(target, src.new_record(None, held, _tfds_release()))
        return None
    if record is None:
        return ("does not record which IDX files it was prepared from (an older jaxhw "
                f"prepared it) and IDX files are in {folder}")
    if not src.holds(record, folder, target):
        return f"was not prepared from the IDX files in {folder}"
    if _tfds_release() not in record["tfds"]:
        record["tfds"].append(_tfds_release())
        _keep_record(target, record)
    return None


def _keep_record(target: Path, record: dict[str, Any]) -> None:
    """Write a record that only saves work later; a read-only copy goes without."""
    with contextlib.suppress(OSError):
        src.write_record(target, record)


def _manual_dir(root: Path) -> Path:
    return root / "downloads" / "manual"


def download_upstream(manual_dir: str | Path) -> Path:
    """Download the four IDX files into `manual_dir`, checking TFDS's checksums (internet)."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import mnist

    manual_dir = Path(manual_dir)
    stock = mnist.FashionMNIST
    downloads = tfds.download.DownloadManager(
        download_dir=manual_dir.parent, url_infos=stock.url_infos,
        force_checksums_validation=True).download(
            {name: stock.URL + name for name in FILES.values()})
    manual_dir.mkdir(parents=True, exist_ok=True)
    for name, path in downloads.items():
        write_atomic(manual_dir / name, Path(path).read_bytes())
    return manual_dir


def _remove_leftovers(folder: Path) -> None:
    """Delete what killed prepares left in `folder` (<data_dir>/fashion_mnist): TFDS's
    `incomplete.*` and our `*.stale-*`. Only called with the lock held: none is in use."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith("incomplete.") or ".stale-" in entry.name:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _set_aside(target: Path, why: str) -> None:
    """Move a copy that is not served out of the way in one rename, then delete it."""
    if not target.exists():
        return
    aside = target.with_name(f"{target.name}.stale-{os.getpid()}")
    try:
        os.rename(target, aside)
    except OSError as err:
        raise FashionMNISTDataError(
            f"{target} {why}, and jaxhw could not replace it ({err.strerror or err}). Delete "
            "that folder, or use a writable data_dir.") from err
    shutil.rmtree(aside, ignore_errors=True)


def data_source(split: str, data_dir: str | Path | None = None, source: str | Path | None = None,
                online: bool = False, *, expected_counts: Mapping[str, int] | None = None
                ) -> Any:
    """TFDS's data source of a split ("train", "test"/"val"), preparing the dataset if needed.

    It reads the array_record files lazily: another process that prepares this data dir again
    meanwhile (other IDX files or counts) replaces them under it.
    """
    split = _canonical_split(split)
    root = _root(data_dir)
    prepare(root, source, online=online, expected_counts=expected_counts)
    return builder(root).as_data_source(split=split)


def _canonical_split(split: str) -> str:
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS + tuple(SPLIT_ALIASES)}")
    return split


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
              resize: tuple[int, int] | None = None, *, source: str | Path | None = None,
              expected_counts: Mapping[str, int] | None = None) -> bool:
    """Whether `load(split, data_dir, resize, ...)` would only read a trusted `.npz` cache (no
    TFDS): a copy of the same source and counts is prepared and that cache is there."""
    shape = _check_resize(resize) or (IMAGE_SIZE, IMAGE_SIZE)
    split, counts, root = _canonical_split(split), check_counts(expected_counts), _root(data_dir)
    with _locked(root, shared=True):
        target = _served(root, source, counts)
        return target is not None and cache.read(target, split, shape) is not None


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
         *, source: str | Path | None = None, online: bool = False,
         expected_counts: Mapping[str, int] | None = None, process_index: int | None = None,
         process_count: int | None = None, drop_remainder: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """A split ("train", "test"/"val") as images (N, 28, 28, 1) uint8 and labels (N,) int32.

    Examples come in the IDX files' order. The first call prepares the dataset if needed and
    reads the split once through TFDS's data source; the arrays (and each resized version) are
    cached, so later calls, in any process, read only a `.npz`. `resize=(32, 32)` resizes
    bilinearly as the book does: images (N, 32, 32, 1) uint8. Every call, warm or cold, checks
    the prepared copy against `source` (else $FASHION_MNIST_DIR, the TFDS manual dir, Debian's
    folder) and `expected_counts` (default 60,000 / 10,000), and prepares it again where they
    differ (see `prepare`). `online` only matters when preparing.

    With `process_index` and `process_count` (e.g. `jax.process_index()`, `jax.process_count()`)
    only that process's share comes back: the examples `tfds.split_for_jax_process(split,
    process_index=..., process_count=..., drop_remainder=...)` reads, a contiguous slice (see
    `process_share`). The shares of all processes are disjoint and cover the split (less
    `n % process_count` examples with `drop_remainder=True`, which makes them equal).
    """
    split = _canonical_split(split)
    shape = _check_resize(resize) or (IMAGE_SIZE, IMAGE_SIZE)
    counts = check_counts(expected_counts)
    share = _check_share(process_index, process_count, drop_remainder)
    root = _root(data_dir)
    with _locked(root, shared=True):
        target = _served(root, source, counts)
        arrays = cache.read(target, split, shape) if target is not None else None
    if arrays is None:
        with _locked(root, shared=False):
            arrays = _load_locked(root, split, shape, source, online, counts)
    if share is None:
        return arrays
    index, count, drop = share
    keep = process_share(len(arrays[1]), index, count, drop_remainder=drop)
    return arrays[0][keep].copy(), arrays[1][keep].copy()  # the split's arrays go


def _check_share(process_index: Any, process_count: Any, drop_remainder: Any
                 ) -> tuple[int, int, bool] | None:
    """(index, count, drop_remainder), None for the whole split; ValueError naming a bad one."""
    if process_index is None and process_count is None:
        return None
    for name, value in (("process_index", process_index), ("process_count", process_count)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer (process_index and process_count go "
                             f"together, e.g. jax.process_index(), jax.process_count()), got "
                             f"{value!r}")
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in 0..process_count - 1 = {process_count - 1},"
                         f" got process_index={process_index}, process_count={process_count}")
    if not isinstance(drop_remainder, bool):
        raise ValueError(f"drop_remainder must be True or False, got {drop_remainder!r}")
    return int(process_index), int(process_count), drop_remainder


def process_share(n: int, process_index: int, process_count: int, *,
                  drop_remainder: bool = False) -> slice:
    """The examples of one process's share of `n`, as `tfds.even_splits` (behind
    `tfds.split_for_jax_process`) cuts them: `n // process_count` each, in order, and the
    first `n % process_count` shares one more (none of them with `drop_remainder`)."""
    if process_count > n:
        raise ValueError(f"process_count={process_count} is more than the {n} examples to share")
    size, extra = divmod(n, process_count)
    start, stop = size * process_index, size * (process_index + 1)
    if not drop_remainder:
        start, stop = start + min(process_index, extra), stop + min(process_index + 1, extra)
    return slice(start, stop)


def _load_locked(root: Path, split: str, shape: tuple[int, int], source: str | Path | None,
                 online: bool, counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """`load` past its warm path, with the data dir's lock held."""
    base_shape = (IMAGE_SIZE, IMAGE_SIZE)
    target = _served(root, source, counts)
    base = cache.read(target, split, base_shape) if target is not None else None
    if base is None:
        target = _prepare_locked(root, source, online, counts)
        try:
            base = read_data_source(builder(root).as_data_source(split=split))
        except (RuntimeError, OSError) as err:  # Riegeli's damage, PIL's undecodable image
            raise damaged(target, f"reading its {split} records failed ({err})") from err
        cache.write(target, split, *base)
    if shape == base_shape:
        return base
    arrays = cache.read(target, split, shape)
    if arrays is None:
        arrays = resize_images(base[0], shape), base[1]
        cache.write(target, split, *arrays)
    return arrays


def balanced_subset(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices (n,), in file order, of a class-balanced subset: the classes taken in turns.

    Each class contributes its examples in file order, one per class per round (rank 0 of each
    class, then rank 1, ...); ties within a round go to the earlier example. Class counts differ
    by at most one unless a class runs out. Deterministic: no key, the same subset every time.
    """
    labels = np.asarray(labels)
    if not 0 <= n <= len(labels):
        raise ValueError(f"n must be in 0..{len(labels)} (the number of labels), got {n}")
    by_class = np.argsort(labels, kind="stable")  # grouped by class, file order within
    sorted_labels = labels[by_class]
    rank = np.empty(len(labels), np.int64)
    rank[by_class] = np.arange(len(labels)) - np.searchsorted(sorted_labels, sorted_labels)
    return np.sort(np.lexsort((np.arange(len(labels)), rank))[:n])


def load_splits(num_train: int | None = None, num_val: int | None = None,
                data_dir: str | Path | None = None, *, source: str | Path | None = None,
                expected_counts: Mapping[str, int] | None = None
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Train and validation ("test") pairs `(X (n, 28, 28, 1) uint8, y (n,) int32)`, checked.

    `num_train` / `num_val` keep a class-balanced subset of that size for quick runs, chosen by
    `balanced_subset` (deterministic, in file order); None keeps the whole split. `source` and
    `expected_counts` go to `load`.
    """
    from jaxhw.models.checks import check_classification_data

    splits = []
    for split, limit, arg in (("train", num_train, "num_train"), ("test", num_val, "num_val")):
        X, y = load(split, data_dir, source=source, expected_counts=expected_counts)
        if limit is not None:
            if not isinstance(limit, int | np.integer) or isinstance(limit, bool) or not (
                    1 <= limit <= len(y)):
                raise ValueError(f"{arg} must be None or an integer in 1..{len(y)} (the {split} "
                                 f"split's size), got {limit!r}")
            keep = balanced_subset(y, int(limit))
            X, y = X[keep], y[keep]
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
