"""Sections 4.2-4.4 run as plain scripts (no kernel): the values the book prints, pinned.

Replaces the 4.3/4.4 checks of tests/test_ch4_5_sections.py (quick runs and the full-data
accuracy of 4.4); 4.2 had none there. Sections on Fashion-MNIST skip without the data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from section_runs import (
    SectionRun,
    assert_pngs,
    have_fashion_mnist,
    needs_data,
    read_metrics,
    run_section,
    running,
)

from jaxhw.data import fashion_mnist as fm

BOOK_FIRST_VAL_TITLES = ["ankle boot", "pullover", "trouser", "trouser", "shirt", "trouser",
                         "coat", "shirt"]
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """The three sections, started together (the FashionMNIST ones when the data is there)."""
    base = tmp_path_factory.mktemp("ch4")
    started = {"4.3": SectionRun("4.3", base / "s43" / "out", "--quick")}
    if have_fashion_mnist():
        data_dir = request.getfixturevalue("real_data_dir")
        for sid in ("4.2", "4.4"):
            started[sid] = SectionRun(sid, base / f"s{sid.replace('.', '')}" / "out", "--quick",
                                      data_dir=data_dir)
    yield from running(started)


@pytest.fixture(scope="module")
def out42(runs) -> Path:
    return runs["4.2"].finished()


@pytest.fixture(scope="module")
def out43(runs) -> Path:
    return runs["4.3"].finished()


@pytest.fixture(scope="module")
def out44(runs) -> Path:
    return runs["4.4"].finished()


@needs_data
def test_42_sizes_shapes_and_dtypes(out42):
    m = read_metrics(out42)
    assert m["_run"]["quick"] is True
    assert (m["num_train"], m["num_val"]) == (60000, 10000)  # reference: (60000, 10000)
    assert m["image_shape"] == [32, 32, 1] and m["image_dtype"] == "uint8"  # ref: [1, 32, 32]
    assert m["batch_shape"] == [64, 32, 32, 1] and m["batch_dtype"] == "uint8"
    assert m["label_batch_shape"] == [64] and m["label_batch_dtype"] == "int32"
    assert m["scaled_batch_dtype"] == "float32"
    low, high = m["scaled_batch_range"]
    assert 0.0 <= low < high <= 1.0


@needs_data
def test_42_quick_times_20_source_batches_and_extrapolates(out42):
    m = read_metrics(out42)
    assert m["tfds_batches_timed"] == 20 and m["tfds_pass_extrapolated"] is True
    assert all(m[k] > 0 for k in ("tfds_pass_s", "device_pass_s", "device_shuffle_s", "load_s"))


@needs_data
def test_42_first_validation_images_are_the_books(out42):
    m = read_metrics(out42)
    assert m["val_first_labels"] == [9, 2, 1, 1, 6, 1, 4, 6]
    assert m["val_titles"] == BOOK_FIRST_VAL_TITLES
    assert_pngs(out42, ["val_images.png"])


# --- 4.3 The base classification model -------------------------------------------------------

def test_43_accuracy_example_and_chance(out43):
    m = read_metrics(out43)
    assert m["accuracy_book_example"] == 0.5
    assert m["chance_acc"] == pytest.approx(1 / 3) and m["chance_loss"] == pytest.approx(
        math.log(3))
    assert sum(m["val_class_counts"]) == m["num_val"] == 512 and m["epochs"] == 4
    assert_pngs(out43, ["rings.png", "softmax_regression.png", "concise_MLP.png",
                 "decision_regions.png"])


def test_43_rings_separate_the_mlp_from_softmax_regression(out43):
    m = read_metrics(out43)
    assert m["mlp_val_acc"] > 0.8 and len(m["mlp_val_loss"]) == 4  # the MLP separates rings...
    assert m["softmax_regression_val_acc"] < 0.5  # ...a linear model cannot
    # Its best, by the loss, is W = 0: every class gets 1/3, loss ln 3. The val class
    # frequencies (about 1/3 +- 0.02) and the W that SGD noise leaves (norm ~0.1, squared in
    # the loss) move it by a few thousandths, not by 0.02.
    np.testing.assert_allclose(m["softmax_regression_val_loss"], math.log(3), atol=0.02)
    assert m["softmax_regression_W_norm"] < 0.3


# --- 4.4 Softmax regression from scratch ------------------------------------------------------

@needs_data
def test_44_printed_values(out44):
    m = read_metrics(out44)
    assert m["sum_axis0_keepdims"] == [[5.0, 7.0, 9.0]]  # small integers: exact in float32
    assert m["sum_axis1_keepdims"] == [[6.0], [15.0]]
    rows = np.asarray(m["softmax_random_rows"])
    assert rows.shape == (2, 5) and (rows > 0).all() and (rows < 1).all()
    # Five positive terms, each rounded once, summed: at most ~5 eps of 1 apart.
    np.testing.assert_allclose(m["softmax_row_sums"], [1.0, 1.0], rtol=0, atol=8 * EPS32)
    np.testing.assert_allclose(m["picked"], [0.1, 0.5], rtol=EPS32)
    book_ce = -(math.log(0.1) + math.log(0.5)) / 2  # reference: tensor(1.4979)
    assert m["book_cross_entropy_example"] == pytest.approx(book_ce, rel=8 * EPS32)
    assert m["cross_entropy_example"] == pytest.approx(book_ce, rel=8 * EPS32)
    assert round(m["book_cross_entropy_example"], 4) == 1.4979
    assert m["preds_shape"] == [256]


@needs_data
def test_44_quick_training_and_predictions(out44):
    m = read_metrics(out44)
    # quick: 2 epochs on 10,000 examples (the book's 10 on 60,000 reach ~0.83)
    assert 0.6 < m["val_acc"] <= 1 and m["val_loss"] > 0 and m["epoch_seconds"] > 0
    assert len(m["train_loss"]) == len(m["val_acc_per_epoch"]) == 2
    assert m["train_loss"][1] < m["train_loss"][0]
    assert 0 < m["num_misclassified_first_batch"] < 256
    titles = m["misclassified_titles"]
    assert len(titles) == min(8, m["num_misclassified_first_batch"])
    for title in titles:
        true, pred = title.split("\n")
        assert true.startswith("true: ") and pred.startswith("pred: ")
        assert true[6:] != pred[6:] and {true[6:], pred[6:]} <= set(fm.TEXT_LABELS)
    assert_pngs(out44, ["training.png", "misclassified.png"])


@needs_data
def test_44_book_softmax_overflows_stable_one_does_not(out44):
    demo = read_metrics(out44)["overflow_demo"]
    assert demo["book_softmax"][:2] == ["nan", "nan"] and demo["softmax"] == [0, 1, 0]
    assert demo["book_cross_entropy"] == "nan"
    assert demo["cross_entropy"] == pytest.approx(900.0)


@needs_data
@pytest.mark.slow
def test_44_full_run_reaches_book_accuracy(tmp_path, real_data_dir):
    m = run_section("4.4", tmp_path / "out", data_dir=real_data_dir)
    assert m["_run"]["quick"] is False and len(m["val_acc_per_epoch"]) == 10
    assert m["val_acc"] >= 0.82
    assert m["val_loss"] < 0.55
