"""4.4's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import math

import exercise_items
import numpy as np
import pytest
from section_runs import assert_pngs, exercise_fixtures, needs_data

SID = "4.4-exercises"
EPS = float(np.finfo(np.float32).eps)  # 2^-23


def is_nan(value) -> bool:
    return math.isnan(float(value))  # metrics.json writes nan as the string "nan"


runs, metrics, answers = exercise_fixtures(SID, real_data=True)


@needs_data
def test_every_computed_item_has_an_answer(answers, runs):
    assert exercise_items.computed("4.4") <= set(answers)
    assert_pngs(runs[SID].out, ["softmax_range.png", "learning_rate.png", "batch_size.png"])


@needs_data
def test_1_1_an_input_of_100_gives_nan(answers):
    a = answers["1.1"]
    assert a["exp_overflow_above"] == pytest.approx(88.7228, abs=1e-4)  # log(float32 max)
    assert is_nan(a["book_softmax_100_1_0"][0])  # inf / inf
    exact = np.exp([0.0, -99.0, -100.0]) / np.exp([0.0, -99.0, -100.0]).sum()
    np.testing.assert_allclose(a["exact_100_1_0"], exact, rtol=1e-12)  # float64 reference
    # An ordinary row: exp, a sum of 3 and a division, each within a few ulps of values <= 1.
    np.testing.assert_allclose(a["book_softmax_1_0_-1"], [0.66524096, 0.24472847, 0.09003057],
                               atol=8 * EPS)


@needs_data
def test_1_2_inputs_below_minus_100_give_nan(answers):
    a = answers["1.2"]
    # e^-110 = 1.7e-48 is below float32's smallest subnormal (1.4e-45): 0 everywhere, 0 / 0.
    assert all(is_nan(v) for v in a["book_softmax_-110"])
    np.testing.assert_allclose(a["exact"], [0.66524096, 0.24472847, 0.09003057], atol=1e-8)


@needs_data
def test_1_3_subtracting_the_max_fixes_every_shift(answers):
    a = answers["1.3"]
    assert a["fix_nan_count"] == 0
    # The shifted row is [0, -1, -2] exactly; exp (a few ulps), a sum of 3 and a division give
    # entries <= 1 within ~8 eps; the library's exp(log_softmax) adds a log and an exp whose
    # absolute error on values up to |log 0.09| = 2.4 becomes a relative error of the entry.
    assert a["fix_max_abs_error"] <= 8 * EPS
    assert a["library_max_abs_error"] <= 16 * EPS
    # The book's version works on a window that contains the ordinary range and ends before
    # exp overflows (88.72) and before every exp underflows even as a subnormal (-103.3 - 2).
    assert -101 < a["book_ok_from"] <= -80 and 80 <= a["book_ok_to"] < 88.73


@needs_data
def test_2_1_the_definition_trains_like_the_fused_loss(answers):
    a = answers["2.1"]
    loss = a["loss_at_start"]["fused (logits)"]
    assert loss == pytest.approx(math.log(10), abs=0.05)  # small weights: near-uniform
    # Each example's loss differs by a few ulps between the forms (8 eps of its value), and the
    # float32 mean of 256 of them may add up to 256 u relative.
    assert a["max_gap_at_start"] <= loss * (8 * EPS + 256 * EPS / 2)
    # The same gradient up to rounding; SGD on this convex loss does not amplify rounding-size
    # differences (1e-7 relative per step), so two epochs stay far inside 1e-3.
    assert a["max_val_loss_gap"] < 1e-3
    assert abs(a["val_acc"]["definition"] - a["val_acc"]["fused"]) < 0.01


@needs_data
def test_2_2_the_definition_does_twice_the_exps_and_logs(answers):
    a = answers["2.2"]
    n, q = a["shape"]
    # The definition: q exps (softmax) and q logs per example; the others q exps and one log.
    assert a["definition"]["transcendentals"] >= 2 * n * q
    for other in ("book (indexing)", "fused (logits)"):
        assert a[other]["transcendentals"] < 1.1 * n * q
    assert all(a[k]["ms"] > 0 for k in ("definition", "book (indexing)", "fused (logits)"))


@needs_data
def test_2_4_log_of_zero(answers):
    a = answers["2.4"]
    assert float(a["probabilities"][2]) == 0.0  # e^-130 underflows
    assert is_nan(a["label 0"]["definition"])  # 0 * log 0
    assert not is_nan(a["label 0"]["definition with xlogy"])
    for form in ("definition", "definition with xlogy", "book (indexing)"):
        assert math.isinf(float(a["label 2"][form]))
    # 130 + log(1 + e^-10 + e^-130) = 130.0000454; float32 spacing at 130 is 1.5e-5.
    assert a["label 2"]["fused (logits)"] == pytest.approx(130.0000454, abs=4e-5)
    assert all(is_nan(g) for g in a["grad label 0"]["definition"])
    assert all(math.isfinite(float(g)) for g in a["grad label 0"]["fused (logits)"])
    # The text explains the finite "one-hot made inside" row by XLA's rewrite into a select.
    assert a["product_operations"] == {"labels passed in": ["multiply"],
                                       "one-hot made inside": ["select"]}


@needs_data
def test_3_confident_predictions_are_more_accurate(answers):
    rows = answers["3"]["selective"]
    assert rows[0]["coverage"] == 1.0
    assert [r["coverage"] for r in rows] == sorted((r["coverage"] for r in rows), reverse=True)
    assert rows[1]["accuracy"] > rows[0]["accuracy"] and rows[2]["accuracy"] > rows[1]["accuracy"]


@needs_data
def test_4_output_layer_costs_grow_with_the_vocabulary(answers):
    a = answers["4"]
    for row in a["cost_d512_batch256"]:
        assert row["W_MB"] == pytest.approx(4 * 512 * row["V"] / 1e6)
        assert row["logits_MB"] == pytest.approx(4 * 256 * row["V"] / 1e6)
    assert a["nonzero_column_fraction"] == [1.0] * len(a["vocab_sizes"])  # dense gradient


@needs_data
def test_5_1_the_learning_rate_curve_has_an_inner_minimum(answers):
    a = answers["5.1"]
    loss = np.asarray(a["val_loss_mean"], float)
    best = int(np.argmin(loss))
    assert 0 < best < len(loss) - 1
    assert a["best_lr"] == a["learning_rates"][best]
    # Far above the best at both ends, against seed spreads of a few hundredths.
    assert loss[0] > loss[best] + 0.3 and loss[-1] > loss[best] + 0.3
    train = np.asarray(a["train_loss_mean"], float)
    assert np.all(np.abs(train[: best + 1] - loss[: best + 1]) < 0.2)  # no generalisation gap


@needs_data
def test_5_2_both_ends_of_the_batch_size_range_do_worse(answers):
    a = answers["5.2"]
    loss = np.asarray(a["val_loss_mean"], float)
    best = int(np.argmin(loss))
    assert 0 < best < len(loss) - 1
    assert a["batch_sizes"][0] == 1 and a["best_batch_size"] == a["batch_sizes"][best]
    assert loss[0] > loss[best] + 0.2 and loss[-1] > loss[best] + 0.2
