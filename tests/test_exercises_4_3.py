"""4.3's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import math

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures, needs_data, pngs

EPS32 = float(np.finfo(np.float32).eps)
SID = "4.3-exercises"


runs, metrics, answers = exercise_fixtures(SID, real_data=True)


@needs_data
def test_every_item_has_a_heading_and_every_checked_item_an_answer(answers, runs):
    assert exercise_items.computed("4.3") <= set(answers)
    assert pngs(runs[SID].finished()) == {"estimates.png"}


@needs_data
def test_1_exact_validation_loss_from_the_quick_estimate(answers):
    a = answers["1"]
    assert (a["N"], a["m"], a["B"], a["m_last"]) == (10000, 256, 40, 16)  # 39 x 256 + 16
    # Three float32 means of the same 10,000 losses summed in different orders (batches of 256
    # or 2,000, then 40 or 5 batch totals): recursive summation errs by at most ~(terms in a
    # chain) eps relative, 2,000 eps = 2.4e-4 in the worst case; the formula's mild cancellation
    # (10,240 L_q against 240 l_b) adds little.
    tol = 3e-4 * a["evaluate_256"]
    assert a["formula"] == pytest.approx(a["evaluate_256"], abs=tol)
    assert a["fit_val_loss"] == pytest.approx(a["evaluate_256"], abs=tol)
    # The quick estimate is off, by many times that rounding, and by the predicted amount.
    error = a["quick_loss"] - a["evaluate_256"]
    assert abs(error) > 10 * tol
    assert error == pytest.approx((256 - 16) / 10000 * (a["last_batch_loss"] - a["quick_loss"]),
                                  abs=tol)
    # Accuracies are multiples of 1/256 and 1/16: the same identity holds to float32 rounding
    # of a 40-term mean.
    exact_from_quick = (256 * 40 * a["quick_acc"] - 240 * a["last_batch_acc"]) / 10000
    assert exact_from_quick == pytest.approx(a["exact_acc"], abs=64 * EPS32)


@needs_data
def test_2_both_estimates_unbiased_the_quick_one_wider(answers):
    a = answers["2"]
    k = a["num_resamples"]
    assert k == 500
    assert a["predicted_variance_ratio"] == pytest.approx(10000 / 1600 * (39 / 256 + 1 / 16))
    # Means of k independent resamples: within 5 standard errors of R (a 6e-7 chance each).
    for name in ("exact", "quick"):
        assert abs(a[f"{name}_mean"] - a["R"]) < 5 * a[f"{name}_std"] / math.sqrt(k)
    # A sample variance of k values errs by ~sqrt(2 / k) relative, so the log of a ratio of two
    # by at most 2 / sqrt(k) = 0.09 per standard error; 1.34 is 3.3 of them above 1.
    assert a["quick_std"] > a["exact_std"]
    assert abs(math.log(a["variance_ratio"] / a["predicted_variance_ratio"])) < 5 * 2 / math.sqrt(k)


@needs_data
def test_3_bayes_decision_is_not_the_argmax(answers):
    a = answers["3"]
    assert a["two_class_expected_cost"] == pytest.approx([3.0, 0.7])
    assert a["two_class_argmax"] == 0 and a["two_class_bayes"] == 1
    # 100,000 draws: cost 10 with probability 0.3 (sd 4.58) or 1 with probability 0.7 (sd
    # 0.458); 5 standard errors each.
    assert a["two_class_realised"]["argmax"] == pytest.approx(3.0, abs=5 * 4.58 / math.sqrt(1e5))
    assert a["two_class_realised"]["bayes"] == pytest.approx(0.7, abs=5 * 0.458 / math.sqrt(1e5))
    f, changed = a["fashion"], a["fashion_changed"]
    assert changed > 0 and a["fashion_changed_to_shirt"] == changed  # every change is to shirt
    assert f["bayes"]["says_shirt"] == f["argmax"]["says_shirt"] + changed
    assert f["bayes"]["shirt_recall"] > f["argmax"]["shirt_recall"]
    assert f["bayes"]["accuracy"] < f["argmax"]["accuracy"]
    assert f["bayes"]["expected_cost_under_model"] <= f["argmax"]["expected_cost_under_model"]
    assert f["bayes"]["mean_cost"] < f["argmax"]["mean_cost"]
