"""FashionMNIST through TFDS, no TensorFlow: builder on a tiny IDX set, faults, real data."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

from jaxhw.data import fashion_mnist as fm
from jaxhw.data import fashion_mnist_cache as fmc
from jaxhw.data import fashion_mnist_source as fms

FIX = ("apt-get install -y dataset-fashion-mnist", "FASHION_MNIST_DIR")
REBUILD = ("Delete that folder", "make data", "fashion_mnist.prepare(")
LOCK = fms.lock_path(Path()).name  # the data dir's prepare lock file
BOOK_FIRST_TEST_LABELS = [9, 2, 1, 1, 6, 1, 4, 6]  # ankle boot, pullover, trouser, ... (d2l 4.2)
REPO = Path(__file__).resolve().parents[1]


def _real_source() -> Path | None:
    try:
        return fm.locate_source()
    except fm.FashionMNISTDataError:
        return None


REAL_SOURCE = _real_source()
real_data = pytest.mark.skipif(REAL_SOURCE is None,
                               reason="FashionMNIST IDX files not installed: " + fm.HOW_TO_GET)


@pytest.fixture(autouse=True)
def _no_user_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The user's $FASHION_MNIST_DIR / $TFDS_DATA_DIR / cache dir must not steer these tests."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


def _counts(arrays: dict) -> dict[str, int]:
    """expected_counts of the tiny IDX set (64 train, 16 test examples)."""
    return {split: len(labels) for split, (_, labels) in arrays.items()}


@pytest.fixture
def tiny_prepared(tiny_idx, tfds_data_dir, monkeypatch) -> tuple[Path, dict]:
    """The tiny IDX set prepared under a temporary TFDS data dir: (data_dir, arrays).

    $FASHION_MNIST_DIR names the tiny set, so that every later load checks the copy against it.
    """
    folder, arrays = tiny_idx
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    fm.prepare(tfds_data_dir, source=folder, expected_counts=_counts(arrays))
    return tfds_data_dir, arrays


def _tiny_load(split: str, data_dir: Path, arrays: dict, **kwargs):
    """`fm.load` of the tiny set's split: its counts are expected."""
    return fm.load(split, data_dir, expected_counts=_counts(arrays), **kwargs)


def _assert_same(got: tuple[np.ndarray, np.ndarray], images: np.ndarray,
                 labels: np.ndarray) -> None:
    """`got` holds exactly the IDX arrays, in the files' order."""
    np.testing.assert_array_equal(got[0].reshape(images.shape), images)
    np.testing.assert_array_equal(got[1], labels)


def _leftovers(data_dir: Path) -> list[Path]:
    """Anything under data_dir a later call could mistake for (part of) a dataset (the prepare
    lock file stays, empty, as a checkpoint folder's does)."""
    return [p for p in data_dir.rglob("*") if (p.is_file() and p.name != LOCK)
            or "incomplete" in p.name or p.name == fm.builder_version()]


# The builder: same identity as TFDS's own, prepared for real from the tiny IDX set.

def test_builder_has_stock_name_version_features(tfds_data_dir: Path) -> None:
    ours = fm.builder(tfds_data_dir).info
    stock = mnist.FashionMNIST(data_dir=str(tfds_data_dir)).info
    assert fm.builder_class().name == "fashion_mnist" == fm.NAME
    assert str(ours.version) == str(stock.version) == fm.builder_version() == "3.0.1"
    assert ours.features.to_json() == stock.features.to_json()
    assert ours.supervised_keys == stock.supervised_keys == ("image", "label")
    assert ours.disable_shuffling and not stock.disable_shuffling
    assert tfds.builder_cls("fashion_mnist") is mnist.FashionMNIST  # ours is not registered


def test_stock_data_source_reads_the_files_order(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    assert target == data_dir / "fashion_mnist" / "3.0.1"
    info = json.loads((target / "dataset_info.json").read_text())
    assert info["disableShuffling"] is True
    assert {s["name"]: int(s["shardLengths"][0]) for s in info["splits"]} == {"train": 64,
                                                                            "test": 16}
    sources = tfds.data_source("fashion_mnist", data_dir=str(data_dir), download=False)
    for split, (images, labels) in arrays.items():
        records = sources[split].__getitems__(range(len(sources[split])))
        chex.assert_shape(records[0]["image"], (28, 28, 1))
        chex.assert_type(records[0]["image"], np.uint8)
        _assert_same((np.stack([r["image"] for r in records]),
                      np.array([r["label"] for r in records])), images, labels)


def test_stock_data_source_reads_only_the_stock_version(tiny_idx, tmp_path) -> None:
    """Why our builder keeps the stock version: a bumped one is invisible to `tfds.data_source`."""
    folder, arrays = tiny_idx

    class Bumped(fm.builder_class(), skip_registration=True):
        name = fm.NAME
        VERSION = tfds.core.Version("3.0.2")

    Bumped(data_dir=str(tmp_path / "bumped"), expected_counts=_counts(arrays)).download_and_prepare(
        file_format="array_record", download_config=fm.download_config(folder))
    assert (tmp_path / "bumped" / "fashion_mnist" / "3.0.2" / "dataset_info.json").is_file()
    with pytest.raises(NotImplementedError):  # TFDS looks for 3.0.1 only, finds no copy
        tfds.data_source("fashion_mnist", split="test", data_dir=str(tmp_path / "bumped"),
                         download=False)


def test_load_keeps_the_files_order_and_caches(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    for split, (images, labels) in arrays.items():
        assert not fm.is_cached(split, tfds_data_dir, source=folder,
                                expected_counts=_counts(arrays))
        got = _tiny_load(split, tfds_data_dir, arrays, source=folder)
        chex.assert_shape(got[0], (len(labels), 28, 28, 1))
        chex.assert_type(list(got), [np.uint8, np.int32])
        _assert_same(got, images, labels)
        assert fm.is_cached(split, tfds_data_dir, source=folder, expected_counts=_counts(arrays))
        _assert_same(_tiny_load(split, tfds_data_dir, arrays, source=folder), images, labels)
    np.testing.assert_array_equal(_tiny_load("val", tfds_data_dir, arrays, source=folder)[1],
                                  arrays["test"][1])


def test_warm_load_in_new_process_reads_only_the_cache(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared  # $FASHION_MNIST_DIR names the tiny set, here and below
    images, labels = _tiny_load("train", data_dir, arrays)
    code = ("import sys, numpy as np; from jaxhw.data import fashion_mnist as fm; "
            f"x, y = fm.load('train', {str(data_dir)!r}, expected_counts={_counts(arrays)}); "
            "print(int(x.astype(np.int64).sum()), y.tolist(), "
            "'tensorflow_datasets' in sys.modules, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split(maxsplit=1)
    assert int(out[0]) == int(images.astype(np.int64).sum())
    assert out[1].strip() == f"{labels.tolist()} False False"


def test_corrupt_or_partial_cache_is_rebuilt(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    _tiny_load("test", data_dir, arrays)
    cache = fm.dataset_dir(data_dir) / fmc.file_name("test", (28, 28))
    for damage in (b"not a zip file", cache.read_bytes()[:1000]):
        cache.write_bytes(damage)
        assert not fm.is_cached("test", data_dir, expected_counts=_counts(arrays))
        _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])
        assert fm.is_cached("test", data_dir, expected_counts=_counts(arrays))
    assert not list(cache.parent.glob("*.tmp-*"))


def test_resize_is_bilinear_and_cached(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    images, labels = _tiny_load("test", data_dir, arrays, resize=(32, 32))
    chex.assert_shape(images, (16, 32, 32, 1))
    chex.assert_type([images, labels], [np.uint8, np.int32])
    assert fm.is_cached("test", data_dir, resize=(32, 32), expected_counts=_counts(arrays))
    base = _tiny_load("test", data_dir, arrays)[0].astype(np.float64)
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), base.mean(axis=(1, 2, 3)), atol=2.0)
    flat = np.full((2, 28, 28, 1), 77, np.uint8)
    np.testing.assert_array_equal(fm.resize_images(flat, (32, 32)), np.full((2, 32, 32, 1), 77))
    ramp = np.tile(np.arange(0, 252, 9, dtype=np.uint8)[None, None, :, None], (1, 28, 1, 1))
    row = fm.resize_images(ramp, (28, 56))[0, 0, :, 0].astype(int)
    assert np.all(np.diff(row) >= 0) and row[0] == 0 and row[-1] == 243


def test_process_shares_are_what_tfds_split_for_jax_process_reads(tiny_prepared) -> None:
    # 64 training examples over 3 processes: 22, 21, 21 (the first takes the remainder), or
    # 21 each with drop_remainder. Each share is the slice tfds reads for that process.
    data_dir, arrays = tiny_prepared
    images, labels = arrays["train"]
    for drop in (False, True):
        shares = [_tiny_load("train", data_dir, arrays, process_index=i, process_count=3,
                             drop_remainder=drop) for i in range(3)]
        assert [len(y) for _, y in shares] == ([21, 21, 21] if drop else [22, 21, 21])
        kept = 63 if drop else 64  # disjoint, in order, covering the split (less the rest)
        _assert_same((np.concatenate([x for x, _ in shares]),
                      np.concatenate([y for _, y in shares])), images[:kept], labels[:kept])
        for i, share in enumerate(shares):
            ds = tfds.data_source("fashion_mnist", data_dir=str(data_dir), download=False,
                                  split=tfds.split_for_jax_process(
                                      "train", process_index=i, process_count=3,
                                      drop_remainder=drop))
            np.testing.assert_array_equal(share[0], fm.read_data_source(ds)[0])
            np.testing.assert_array_equal(share[1], fm.read_data_source(ds)[1])
    whole = _tiny_load("train", data_dir, arrays, process_index=0, process_count=1)
    _assert_same(whole, images, labels)
    assert fm.process_share(10, 3, 4) == slice(8, 10) and fm.process_share(10, 0, 4) == slice(0, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"process_index": 1}, "process_count must be an integer .*got None"),
    ({"process_count": 2}, "process_index must be an integer"),
    ({"process_index": 2, "process_count": 2}, r"process_index must be in 0..process_count - 1 "
                                               r"= 1, got process_index=2"),
    ({"process_index": True, "process_count": 2}, "process_index must be an integer"),
    ({"process_index": 0, "process_count": 2, "drop_remainder": 1}, "drop_remainder must be"),
    ({"process_index": 0, "process_count": 65}, "process_count=65 is more than the 64"),
])
def test_a_bad_process_share_is_named(tiny_prepared, kwargs, match) -> None:
    data_dir, arrays = tiny_prepared
    with pytest.raises(ValueError, match=match):
        _tiny_load("train", data_dir, arrays, **kwargs)


@pytest.mark.parametrize("resize, match", [
    ((0, 5), "a pair of positive integers"), ((32.5, 32), "a pair of positive integers"),
    ((True, 32), "a pair of positive"),
    (32, r"a pair \(height, width\), got 32"), ((1, 2, 3), "a pair"),
])
def test_bad_resize_is_refused_before_anything_is_read_or_cached(tfds_data_dir, resize,
                                                                 match) -> None:
    before = sorted(Path(tfds_data_dir).rglob("*"))
    with pytest.raises(ValueError, match=f"resize must be {match}"):
        fm.load("train", tfds_data_dir, resize=resize)
    with pytest.raises(ValueError, match="resize must be"):
        fm.is_cached("train", tfds_data_dir, resize=resize)
    assert sorted(Path(tfds_data_dir).rglob("*")) == before


def test_text_labels_and_visualize() -> None:
    assert fm.text_labels([0, 9, 3]) == ["t-shirt", "ankle boot", "dress"]
    assert fm.text_labels(np.arange(10)) == list(fm.TEXT_LABELS)
    stock_names = mnist.FashionMNIST(data_dir="/nonexistent").info.features["label"].names
    assert all(s.lower().startswith(o) for s, o in zip(stock_names, fm.TEXT_LABELS, strict=True))
    with pytest.raises(ValueError, match="label 10"):
        fm.text_labels([10])
    images = np.zeros((9, 28, 28, 1), np.uint8)
    axes = fm.visualize(images, np.array([5, 1, 2, 3, 4, 5, 6, 7, 8]))
    assert len(axes) == 8
    assert [ax.get_title() for ax in axes] == fm.text_labels([5, 1, 2, 3, 4, 5, 6, 7])
    import matplotlib.pyplot as plt

    plt.close(axes[0].figure)


# Where the IDX files come from, and that nothing goes to the network unless asked.

def test_source_order(tiny_idx, tmp_path, monkeypatch) -> None:
    folder, _ = tiny_idx
    debian, manual, empty = tmp_path / "debian", tmp_path / "manual", tmp_path / "empty"
    for d in (debian, manual, empty):
        d.mkdir()
    for name in fm.FILES.values():
        for d in (debian, manual):
            (d / name).write_bytes((folder / name).read_bytes())
    monkeypatch.setattr(fm, "DEBIAN_DIR", debian)
    assert fm.locate_source() == debian
    assert fm.locate_source(manual_dir=manual) == manual
    assert fm.locate_source(manual_dir=empty) == debian
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    assert fm.locate_source(manual_dir=manual) == folder
    assert fm.locate_source(source=manual) == manual
    monkeypatch.setenv("FASHION_MNIST_DIR", str(empty))  # named explicitly: no fallback
    with pytest.raises(fm.FashionMNISTDataError, match=r"\$FASHION_MNIST_DIR=.*empty"):
        fm.locate_source()


def _copy_idx(folder: Path, to: Path) -> Path:
    to.mkdir(parents=True)
    for name in fm.FILES.values():
        shutil.copyfile(folder / name, to / name)
    return to


def test_builder_reads_tfds_manual_dir(tiny_idx, tfds_data_dir, tmp_path, monkeypatch) -> None:
    folder, arrays = tiny_idx
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    _copy_idx(folder, tfds_data_dir / "downloads" / "manual")
    _assert_same(fm.load("train", tfds_data_dir, expected_counts=_counts(arrays)),
                 *arrays["train"])


def test_source_reaches_the_builder_as_its_manual_dir(tiny_idx, idx_writer, tfds_data_dir,
                                                      tmp_path, monkeypatch) -> None:
    folder, arrays = tiny_idx
    other = _copy_idx(folder, tmp_path / "other")  # same shapes, other pixels
    idx_writer(other / fm.FILES["test", "images"], np.zeros((16, 28, 28), np.uint8))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(other))
    seen = []
    prepare = fm.builder_class().download_and_prepare

    def spy(self, **kwargs):
        seen.append(kwargs["download_config"])
        return prepare(self, **kwargs)

    monkeypatch.setattr(fm.builder_class(), "download_and_prepare", spy)
    got = fm.load("test", tfds_data_dir, source=folder, expected_counts=_counts(arrays))
    _assert_same(got, *arrays["test"])  # `source` wins over $FASHION_MNIST_DIR
    assert [(Path(c.manual_dir), c.try_download_gcs) for c in seen] == [(folder, False)]


def test_offline_by_default_and_online_only_when_asked(tiny_idx, tfds_data_dir, tmp_path,
                                                       monkeypatch) -> None:
    folder, arrays = tiny_idx
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")

    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(fm.FashionMNISTDataError, match="apt-get install -y dataset-fashion"):
        fm.load("train", tfds_data_dir)
    assert _leftovers(tfds_data_dir) == []
    asked = []

    class Downloads:  # stands in for TFDS's DownloadManager, "downloading" the tiny files
        def __init__(self, **kwargs):
            asked.append(kwargs)

        def download(self, urls):
            asked.append(urls)
            return {name: folder / name for name in urls}

    download_upstream = fm.download_upstream

    def download_with_stand_in(manual_dir):  # the builder keeps TFDS's own DownloadManager
        with monkeypatch.context() as patch:
            patch.setattr(tfds.download, "DownloadManager", Downloads)
            return download_upstream(manual_dir)

    monkeypatch.setattr(fm, "download_upstream", download_with_stand_in)
    target = fm.prepare(tfds_data_dir, online=True, expected_counts=_counts(arrays))
    manual = tfds_data_dir / "downloads" / "manual"
    assert asked[0]["url_infos"] == mnist.FashionMNIST.url_infos
    assert asked[0]["force_checksums_validation"] is True
    assert asked[1] == {n: mnist.FashionMNIST.URL + n for n in fm.FILES.values()}
    assert sorted(p.name for p in manual.iterdir()) == sorted(fm.FILES.values())
    assert fm.prepare(tfds_data_dir, expected_counts=_counts(arrays)) == target  # offline now
    _assert_same(_tiny_load("train", tfds_data_dir, arrays), *arrays["train"])


def test_default_data_dir_is_tfds_default(monkeypatch, tmp_path) -> None:
    from tensorflow_datasets.core import constants

    assert fm.default_data_dir() == Path(constants.get_default_data_dir())
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert fm.default_data_dir() == Path(constants.get_default_data_dir()) == tmp_path
    assert fm.dataset_dir() == tmp_path / "fashion_mnist" / "3.0.1"


# Malformed IDX files: a clear error naming the file and the fix; nothing half-written is left.

def _zero_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))


def _drop_last_bytes(path: Path) -> None:
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))


# case: (split, file kind, damage(path, write_idx, arrays), expected message)
MALFORMED = {
    "bad magic": ("train", "images", lambda p, w, a: w(p, a["train"][0], magic=0x0801),
                  "magic number is 0x00000801, expected 0x00000803"),
    "truncated gzip": ("train", "images", lambda p, w, a: p.write_bytes(p.read_bytes()[:-500]),
                       "truncated or corrupt"),
    "corrupt gzip": ("test", "images", lambda p, w, a: _zero_middle(p), "truncated or corrupt"),
    "not gzip": ("test", "labels", lambda p, w, a: p.write_bytes(b"\x00\x00\x08\x01 plain"),
                 "not a readable gzip file"),
    "counts disagree": ("test", "labels", lambda p, w, a: w(p, a["test"][1][:15]),
                        "holds 16 images but .* holds 15 labels"),
    "short payload": ("train", "labels", lambda p, w, a: _drop_last_bytes(p),
                      r"announces shape \(64,\) \(64 bytes of data\) but the file holds 61"),
    "label out of range": ("train", "labels", lambda p, w, a: w(p, np.full(64, 10, np.uint8)),
                           "label 10 is outside"),
    "wrong image size": ("test", "images", lambda p, w, a: w(p, a["test"][0][:, :27, :27]),
                         "images are 27x27, expected 28x28"),
    "missing file": ("train", "labels", lambda p, w, a: p.unlink(), "not found"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_raise_clear_errors_then_good_files_work(case, tiny_idx, idx_writer,
                                                                 tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    split, kind, damage, message = MALFORMED[case]
    path = folder / fm.FILES[split, kind]
    good = path.read_bytes()
    damage(path, idx_writer, arrays)
    with pytest.raises(fm.FashionMNISTDataError, match=message) as err:
        fm.load("train", tfds_data_dir, source=folder, expected_counts=_counts(arrays))
    assert str(path) in str(err.value) and all(fix in str(err.value) for fix in FIX)
    assert _leftovers(tfds_data_dir) == []
    path.write_bytes(good)
    _assert_same(fm.load("train", tfds_data_dir, source=folder, expected_counts=_counts(arrays)),
                 *arrays["train"])


def _swap_train_and_test(folder: Path) -> None:
    for kind in ("images", "labels"):
        train, test = (folder / fm.FILES[split, kind] for split in ("train", "test"))
        train_bytes = train.read_bytes()
        train.write_bytes(test.read_bytes())
        test.write_bytes(train_bytes)


@pytest.mark.parametrize("swap, counts, message", [
    (True, "tiny", "hold 16 examples, expected 64 for the train split: the train and test "
                   "files look swapped"),
    (False, None, "hold 64 examples, expected 60000 for the train split: not the full "
                  r"FashionMNIST split \(pass expected_counts"),
])
def test_idx_counts_are_checked(tiny_idx, tfds_data_dir, swap, counts, message) -> None:
    folder, arrays = tiny_idx
    if swap:
        _swap_train_and_test(folder)
    counts = _counts(arrays) if counts == "tiny" else counts
    with pytest.raises(fm.FashionMNISTDataError, match=message) as err:
        fm.load("test", tfds_data_dir, source=folder, expected_counts=counts)
    assert str(folder / fm.FILES["train", "images"]) in str(err.value)
    assert _leftovers(tfds_data_dir) == []
    with pytest.raises(fm.FashionMNISTDataError, match="look swapped" if swap else "60000"):
        fm.read_split(folder, "train", counts)


@pytest.mark.parametrize("counts", [{"train": 64}, {"train": 64, "test": 0},
                                    {"train": 64, "test": 16.0}, [64, 16]])
def test_bad_expected_counts_are_refused(counts, tfds_data_dir) -> None:
    with pytest.raises(ValueError, match="expected_counts must map 'train' and 'test'"):
        fm.load("train", tfds_data_dir, expected_counts=counts)


def test_builder_itself_rejects_malformed_files(tiny_idx, idx_writer, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    idx_writer(folder / fm.FILES["test", "images"], arrays["test"][0], magic=0x0804)
    with pytest.raises(fm.FashionMNISTDataError, match="t10k-images-idx3-ubyte.gz: IDX magic"):
        fm.builder(tfds_data_dir, expected_counts=_counts(arrays)).download_and_prepare(
            file_format="array_record", download_config=fm.download_config(folder))
    assert _leftovers(tfds_data_dir) == []


def test_failure_while_writing_leaves_nothing_then_retry_works(tiny_idx, tfds_data_dir,
                                                               monkeypatch) -> None:
    folder, arrays = tiny_idx
    cls = fm.builder_class()
    generate = cls._generate_examples

    def fail_midway(self, images, labels):
        for i, example in enumerate(generate(self, images, labels)):
            if i == 10:
                raise OSError("No space left on device")
            yield example

    monkeypatch.setattr(cls, "_generate_examples", fail_midway)
    with pytest.raises(OSError, match="No space left"):
        fm.load("train", tfds_data_dir, source=folder, expected_counts=_counts(arrays))
    assert _leftovers(tfds_data_dir) == []
    monkeypatch.setattr(cls, "_generate_examples", generate)
    _assert_same(fm.load("train", tfds_data_dir, source=folder, expected_counts=_counts(arrays)),
                 *arrays["train"])


# A damaged prepared copy or cache is never served: rebuilt, or refused naming the fix.

def test_swapped_cache_is_rebuilt_not_served(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    _tiny_load("train", data_dir, arrays), _tiny_load("test", data_dir, arrays)
    target = fm.dataset_dir(data_dir)
    train_cache = target / fmc.file_name("train", (28, 28))
    shutil.copyfile(target / fmc.file_name("test", (28, 28)), train_cache)
    assert not fm.is_cached("train", data_dir, expected_counts=_counts(arrays))
    _assert_same(_tiny_load("train", data_dir, arrays), *arrays["train"])
    with np.load(train_cache) as cache:
        assert str(cache["split"]) == "train" and int(cache["num_examples"]) == 64


def test_old_format_cache_is_not_served(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    images, labels = arrays["train"]
    buffer = io.BytesIO()  # exactly what jaxhw wrote before caches recorded split and source
    np.savez(buffer, images=images[::-1, :, :, None], labels=labels[::-1].astype(np.int32),
             format=np.int64(1), info_sha256=np.str_(
                 hashlib.sha256((target / "dataset_info.json").read_bytes()).hexdigest()))
    for name in ("jaxhw-train.npz", fmc.file_name("train", (28, 28))):
        (target / name).write_bytes(buffer.getvalue())
    assert not fm.is_cached("train", data_dir, expected_counts=_counts(arrays))
    _assert_same(_tiny_load("train", data_dir, arrays), *arrays["train"])


def _edit_info(target: Path, edit) -> None:
    path = target / "dataset_info.json"
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info))


def _halve_train_length(info: dict) -> None:
    info["splits"][0]["shardLengths"] = ["30"]


def _truncate_train_shard(target: Path) -> None:
    shard = next(target.glob("*-train.array_record-*"))
    shard.write_bytes(shard.read_bytes()[:-10])


def _corrupt_train_records(target: Path) -> None:
    shard = next(target.glob("*-train.array_record-*"))
    data = bytearray(shard.read_bytes())
    data[1000:1500] = bytes(500)  # inside the records; the footer still counts 64
    shard.write_bytes(bytes(data))


# case: (damage(target), expected message)
DAMAGED = {
    "info deleted": (lambda t: (t / "dataset_info.json").unlink(), "dataset_info.json is missing"),
    "info not json": (lambda t: (t / "dataset_info.json").write_text("{"),
                      "dataset_info.json is unreadable"),
    "shardLengths edited": (lambda t: _edit_info(t, _halve_train_length),
                            "dataset_info.json lists 30 examples in fashion_mnist-train"
                            r"\.array_record-00000-of-00001 but the file holds 64"),
    "splits edited": (lambda t: _edit_info(t, lambda i: i.update(splits=[{"name": "train"}])),
                      "has no readable split list"),
    "shard truncated": (_truncate_train_shard,
                        r"fashion_mnist-train\.array_record-00000-of-00001 is truncated or "
                        "corrupt"),
    "records corrupt": (_corrupt_train_records, "reading its train records failed"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
@pytest.mark.parametrize("cached_before", [False, True])
def test_damaged_prepared_copy_is_refused_with_how_to_rebuild(case, cached_before, tiny_idx,
                                                              tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    if cached_before:
        _tiny_load("train", data_dir, arrays)
    damage, message = DAMAGED[case]
    damage(target)
    assert not fm.is_cached("train", data_dir, expected_counts=_counts(arrays))
    with pytest.raises(fm.FashionMNISTDataError, match=message) as err:
        _tiny_load("train", data_dir, arrays)
    assert str(target) in str(err.value) and all(fix in str(err.value) for fix in REBUILD)
    assert not fm.is_cached("train", data_dir, expected_counts=_counts(arrays))
    shutil.rmtree(target)  # the advice given: delete the folder and prepare it again
    fm.prepare(data_dir, source=tiny_idx[0], expected_counts=_counts(arrays))
    _assert_same(_tiny_load("train", data_dir, arrays), *arrays["train"])


# Read-only prepared datasets load; a cache that can't be written never fails a load.

def _refuse_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path | None) -> None:
    """Make the cache writer fail as on a read-only file system (everywhere if folder is None)."""
    write = fmc.write_atomic

    def read_only(path, data):
        if folder is None or Path(path).is_relative_to(folder):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return write(path, data)

    monkeypatch.setattr(fmc, "write_atomic", read_only)


def test_read_only_dataset_caches_in_the_user_cache_dir(tiny_prepared, tmp_path,
                                                        monkeypatch) -> None:
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    before = sorted(target.iterdir())
    _refuse_writes_under(monkeypatch, target)
    _assert_same(_tiny_load("train", data_dir, arrays), *arrays["train"])
    assert sorted(target.iterdir()) == before
    user_dir = fmc.cache_dirs(target)[1]
    assert user_dir.is_relative_to(tmp_path / "user-cache" / "jaxhw")
    assert [p.name for p in user_dir.iterdir()] == [fmc.file_name("train", (28, 28))]
    assert fm.is_cached("train", data_dir, expected_counts=_counts(arrays))
    _assert_same(_tiny_load("train", data_dir, arrays), *arrays["train"])


def test_nothing_writable_still_loads_with_a_warning(tiny_prepared, monkeypatch) -> None:
    data_dir, arrays = tiny_prepared
    _refuse_writes_under(monkeypatch, None)
    with pytest.warns(RuntimeWarning, match="could not cache the test arrays .*Read-only"):
        _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])
    assert not fm.is_cached("test", data_dir, expected_counts=_counts(arrays))


def _read_only_runner(folder: Path) -> list[str] | None:
    """A command prefix running a program with `folder` truly read-only, even for root.

    Root ignores file modes, so as root the folder is bind-mounted read-only in a private
    mount namespace (`unshare`); other users get `chmod`. None where neither is possible.
    """
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return []
    mount = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    prefix = ["unshare", "--map-root-user", "--mount", "sh", "-c", mount, str(folder)]
    if shutil.which("unshare") is None or subprocess.run(
            [*prefix, "true"], capture_output=True).returncode != 0:
        return None
    return prefix


def test_truly_read_only_dataset_loads(tiny_prepared, tmp_path) -> None:
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    runner = _read_only_runner(target)
    if runner is None:
        pytest.skip("running as root without unshare/mount: no way to make a folder read-only")
    code = ("import errno, sys; from jaxhw.data import fashion_mnist as fm; "
            "target = fm.dataset_dir(sys.argv[1])\n"
            "try:\n    (target / 'probe').write_bytes(b'')\n"
            "except OSError as err:\n    print('read-only:', err.errno in (errno.EROFS, "
            "errno.EACCES))\n"
            f"counts = {_counts(arrays)}\n"
            "x, y = fm.load('test', sys.argv[1], expected_counts=counts)\n"
            "print(y.tolist(), fm.is_cached('test', sys.argv[1], expected_counts=counts))")
    try:
        out = subprocess.run([*runner, sys.executable, "-c", code, str(data_dir)], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    finally:
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert out == ["read-only: True", f"{arrays['test'][1].tolist()} True"]
    user_dir = fmc.cache_dirs(target)[1]
    assert [p.name for p in user_dir.iterdir()] == [fmc.file_name("test", (28, 28))]
    assert not list(target.glob("jaxhw-*.npz"))


# A copy from before the files' order was kept (TFDS-shuffled records, old caches) is replaced.

def _old_shuffled_copy(data_dir: Path, folder: Path, counts: dict[str, int]) -> Path:
    """Prepare data_dir as jaxhw did before: records shuffled by TFDS, format-1 caches."""

    class Old(fm.builder_class(), skip_registration=True):
        name = fm.NAME

        def _info(self):
            return mnist.FashionMNIST._info(self)  # the stock info: TFDS shuffles the records

    Old(data_dir=str(data_dir), expected_counts=counts).download_and_prepare(
        file_format="array_record", download_config=fm.download_config(folder))
    target = fm.dataset_dir(data_dir)
    info_sha = hashlib.sha256((target / "dataset_info.json").read_bytes()).hexdigest()
    for split in fm.SPLITS:
        ds = tfds.data_source("fashion_mnist", split=split, data_dir=str(data_dir),
                              download=False)
        images, labels = fm.read_data_source(ds)
        buffer = io.BytesIO()
        np.savez(buffer, images=images, labels=labels, format=np.int64(1),
                 info_sha256=np.str_(info_sha))
        (target / f"jaxhw-{split}.npz").write_bytes(buffer.getvalue())
    return target


def test_old_shuffled_copy_and_caches_are_replaced(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    target = _old_shuffled_copy(tfds_data_dir, folder, _counts(arrays))
    with np.load(target / "jaxhw-test.npz") as old:  # the fault being fixed: not file order
        assert old["labels"].tolist() != arrays["test"][1].tolist()
    assert not fm.is_cached("test", tfds_data_dir)
    _assert_same(fm.load("test", tfds_data_dir, source=folder, expected_counts=_counts(arrays)),
                 *arrays["test"])
    assert json.loads((target / "dataset_info.json").read_text())["disableShuffling"] is True
    assert sorted(p.name for p in target.glob("jaxhw-*")) == sorted(
        [fmc.file_name("test", (28, 28)), fms.RECORD])
    assert sorted(p.name for p in target.parent.iterdir()) == [LOCK, "3.0.1"]  # none set aside


def test_old_copy_is_not_served_when_it_cannot_be_rebuilt(tiny_idx, tfds_data_dir, tmp_path,
                                                          monkeypatch) -> None:
    folder, arrays = tiny_idx
    target = _old_shuffled_copy(tfds_data_dir, folder, _counts(arrays))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(fm.FashionMNISTDataError, match="older FashionMNIST copy whose records "
                       "TFDS shuffled, which jaxhw does not serve") as err:
        fm.load("test", tfds_data_dir)
    assert all(fix in str(err.value) for fix in FIX)
    rename = os.rename

    def read_only(src, dst):
        if Path(src) == target:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(src))
        return rename(src, dst)

    monkeypatch.setattr(os, "rename", read_only)
    with pytest.raises(fm.FashionMNISTDataError, match="could not replace it .Read-only"):
        fm.load("test", tfds_data_dir, source=folder, expected_counts=_counts(arrays))
    assert (target / "jaxhw-test.npz").is_file()  # left as it was, and not served


# A prepared copy knows its source and counts (issue 22): it is served only for the IDX files
# that would be used to prepare it now, with the expected counts, warm or cold.

def _write_set(folder: Path, idx_writer, seed: int, sizes: dict[str, int]) -> dict:
    """Another IDX set (random images, labels covering 0..9) in `folder`: its arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    arrays = {}
    for split, n in sizes.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        idx_writer(folder / fm.FILES[split, "images"], images)
        idx_writer(folder / fm.FILES[split, "labels"], labels)
        arrays[split] = images, labels
    return arrays


def _count_prepares(monkeypatch: pytest.MonkeyPatch) -> list:
    """The builder's download_and_prepare, spied on: one entry per prepare."""
    calls = []
    prepare = fm.builder_class().download_and_prepare

    def spy(self, **kwargs):
        calls.append(str(self.version))
        return prepare(self, **kwargs)

    monkeypatch.setattr(fm.builder_class(), "download_and_prepare", spy)
    return calls


@pytest.mark.parametrize("named_by", ["argument", "environment"])
def test_a_copy_is_served_only_for_the_source_named(named_by, tiny_prepared, idx_writer,
                                                     tmp_path, monkeypatch) -> None:
    # Before: once prepared from set A, load(source=B) and $FASHION_MNIST_DIR=B returned A's.
    data_dir, arrays = tiny_prepared
    _tiny_load("test", data_dir, arrays)  # A, warm
    other = tmp_path / "other"
    other_arrays = _write_set(other, idx_writer, seed=1, sizes=_counts(arrays))
    if named_by == "environment":
        monkeypatch.setenv("FASHION_MNIST_DIR", str(other))
        got = _tiny_load("test", data_dir, arrays)
    else:
        got = _tiny_load("test", data_dir, arrays, source=other)
    _assert_same(got, *other_arrays["test"])
    assert fm.is_cached("test", data_dir, source=other, expected_counts=_counts(arrays))
    assert not fm.is_cached("test", data_dir, source=tmp_path / "idx",
                            expected_counts=_counts(arrays))
    _assert_same(_tiny_load("test", data_dir, arrays, source=tmp_path / "idx"), *arrays["test"])


def test_replaced_idx_files_are_noticed_and_a_touched_file_is_hashed_once(
        tiny_prepared, idx_writer, monkeypatch) -> None:
    data_dir, arrays = tiny_prepared
    folder = Path(os.environ["FASHION_MNIST_DIR"])
    _tiny_load("test", data_dir, arrays)
    prepares = _count_prepares(monkeypatch)
    new_images = arrays["test"][0][::-1].copy()
    idx_writer(folder / fm.FILES["test", "images"], new_images)  # replaced in place
    _assert_same(_tiny_load("test", data_dir, arrays), new_images, arrays["test"][1])
    assert len(prepares) == 1
    hashed = []
    digest = fms.digest
    monkeypatch.setattr(fms, "digest", lambda f: hashed.append(f) or digest(f))
    path = folder / fm.FILES["train", "labels"]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # same bytes
    for _ in range(3):
        _assert_same(_tiny_load("test", data_dir, arrays), new_images, arrays["test"][1])
    assert len(prepares) == 1 and hashed == [folder]  # hashed once, then its stat remembered
    timings = {}
    for name, touch in (("stat check", False), ("digest", True)):
        start = time.perf_counter()
        if touch:
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        _tiny_load("test", data_dir, arrays)
        timings[name] = f"{1e3 * (time.perf_counter() - start):.1f} ms"
    print("warm load of the tiny test split:", timings)


def test_expected_counts_are_enforced_on_every_load(tiny_prepared, idx_writer, tmp_path,
                                                     monkeypatch) -> None:
    # Before: prepared from a 64/16 set, load("test") (10,000 expected) returned 16 examples.
    data_dir, arrays = tiny_prepared
    _tiny_load("test", data_dir, arrays)  # warm
    target = fm.dataset_dir(data_dir)
    with pytest.raises(fm.FashionMNISTDataError, match="hold 64 examples, expected 60000 for "
                       "the train split: not the full FashionMNIST split"):
        fm.load("test", data_dir)  # the files named ($FASHION_MNIST_DIR) can't give 10,000
    _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])  # still there, warm
    monkeypatch.delenv("FASHION_MNIST_DIR")
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    assert not fm.is_cached("test", data_dir)
    with pytest.raises(fm.FashionMNISTDataError, match=r"holds \{'train': 64, 'test': 16\} "
                       r"examples where \{'train': 60000, 'test': 10000\} are expected; "
                       "rebuilding it needs the IDX files") as err:
        fm.load("test", data_dir)
    assert str(target) in str(err.value) and all(fix in str(err.value) for fix in FIX)
    # With no IDX files found, the copy is served as prepared, for its own counts.
    _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])
    debian = tmp_path / "debian"
    sizes = {"train": 32, "test": 8}
    debian_arrays = _write_set(debian, idx_writer, seed=2, sizes=sizes)
    monkeypatch.setattr(fm, "DEBIAN_DIR", debian)
    _assert_same(fm.load("test", data_dir, expected_counts=sizes), *debian_arrays["test"])
    assert fm.is_cached("test", data_dir, expected_counts=sizes)


def test_a_copy_without_a_source_record_is_rebuilt_once(tiny_prepared, monkeypatch) -> None:
    # Copies prepared by jaxhw before copies recorded their source.
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    _tiny_load("test", data_dir, arrays)
    (target / fms.RECORD).unlink()
    prepares = _count_prepares(monkeypatch)
    for _ in range(2):
        _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])
    assert len(prepares) == 1
    record = fms.read_record(target)
    assert record["sha256"] == fms.digest(Path(os.environ["FASHION_MNIST_DIR"]))
    assert record["counts"] == _counts(arrays)


def test_a_tfds_version_change_is_prepared_once(tiny_prepared, monkeypatch) -> None:
    # Before: VERSION = "3.0.1" was a constant; with a builder at 3.0.2 the data landed in 3.0.2
    # while jaxhw looked in 3.0.1, and it prepared again on every load.
    data_dir, arrays = tiny_prepared
    _tiny_load("test", data_dir, arrays)
    monkeypatch.setattr(fm.builder_class(), "VERSION", tfds.core.Version("3.0.2"))
    monkeypatch.setattr(fm, "_tfds_release", lambda: "99.0.0", raising=False)  # the new TFDS
    prepares = _count_prepares(monkeypatch)
    for _ in range(3):
        _assert_same(_tiny_load("test", data_dir, arrays), *arrays["test"])
    assert prepares == ["3.0.2"]
    assert fm.dataset_dir(data_dir) == data_dir / "fashion_mnist" / "3.0.2"
    assert (data_dir / "fashion_mnist" / "3.0.1" / fms.RECORD).is_file()  # the older TFDS's


# One prepare at a time per data dir (issue 22).

def test_concurrent_first_loads_all_succeed(tiny_idx, tfds_data_dir, tmp_path) -> None:
    # Before: every process but one died with TFDS's FileExistsError ("Cannot rename ...").
    folder, arrays = tiny_idx
    gate = tmp_path / "gate"
    code = ("import sys, time; from pathlib import Path; "
            "from jaxhw.data import fashion_mnist as fm\n"
            "fm.builder_class(); Path(sys.argv[1]).touch()\n"  # TFDS imported, then ready
            f"while not Path({str(gate)!r}).exists(): time.sleep(0.002)\n"
            f"x, y = fm.load('test', {str(tfds_data_dir)!r}, source={str(folder)!r}, "
            f"expected_counts={_counts(arrays)}); print(y.tolist())")
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", code, str(r)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in ready]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        gate.touch()  # the two processes and this one load at once
        mine = _tiny_load("test", tfds_data_dir, arrays, source=folder)
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    # The process that prepares the set also prints TFDS's "Downloading and preparing" lines.
    assert [out.splitlines()[-1] for out, _ in outputs] == [str(arrays["test"][1].tolist())] * 2
    _assert_same(mine, *arrays["test"])
    assert sorted(p.name for p in (tfds_data_dir / "fashion_mnist").iterdir()) == [LOCK, "3.0.1"]


def test_a_copy_being_read_is_not_replaced_until_the_reader_is_done(
        tiny_idx, idx_writer, tfds_data_dir, tmp_path, monkeypatch) -> None:
    folder, arrays = tiny_idx
    counts = _counts(arrays)
    fm.prepare(tfds_data_dir, source=folder, expected_counts=counts)  # not cached: read TFDS
    target = fm.dataset_dir(tfds_data_dir)
    other = tmp_path / "other"
    other_arrays = _write_set(other, idx_writer, seed=1, sizes=counts)
    reading, go_on = threading.Event(), threading.Event()
    read = fm.read_data_source

    def slow_read(ds):
        reading.set()
        go_on.wait(60)
        return read(ds)

    results = {}

    def run(name, **kwargs):
        try:
            results[name] = _tiny_load("test", tfds_data_dir, arrays, **kwargs)
        except Exception as err:  # reported by the asserts below
            results[name] = err

    monkeypatch.setattr(fm, "read_data_source", slow_read)
    reader = threading.Thread(target=run, args=("reader",), kwargs={"source": folder})
    rebuilder = threading.Thread(target=run, args=("rebuilder",), kwargs={"source": other})
    try:
        reader.start()
        assert reading.wait(60)
        monkeypatch.setattr(fm, "read_data_source", read)
        rebuilder.start()
        rebuilder.join(1.0)
        assert rebuilder.is_alive(), "the rebuild did not wait for the reader"
        assert fms.read_record(target)["sha256"] == fms.digest(folder)  # the reader's copy
    finally:
        go_on.set()
        reader.join(60)
        rebuilder.join(60)
    _assert_same(results["reader"], *arrays["test"])
    _assert_same(results["rebuilder"], *other_arrays["test"])


def test_leftovers_of_killed_prepares_are_removed_by_the_next_prepare(tiny_prepared) -> None:
    # Before: a SIGKILL during prepare left TFDS's incomplete.* folder (36 MB) for good, and
    # one during the stale-copy cleanup left <version>.stale-<pid>.
    data_dir, arrays = tiny_prepared
    target = fm.dataset_dir(data_dir)
    incomplete = target.parent / "incomplete.0123456789abcdef0123456789abcdef_3.0.1"
    stale = target.parent / "3.0.1.stale-4242"
    for leftover in (incomplete, stale):
        leftover.mkdir()
        (leftover / "dataset_info.json").write_text("{}")
    shards = {p.name: p.stat().st_mtime_ns for p in target.glob("*.array_record-*")}
    assert fm.prepare(data_dir, expected_counts=_counts(arrays)) == target
    assert sorted(p.name for p in target.parent.iterdir()) == [LOCK, "3.0.1"]
    assert {p.name: p.stat().st_mtime_ns for p in target.glob("*.array_record-*")} == shards


# Quick subsets stay class-balanced.

def test_balanced_subset_takes_classes_in_turns() -> None:
    labels = np.array([3, 3, 3, 0, 1, 0, 3, 1, 2])
    np.testing.assert_array_equal(fm.balanced_subset(labels, 4), [0, 3, 4, 8])
    np.testing.assert_array_equal(fm.balanced_subset(labels, 6), [0, 1, 3, 4, 5, 8])
    np.testing.assert_array_equal(fm.balanced_subset(labels, 9), np.arange(9))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 1000)
    for n in (10, 55, 300):
        keep = fm.balanced_subset(labels, n)
        counts = np.bincount(labels[keep], minlength=10)
        assert len(keep) == n and counts.max() - counts.min() <= 1
        assert np.all(np.diff(keep) > 0)  # file order
        np.testing.assert_array_equal(fm.balanced_subset(labels, n), keep)
    with pytest.raises(ValueError, match="n must be in 0..1000"):
        fm.balanced_subset(labels, 1001)


def test_load_splits_picks_balanced_subsets_and_checks(tiny_prepared) -> None:
    data_dir, arrays = tiny_prepared
    (X, y), (Xv, yv) = fm.load_splits(20, 10, data_dir=data_dir, expected_counts=_counts(arrays))
    chex.assert_shape([X, y, Xv, yv], [(20, 28, 28, 1), (20,), (10, 28, 28, 1), (10,)])
    chex.assert_type([X, y], [np.uint8, np.int32])
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 2))
    np.testing.assert_array_equal(np.bincount(yv, minlength=10), np.ones(10))
    keep = fm.balanced_subset(arrays["train"][1], 20)
    _assert_same((X, y), arrays["train"][0][keep], arrays["train"][1][keep])
    (X_all, _), _ = fm.load_splits(data_dir=data_dir, expected_counts=_counts(arrays))
    assert len(X_all) == 64
    for bad, arg in ((0, "num_train"), (65, "num_train"), (2.5, "num_train"), (True, "num_train")):
        with pytest.raises(ValueError, match=rf"{arg} must be None or an integer in 1\.\.64"):
            fm.load_splits(bad, 4, data_dir=data_dir, expected_counts=_counts(arrays))
    with pytest.raises(ValueError, match=r"num_val must be None or an integer in 1\.\.16"):
        fm.load_splits(4, -1, data_dir=data_dir, expected_counts=_counts(arrays))


# The real data, where installed (`make test` installs it when it can).

@real_data
@pytest.mark.slow
def test_real_data_sizes_and_classes(real_data_dir: Path) -> None:
    train_images, train_labels = fm.load("train", real_data_dir)
    test_images, test_labels = fm.load("test", real_data_dir)
    chex.assert_shape([train_images, test_images], [(60000, 28, 28, 1), (10000, 28, 28, 1)])
    chex.assert_type([train_images, train_labels, test_labels], [np.uint8, np.int32, np.int32])
    np.testing.assert_array_equal(np.bincount(train_labels, minlength=10), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_labels, minlength=10), np.full(10, 1000))


@real_data
@pytest.mark.slow
def test_real_data_is_the_idx_files_in_order(real_data_dir: Path) -> None:
    assert fm.load("test", real_data_dir)[1][:8].tolist() == BOOK_FIRST_TEST_LABELS
    for split in fm.SPLITS:
        _assert_same(fm.load(split, real_data_dir), *fm.read_split(REAL_SOURCE, split))
