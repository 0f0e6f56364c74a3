"""4.1's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import math

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures, pngs

EPS32 = float(np.finfo(np.float32).eps)
SID = "4.1-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_checked_item_an_answer(answers, runs):
    assert exercise_items.computed("4.1") <= set(answers)
    assert pngs(runs[SID].finished()) == {"realsoftmax_gap.png", "scaled_realsoftmax.png",
                                          "temperature.png"}


def test_1_hessian_of_cross_entropy_is_the_softmax_covariance(answers):
    # Entries are at most 1/4 and come from an exp, a sum of 10 terms and a product, each
    # rounded to about an ulp: a few eps of 1/4; 8 eps leaves room for other exp kernels.
    assert answers["1.1"]["hessian_shape"] == [10, 10]
    assert answers["1.1"]["max_abs_error"] < 8 * EPS32
    # The float64 definition against the float32 Hessian: the same bound.
    assert answers["1.2"]["definition_max_abs_error"] < 8 * EPS32
    # 55 distinct entries, each a mean of >= 20,000 products with n p >= 300 per class, so
    # nearly normal: P(any |z| > 5) is about 55 * 6e-7.
    assert answers["1.2"]["sample_max_abs_z"] < 5


def test_2_codes_for_three_classes(answers):
    # The entropy in bits is log 3 (float32 nats) / log 2: relative error a few eps.
    assert answers["2.1"]["entropy_bits"] == pytest.approx(math.log2(3), rel=4 * EPS32)
    assert answers["2.1"]["fixed_length_bits"] == 2
    assert answers["2.1"]["huffman_bits"] == pytest.approx(5 / 3)
    a = answers["2.2"]
    n, rates = np.array(a["block_lengths"]), np.array(a["rates"])
    assert np.all(rates >= math.log2(3)) and np.all(rates < math.log2(3) + 1 / n)
    assert a["rate_n5"] == 1.6 and a["round_trip_n5"] is True
    assert a["best_n_up_to_20"] == 17 and a["best_rate_up_to_20"] == pytest.approx(27 / 17)


def test_3_two_trits_carry_eight_values(answers):
    assert answers["3"]["trits_needed"] == 2 and answers["3"]["bits_needed"] == 3
    codes = answers["3"]["codes"]
    assert answers["3"]["decodes"] is True and len({tuple(c) for c in codes}) == 8
    assert all(t in (-1, 0, 1) for c in codes for t in c)


def test_4_bradley_terry_is_the_logistic(answers):
    a = answers["4.1"]
    # Two float32 routes to a probability <= 1: a few roundings of an exp and a division.
    assert a["max_abs_softmax_minus_sigmoid"] < 4 * EPS32
    assert a["own_gradient_nonnegative"] and a["other_gradient_nonpositive"]
    assert a["larger_score_more_likely"]
    b = answers["4.2"]
    # Log-probabilities are scores minus a log-sum-exp, each up to ~2 max|score| + log 3 in size;
    # each rounding costs an ulp of that: 8 eps of it bounds the change of their difference.
    assert b["log_odds_max_change"] < 8 * EPS32 * (2 * b["max_abs_score"] + 2)
    assert b["order_kept"] is True


def test_5_realsoftmax_bounds_and_limits(answers):
    d = answers["5.1"]["difference_float32"]
    assert d[0] == pytest.approx(math.log(2), rel=2 * EPS32)
    assert d[1] == pytest.approx(math.log1p(math.exp(-5)), rel=1e-4)  # 1 - 0.0067: ulp(1)/0.0067
    assert d[3] == 0.0  # log1p(e^-21) = 7.6e-10 is far below half an ulp of 1: rounded away
    a = answers["5.2"]
    assert a["max_gap"] == pytest.approx(math.log(2), rel=2 * EPS32) and a["argmax_a"] == 0.0
    assert a["monotone_decreasing"] is True
    assert a["gap_at"]["20"] == pytest.approx(math.exp(-20), rel=1e-8)
    assert answers["5.3"]["min_gap"] >= 0.0
    s = answers["5.4"]
    assert s["within_log2_over_lambda"] is True
    # a = b: the gap is exactly log 2 / lambda; the float32 difference (0.3 lambda + log 2)
    # / lambda - 0.3 loses ~2 ulps of 0.3 + log 2 / lambda, i.e. ~1.2e-7 absolute, which is
    # 1.7e-4 of log 2 / lambda at lambda = 1000.
    assert np.allclose(s["gap_a_equals_b_times_lambda"], math.log(2), rtol=1e-3)
    assert s["gaps"]["a = 1, b = 0.5"][-1] == 0.0 and s["gaps"]["a = -2, b = 1"][-1] == 0.0
    soft = answers["5.5"]["softmin"]
    assert all(v <= 0.5 for v in soft) and soft[-1] == 0.5
    n = answers["5.6"]
    assert 0 < n["excess_min"] and n["excess_max"] <= n["log_n"]
    assert n["equal_entries_excess"] == pytest.approx(math.log(10), rel=4 * EPS32)
    # The scaled gap is a float32 difference of numbers ~3 in size: a few ulps of 3 below 0 at
    # worst.
    assert -8 * EPS32 < n["scaled_excess_min"] and n["scaled_excess_max"] <= math.log(10) / 100


def test_6_log_sum_exp_convex_equivariant_and_stable(answers):
    c = answers["6.1"]
    # eigvalsh is backward stable: eigenvalues move by ~n eps ||H|| = 10 * eps * 0.5 at most.
    assert c["min_abs_smallest_eigenvalue"] < 10 * EPS32
    assert c["max_abs_hessian_times_ones"] < 10 * EPS32
    assert c["second_smallest_eigenvalue_min"] > 1e-4  # well above rounding: strictly positive
    assert c["midpoint_slack_min"] > 0
    t = answers["6.2"]
    # g(x + b) - g(x) = b, up to ulps of |b| + g ~ 53 at most: 8 eps * 60.
    assert np.allclose(t["g_differences"], t["shifts"], rtol=0, atol=8 * EPS32 * 60)
    assert max(t["softmax_max_changes"]) < 8 * EPS32  # the shift is removed before exp
    n = answers["6.3"]
    assert n["naive"][1:] == ["inf", "inf", "-inf"]
    assert n["sum_of_exp"][1:] == ["inf", "inf", 0.0]
    assert n["naive"][0] == pytest.approx(n["exact"][0], rel=4 * EPS32)
    s = answers["6.4"]
    assert max(s["relative_error"]) < 4 * EPS32  # max plus a log of a number in [1, 3]
    assert np.allclose(s["stable"], s["jax_logsumexp"], rtol=4 * EPS32)
    assert s["naive_gradient_large"] == ["nan", "nan", "nan"]
    assert np.allclose(s["stable_gradient_large"], s["softmax_large"], atol=4 * EPS32)


def test_7_temperature(answers):
    # Q = P^alpha normalised against softmax(o / T'): both ~ eps relative on entries <= 1.
    assert max(answers["7.1"].values()) < 8 * EPS32
    cold = np.array(answers["7.2"]["tv_to_argmax"])
    assert np.all(np.diff(cold) <= 0) and cold[0] > 0.01 and cold[-1] < 1e-6
    hot = answers["7.3"]
    spread = np.array(hot["max_abs_from_uniform"])
    assert np.all(np.diff(spread) < 0) and spread[-1] < 1e-3
    support = np.array(hot["support_q_last"])
    assert np.all(support[:2] == 0) and np.allclose(support[2:], 1 / 8, atol=1e-3)
