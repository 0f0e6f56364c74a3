"""3.1's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import json

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)
SID = "3.1-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_checked_item_an_answer(metrics, answers):
    assert exercise_items.computed("3.1") <= set(answers)
    assert metrics["_run"]["quick"] is True
    json.dumps(answers)  # plain JSON


def test_1_the_mean_minimises_squares_and_the_median_absolute_deviations(answers):
    a = answers["1.1"]
    assert abs(a["grid_argmin"] - a["mean"]) <= a["grid_step"]  # the grid's nearest point
    # jax.grad in float32 at the (rounded) mean: a sum of 101 terms, each rounded, bounded by
    # 101 eps32 times the sum of the terms' sizes.
    assert abs(a["grad_at_mean"]) <= 101 * EPS32 * a["grad_scale"]
    b = answers["1.3"]
    assert abs(b["grid_argmin_odd"] - b["median_odd"]) <= 1e-4  # the grid step
    # even n: flat between the middle values (float64 sums of 100 terms of size ~10) ...
    assert b["even_loss_spread_inside"] <= 100 * 10 * EPS64 * 10
    # ... and rises outside them with a slope of at least 2 (51 points on one side, 49 on the
    # other), so by at least 0.02 at 0.01 beyond
    assert b["even_loss_min_outside_minus_inside"] >= 0.02 - 1e-9


def test_2_and_6_affine_maps_compose_and_absorb_the_bias(answers):
    assert answers["2"]["max_abs_difference"] <= 1e-12  # float64, 4-term sums
    six = answers["6"]
    assert six["max_abs_difference"] <= 100 * EPS64 * six["output_scale"]
    assert six["rank_W2W1"] == 2  # the hidden width of 2 bounds the rank


def test_3_quadratics_are_linear_in_quadratic_features(answers):
    a = answers["3"]
    assert a["num_features"] == 3 + 6
    # least squares in float64 with a condition number near 4: errors near eps64
    assert a["coef_max_error"] <= 1e3 * EPS64 * a["design_condition"]
    assert a["hidden_layer_max_error"] <= 1e3 * EPS64 * a["quad_part_scale"]


def test_4_rank_deficiency_noise_ridge_and_sgd(answers):
    a = answers["4.1"]
    assert a["rank"] == 2
    assert a["eigenvalues"][0] <= 1e-12 * a["eigenvalues"][-1]
    assert a["loss_moved"] == pytest.approx(a["loss_min_norm"], rel=1e-9)
    for sigma, b in answers["4.2"].items():
        assert b["ranks"] == [3] * 5
        # along v the noise adds sigma^2 |E v|^2, a chi-square with n = 1000 degrees of freedom
        # times sigma^2 (relative spread 4.5 %): the smallest eigenvalue is about n sigma^2
        assert 0.7 < min(b["smallest_eigenvalues"]) / b["n_sigma2"]
        assert max(b["smallest_eigenvalues"]) / b["n_sigma2"] < 1.3
        # ridge keeps no component along v (X^T y is orthogonal to it); the noisy solutions'
        # components would agree to float64 rounding if they did not depend on the draw
        assert abs(b["ridge_along_v"]) <= 1e-9
        assert np.ptp(b["noisy_along_v"]) > 1e-3
        # w1 + 2 w3 stays identified; noise in X shrinks it by about sigma^2 (1 % at 0.1)
        assert np.allclose(b["noisy_w1_plus_2w3"], 2.0, atol=0.05), sigma
    # Monte Carlo mean within 5 standard errors in each of the 9 entries
    assert answers["4.3"]["max_abs_z"] < 5
    c = answers["4.4"]
    # the null component never moves but for float32 rounding: at most eps32 * |w| per step
    bound = c["steps"] * EPS32 * 4
    np.testing.assert_allclose(c["along_v_end"], c["along_v_start"], atol=bound)
    # the row-space part converges to the minimum-norm solution, up to SGD's jitter at lr 0.05
    # with label noise 0.01 (about 3e-4 per coordinate)
    assert max(c["row_space_distance_to_min_norm"]) < 5e-3
    final_w = np.array(c["final_w"])
    np.testing.assert_allclose(final_w[1] - final_w[0], 3.0 * np.array(c["v"]), atol=bound)


def test_5_laplace_likelihood_and_the_trouble_of_sgd_on_it(answers):
    a = answers["5.1"]
    assert a["nll_scipy"] == pytest.approx(a["nll_formula"], rel=50 * EPS32)
    b = answers["5.3"]
    residuals = np.array(b["residuals"])
    # the absolute loss's gradient is ±1 however small the residual (+1 at 0 in JAX)
    np.testing.assert_array_equal(b["d_abs"], np.where(residuals >= 0, 1.0, -1.0))
    np.testing.assert_array_equal(b["d_squared"], residuals)
    # a mean of 32 signs times x does not vanish at the minimiser (about 0.3 on average)
    assert b["minibatch_grad_norm_at_minimiser"] > 0.05
    plateau = b["constant_plateau_dist"]  # lr 0.3, 0.1, 0.03
    assert plateau[0] > plateau[1] > plateau[2]
    assert b["decayed_plateau_dist"] < min(plateau)


def test_8_poisson(answers):
    a = answers["8.2"]
    # float32 pmf: the exponent's terms reach about 200 log 20 ~ 600, so each term's relative
    # error is up to 600 eps32 ~ 7e-5
    np.testing.assert_allclose(a["sum_k_pmf"], a["lambda"], rtol=1e-4)
    np.testing.assert_allclose(a["sum_pmf"], 1.0, rtol=1e-4)
    b = answers["8.4"]
    scale = b["loss_scale"]  # values up to e^3 + 10 * 3
    assert b["grad_max_abs_error"] <= 4 * EPS32 * scale
    assert b["second_max_abs_error"] <= 4 * EPS32 * scale
    assert b["logpmf_max_abs_error"] <= 10 * EPS32 * (scale + 20)  # + log 10! ~ 15
    se = np.array(b["standard_errors"])
    # SGD through fit reaches the maximum-likelihood fit to well within its standard error
    assert b["sgd_minus_mle"] < 0.5 * se.min()
    assert max(b["mle_minus_true_in_se"]) < 4
