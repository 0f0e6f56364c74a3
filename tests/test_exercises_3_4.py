"""3.4's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures, pngs

EPS32 = float(np.finfo(np.float32).eps)
SID = "3.4-exercises"
TRUE_W = np.array([2.0, -3.4])


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_an_answer(runs, answers):
    assert set(exercise_items.ITEMS["3.4"]) <= set(answers)  # every item has a measured answer
    assert pngs(runs[SID].finished()) == {"ex1_init.png", "ex3_planck.png",
                                          "ex6_learning_rates.png", "ex8_losses.png",
                                          "ex9_order.png"}


def test_1_zero_init_works_and_a_huge_one_is_slow(answers):
    a = answers["1"]  # medians over 8 starts of each kind
    zero, book, huge = a["w_error_epoch10"]
    # same data and order; the starts differ by 0.01 |draw|, shrunk by 0.97 per step over 320
    # steps (6e-5): they end equal up to float32 rounding of the path
    assert abs(zero - book) < 1e-5 and zero < 1e-3
    assert a["w_error_epoch3"][2] > 10 * a["w_error_epoch3"][0]  # far behind after 3 epochs
    assert huge < 0.01  # and close after 10
    assert a["first_batch_loss"][2] > 10 * a["first_batch_loss"][0]
    # at zero the gradient is -mean(y x) ~ -(w, b): sample error about |y| / sqrt(n) ~ 0.15
    np.testing.assert_allclose(a["grad_w_at_zero"], -TRUE_W, atol=0.5)
    assert a["grad_b_at_zero"] == pytest.approx(-4.2, abs=0.5)
    mlp = a["zero_mlp_grad_norms"]  # the symmetric MLP: only the output bias moves
    assert mlp["W1"] == mlp["W2"] == mlp["b1"] == 0.0 and mlp["b2"] > 1.0


def test_2_ohms_law_by_gradient_descent(answers):
    a = answers["2"]
    # SGD's end point against least squares: the last steps are at lr 0.3 * 0.9^39 ~ 5e-3
    assert abs(a["R_fit"] - a["R_least_squares"]) < 1e-3
    assert abs(a["V0_fit"] - a["V0_least_squares"]) < 1e-3
    # least squares against the truth: standard errors ~0.003 (slope), ~0.0035 (offset)
    assert abs(a["R_least_squares"] - a["R_true"]) < 0.015 and abs(a["V0_least_squares"]) < 0.02


def test_3_planck_fails_in_si_float32_and_fits_when_scaled(answers):
    a = answers["3"]
    assert a["si_grad"] == "-inf" and a["si_T_after_one_step"] == "inf"
    assert a["lambda_k_T_squared_float32"] == 0.0  # 7e-53 underflows
    assert abs(a["T_fit"] - a["T_true"]) < 4 * a["T_standard_error"]
    assert a["log_form_vs_si_max_difference"] < 10 * EPS32 * 30  # |log B| up to ~30
    # the final loss is the noise: mean of (0.02 z)^2 / 2 over 100 points, 2e-4 +- 14 %
    assert 1e-4 < a["loss_by_epoch"][-1] < 3e-4


def test_4_hessian_newton_and_their_cost(answers):
    a = answers["4"]
    # means of 1000 products of unit-scale numbers in float32 (pairwise sums: ~10 roundings)
    assert a["hessian_vs_formula"] < 1e-5 and a["hvp_vs_hessian_times_v"] < 1e-5
    # one Newton step on a quadratic with condition number ~1.1 lands on least squares
    assert a["newton_vs_least_squares"] < 1e-4
    assert a["loss_after_newton"] == pytest.approx(0.01**2 / 2, rel=0.2)  # the noise
    assert a["absolute_loss_hessian_max"] == 0.0
    assert 1.0 < a["largest_eigenvalue"] < 1.3 and 2 / a["largest_eigenvalue"] < 2.0
    cost = {k: v["params"] for k, v in a["hessian_cost"].items()}
    assert sorted(cost.values()) == [3, 7850, 784 * 256 + 256 + 256 * 10 + 10]


def test_5_without_reshape_the_loss_broadcasts(answers):
    a = answers["5"]
    assert a["difference_shape"] == [1000, 1000]
    assert a["loss_with_reshape"] < 1e-4
    # the broadcast loss of a near-perfect model is var(y) up to its tiny error
    assert a["loss_without_reshape"] == pytest.approx(a["var_y"], rel=1e-3)
    # and the constant model scores var(y) / 2, half as much: the bug prefers it
    assert a["unreshaped_at_constant"] == pytest.approx(a["var_y"] / 2, rel=1e-5)
    assert a["unreshaped_at_constant"] < a["unreshaped_at_trained"]
    assert "squared_loss" in a["size_mismatch_error"] and "(999,)" in a["size_mismatch_error"]


def test_6_larger_rates_converge_faster_until_they_diverge(answers):
    a = answers["6"]
    assert a["learning_rates"] == [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0]
    reached = [31 if e is None else e for e in a["epochs_to_twice_noise_floor"][:5]]
    assert reached == sorted(reached, reverse=True) and reached[0] > 30
    assert a["diverged"] == [False] * 6 + [True]
    last10 = a["val_loss_last10_mean"]
    # the validation noise floor is the same for every model (same val set), so differences
    # are the models' own excess: lr 1.0 jitters more than 0.3
    assert last10[5] > last10[4]
    # lr 0.003: 30 epochs lower the loss a hundredfold and more, and it is still not there
    assert 1e-3 < a["val_loss_epoch30"][0] < a["val_loss_epoch3"][0] / 100


def test_7_the_last_batch_is_smaller_and_noisier(answers):
    a = answers["7"]
    assert a["steps_per_epoch"] == 32 and a["last_batch_size"] == 8 and a["drop_last_steps"] == 31
    # relative spread of a mean of b squared normals: sqrt(2 / b); the ratio's standard error
    # with ~430 last-batch samples is ~5 %
    assert 0.2 < a["relative_spread"]["full_batches_of_32"] < 0.3
    assert 1.6 < a["spread_ratio"] < 2.5


def test_8_outliers_break_the_squared_loss_not_absolute_or_huber(answers):
    clean, outlier = answers["8.1"], answers["8.2"]
    assert clean["clean, squared"]["median"] < 2e-3
    assert clean["clean, Huber (δ = 1)"]["median"] < 2e-3
    assert clean["clean, absolute"]["median"] > 5 * clean["clean, squared"]["median"]
    assert outlier["y[5] = 10000, squared"]["median"] > 0.5
    assert outlier["y[5] = 10000, absolute"]["median"] < 0.2
    assert outlier["y[5] = 10000, Huber (δ = 1)"]["median"] < 2e-3
    h = answers["8.3"]
    assert h["best_with_outlier"] == "y[5] = 10000, Huber (δ = 1)"
    assert h["huber_over_absolute_median"] < 0.5
    assert h["grad_vs_clip_max_error"] <= 4 * EPS32 * 3  # |r| <= 3, rounding of the grid
    np.testing.assert_allclose(h["values_near_join"], [0.5 * 0.999**2, 1.001 - 0.5], rtol=1e-6)


def test_9_an_ordered_dataset_breaks_sgd(answers):
    a = answers["9"]
    shuffled = a["reshuffled every epoch (fit)"]
    # against the least-squares fit's validation loss: SGD at lr 0.1, batch 32, noise 1 stays
    # within ~lr / (2 B) * d ~ 0.5 % of it on average; a random order, fixed or not, within 5 %
    floor = a["least_squares_val_loss"]
    assert shuffled["val_loss"][-1] < 1.05 * floor
    assert a["fixed random order"]["val_loss"][-1] < 1.05 * floor
    # SGD's own jitter around the least-squares fit: about sqrt(lr d sigma^2 / (2 B)) = 0.07;
    # a sorted order ends several times further off
    jitter = (0.1 * 3 * 1.0 / (2 * 32)) ** 0.5
    assert shuffled["distance_to_least_squares"] < 3 * jitter
    assert a["sorted by y"]["distance_to_least_squares"] > 3 * jitter
    assert a["sorted by the noise"]["distance_to_least_squares"] > 6 * jitter
    assert a["sorted by the noise"]["val_loss"][-1] > 1.3 * floor
    # a fixed order repeats one cycle; the distance to it shrinks by ~0.9^32 = 0.03 per epoch
    for name in ("sorted by y", "sorted by the noise"):
        last = np.array(a[name]["val_loss"][-4:])
        assert np.ptp(last) < 1e-3 * last.mean(), name
