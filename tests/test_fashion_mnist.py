"""FashionMNIST through TFDS, no TensorFlow: builder on a tiny IDX set, errors, real data."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
from pathlib import Path

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

from experiments import data_bench
from jaxhw.data import fashion_mnist as fm

FIX = ("apt-get install -y dataset-fashion-mnist", "FASHION_MNIST_DIR")


def _real_source() -> Path | None:
    try:
        return fm.locate_source()
    except fm.FashionMNISTDataError:
        return None


REAL_SOURCE = _real_source()
real_data = pytest.mark.skipif(REAL_SOURCE is None,
                               reason="FashionMNIST IDX files not installed: " + fm.HOW_TO_GET)


@pytest.fixture(autouse=True)
def _no_user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's $FASHION_MNIST_DIR / $TFDS_DATA_DIR must not steer these tests."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)


def _pairs(images: np.ndarray, labels: np.ndarray) -> set[tuple[bytes, int]]:
    return {(np.asarray(im).reshape(28, 28).tobytes(), int(lb))
            for im, lb in zip(images, labels, strict=True)}


def _leftovers(data_dir: Path) -> list[Path]:
    """Anything under data_dir a later call could mistake for (part of) a dataset."""
    return [p for p in data_dir.rglob("*") if p.is_file() or "incomplete" in p.name
            or p.name == fm.VERSION]


# The builder: same identity as TFDS's own, prepared for real from the tiny IDX set.

def test_builder_has_stock_name_version_features(tfds_data_dir: Path) -> None:
    ours = fm.builder(tfds_data_dir).info
    stock = mnist.FashionMNIST(data_dir=str(tfds_data_dir)).info
    assert fm.builder_class().name == "fashion_mnist" == fm.NAME
    assert str(ours.version) == str(stock.version) == fm.VERSION
    assert ours.features.to_json() == stock.features.to_json()
    assert ours.supervised_keys == stock.supervised_keys == ("image", "label")
    assert tfds.builder_cls("fashion_mnist") is mnist.FashionMNIST  # ours is not registered


def test_prepared_fixture_reads_back_through_data_source(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    target = fm.prepare(tfds_data_dir, source=folder)
    assert target == tfds_data_dir / "fashion_mnist" / "3.0.1"
    info = json.loads((target / "dataset_info.json").read_text())
    assert {s["name"]: int(s["shardLengths"][0]) for s in info["splits"]} == {"train": 64,
                                                                            "test": 16}
    assert sorted(p.name for p in target.glob("*.array_record*")) == [
        "fashion_mnist-test.array_record-00000-of-00001",
        "fashion_mnist-train.array_record-00000-of-00001"]
    sources = tfds.data_source("fashion_mnist", data_dir=str(tfds_data_dir), download=False)
    for split, (images, labels) in arrays.items():
        records = sources[split].__getitems__(range(len(sources[split])))
        assert len(records) == len(labels)
        chex.assert_shape(records[0]["image"], (28, 28, 1))
        chex.assert_type(records[0]["image"], np.uint8)
        assert _pairs([r["image"] for r in records], [r["label"] for r in records]) == _pairs(
            images, labels)


def test_load_equals_fixture_and_caches(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    for split, (images, labels) in arrays.items():
        assert not fm.is_cached(split, tfds_data_dir)
        got_images, got_labels = fm.load(split, tfds_data_dir, source=folder)
        chex.assert_shape(got_images, (len(labels), 28, 28, 1))
        chex.assert_type([got_images, got_labels], [np.uint8, np.int32])
        assert _pairs(got_images, got_labels) == _pairs(images, labels)
        assert set(got_labels.tolist()) == set(range(10))
        assert fm.is_cached(split, tfds_data_dir)
        again = fm.load(split, tfds_data_dir)  # from the cache: same arrays, same order
        np.testing.assert_array_equal(again[0], got_images)
        np.testing.assert_array_equal(again[1], got_labels)
    np.testing.assert_array_equal(fm.load("val", tfds_data_dir)[1], fm.load("test",
                                                                             tfds_data_dir)[1])


def test_warm_load_in_new_process_reads_only_the_cache(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    images, labels = fm.load("train", tfds_data_dir, source=folder)
    code = ("import sys, numpy as np; from jaxhw.data import fashion_mnist as fm; "
            f"x, y = fm.load('train', {str(tfds_data_dir)!r}); "
            "print(int(x.astype(np.int64).sum()), y.tolist(), "
            "'tensorflow_datasets' in sys.modules, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split(maxsplit=1)
    assert int(out[0]) == int(images.astype(np.int64).sum())
    assert out[1].strip() == f"{labels.tolist()} False False"


def test_corrupt_or_partial_cache_is_rebuilt(tiny_idx, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    images, labels = fm.load("test", tfds_data_dir, source=folder)
    cache = fm.dataset_dir(tfds_data_dir) / "jaxhw-test.npz"
    for damage in (b"not a zip file", cache.read_bytes()[:1000]):
        cache.write_bytes(damage)
        assert not fm.is_cached("test", tfds_data_dir)
        got = fm.load("test", tfds_data_dir)
        np.testing.assert_array_equal(got[0], images)
        np.testing.assert_array_equal(got[1], labels)
        assert fm.is_cached("test", tfds_data_dir)
    assert not list(cache.parent.glob("*.tmp-*"))


def test_resize_is_bilinear_and_cached(tiny_idx, tfds_data_dir) -> None:
    folder, _ = tiny_idx
    images, labels = fm.load("test", tfds_data_dir, resize=(32, 32), source=folder)
    chex.assert_shape(images, (16, 32, 32, 1))
    chex.assert_type([images, labels], [np.uint8, np.int32])
    assert fm.is_cached("test", tfds_data_dir, resize=(32, 32))
    base = fm.load("test", tfds_data_dir)[0].astype(np.float64)
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), base.mean(axis=(1, 2, 3)), atol=2.0)
    flat = np.full((2, 28, 28, 1), 77, np.uint8)
    np.testing.assert_array_equal(fm.resize_images(flat, (32, 32)), np.full((2, 32, 32, 1), 77))
    ramp = np.tile(np.arange(0, 252, 9, dtype=np.uint8)[None, None, :, None], (1, 28, 1, 1))
    row = fm.resize_images(ramp, (28, 56))[0, 0, :, 0].astype(int)
    assert np.all(np.diff(row) >= 0) and row[0] == 0 and row[-1] == 243


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


def test_builder_reads_tfds_manual_dir(tiny_idx, tfds_data_dir, tmp_path, monkeypatch) -> None:
    folder, arrays = tiny_idx
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    manual = tfds_data_dir / "downloads" / "manual"
    manual.mkdir(parents=True)
    for name in fm.FILES.values():
        (manual / name).write_bytes((folder / name).read_bytes())
    images, labels = fm.load("train", tfds_data_dir)
    assert _pairs(images, labels) == _pairs(*arrays["train"])


def test_offline_by_default_and_online_only_when_asked(tfds_data_dir, tmp_path,
                                                       monkeypatch) -> None:
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")

    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(fm.FashionMNISTDataError, match="apt-get install -y dataset-fashion"):
        fm.load("train", tfds_data_dir)
    asked = []

    class StockBuilder:
        def download_and_prepare(self, **kwargs):
            asked.append(kwargs)

    monkeypatch.setattr(tfds, "builder", lambda name, data_dir: asked.append((name, data_dir))
                        or StockBuilder())
    assert fm.prepare(tfds_data_dir, online=True) == fm.dataset_dir(tfds_data_dir)
    assert asked == [("fashion_mnist", str(tfds_data_dir)), {"file_format": "array_record"}]


def test_default_data_dir_is_tfds_default(monkeypatch, tmp_path) -> None:
    from tensorflow_datasets.core import constants

    assert fm.default_data_dir() == Path(constants.get_default_data_dir())
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert fm.default_data_dir() == Path(constants.get_default_data_dir()) == tmp_path
    assert fm.dataset_dir() == tmp_path / "fashion_mnist" / "3.0.1"


# Malformed files: a clear error naming the file and the fix; nothing half-written is left.

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
        fm.load("train", tfds_data_dir, source=folder)
    assert str(path) in str(err.value) and all(fix in str(err.value) for fix in FIX)
    assert _leftovers(tfds_data_dir) == []
    path.write_bytes(good)
    images, labels = fm.load("train", tfds_data_dir, source=folder)
    assert _pairs(images, labels) == _pairs(*arrays["train"])


def test_builder_itself_rejects_malformed_files(tiny_idx, idx_writer, tfds_data_dir) -> None:
    folder, arrays = tiny_idx
    idx_writer(folder / fm.FILES["test", "images"], arrays["test"][0], magic=0x0804)
    with pytest.raises(fm.FashionMNISTDataError, match="t10k-images-idx3-ubyte.gz: IDX magic"):
        fm.builder(tfds_data_dir, source=folder).download_and_prepare(file_format="array_record")
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
        fm.load("train", tfds_data_dir, source=folder)
    assert _leftovers(tfds_data_dir) == []
    monkeypatch.setattr(cls, "_generate_examples", generate)
    images, labels = fm.load("train", tfds_data_dir, source=folder)
    assert _pairs(images, labels) == _pairs(*arrays["train"])


def test_device_pass_visits_every_example_once() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (100, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, 100).astype(np.int32)
    for batch_size in (16, 100):
        total, count, label_sum = data_bench.device_pass(images, labels, 0, batch_size)
        assert int(count) == 100 and int(label_sum) == int(labels.sum())
        np.testing.assert_allclose(float(total), images.sum() / 255.0, rtol=1e-5)


# The real data, where installed (`make test` installs it when it can).

@real_data
@pytest.mark.slow
def test_real_data_sizes_and_classes(real_data_dir: Path) -> None:
    train_images, train_labels = fm.load("train", real_data_dir)
    test_images, test_labels = fm.load("test", real_data_dir)
    chex.assert_shape([train_images, test_images], [(60000, 28, 28, 1), (10000, 28, 28, 1)])
    chex.assert_type([train_images, train_labels, test_labels], [np.uint8, np.int32, np.int32])
    assert train_labels.min() == 0 and train_labels.max() == 9
    np.testing.assert_array_equal(np.bincount(train_labels, minlength=10), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_labels, minlength=10), np.full(10, 1000))


@real_data
@pytest.mark.slow
def test_real_data_equals_idx_files(real_data_dir: Path) -> None:
    def rows(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        flat = np.concatenate([images.reshape(len(images), -1), labels[:, None].astype(np.uint8)],
                              axis=1)
        return np.sort(np.ascontiguousarray(flat).view(np.dtype((np.void, 785)))[:, 0])

    for split in fm.SPLITS:
        raw = fm.read_split(REAL_SOURCE, split)
        np.testing.assert_array_equal(rows(*fm.load(split, real_data_dir)), rows(*raw))


def test_load_splits_truncates_and_checks(tiny_idx, tfds_data_dir, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tiny_idx[0]))
    (X, y), (Xv, yv) = fm.load_splits(10, 4, data_dir=tfds_data_dir)
    assert X.shape == (10, 28, 28, 1) and X.dtype == np.uint8
    assert y.shape == (10,) and y.dtype == np.int32
    assert Xv.shape == (4, 28, 28, 1) and yv.shape == (4,)
    with pytest.raises(ValueError, match="train"):
        fm.load_splits(0, 4, data_dir=tfds_data_dir)
