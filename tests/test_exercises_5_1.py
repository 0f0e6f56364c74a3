"""5.1's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
import numpy as np
import pytest
from section_runs import assert_pngs, exercise_fixtures

SID = "5.1-exercises"
EPS = float(np.finfo(np.float32).eps)  # 2^-23


runs, metrics, answers = exercise_fixtures(SID)


def test_every_computed_item_has_an_answer(answers, runs):
    assert exercise_items.computed("5.1") <= set(answers)
    assert_pngs(runs[SID].out, ["swish_derivative.png", "piecewise_linear.png",
                                "vanishing_gradients.png"])


def test_1_linear_layers_collapse_and_a_bottleneck_loses_rank(answers):
    a = answers["1"]
    # float64: each output is a chain of 4 layers of sums of <= 9 terms, ~40 roundings of
    # 1.1e-16 on terms within 10x the largest output: below 1e-13, where a wrong collapse is O(1).
    assert a["collapsed_gap_float64"] < 1e-13
    # The same in float32 (u = 6e-8): below 40 * 6e-8 * 10 = 2.4e-5.
    assert a["library_float32_gap"] < 1e-4
    assert a["W_eff_shape"] == [4, 3]
    assert a["bottleneck_ranks"] == [1] * 5
    assert a["best_rank1_error"] == pytest.approx(1.0, abs=1e-12)  # Eckart-Young: sigma_2(I)
    assert min(a["bottleneck_errors"]) >= 1.0 - 1e-12


def test_2_prelu_derivatives_are_exact(answers):
    for alpha, a in answers["2"].items():
        # where(x > 0, 1, alpha) passes 1 or alpha through without rounding.
        assert a["max_gap_dx"] == 0.0 and a["max_gap_dalpha"] == 0.0
        assert a["grad_at_0"] == pytest.approx(float(alpha), rel=EPS)  # the left-hand value


def test_3_swish_derivative_matches_the_formula(answers):
    a = answers["3"]
    assert a["library_beta_1_gap"] == 0.0
    for beta in ("0.5", "1.0", "2.0", "10.0"):
        assert a[beta]["max_gap_over_tol_dx"] <= 1.0  # the notebook's reasoned allowance
        # x^2 s (1 - s) <= x^2 / 4 = 16 on [-8, 8], a few roundings (4 eps * 16), and 1 - s
        # loses eps absolutely where s ~ 1, times x^2 s <= 64: within 128 eps.
        assert a[beta]["max_gap_dbeta"] <= 128 * EPS
        assert a[beta]["grad_at_0"] == 0.5


def test_4_relu_networks_are_piecewise_linear(answers):
    for name, a in answers["4"].items():
        assert a["max_abs_second_derivative"] == 0.0, name
        assert a["pieces"] > 1, name
        changes = a["largest_change_by_spacing"]
        # Lipschitz: the largest change shrinks with the spacing (16x for 16x finer; a jump
        # would not shrink at all).
        assert changes["2^-8"] > 8 * changes["2^-12"], name
    one_layer = answers["4"]["ReLU, 1 hidden layer of 16"]
    assert one_layer["pieces"] <= one_layer["hidden_units"] + 1


def test_5_1_tanh_is_a_shifted_scaled_sigmoid(answers):
    # XLA's float32 tanh and logistic are accurate to a few ulps; both sides are <= 2.
    assert answers["5.1"]["max_gap"] <= 16 * EPS


def test_5_2_a_tanh_network_is_a_sigmoid_network(answers):
    # float64, three layers of sums of <= 9 terms: rounding far below 1e-12.
    assert answers["5.2"]["conversion_gap_float64"] < 1e-12


def test_6_batch_statistics_couple_the_examples(answers):
    a = answers["6"]
    assert np.max(np.abs(np.subtract(a["output_0_batch_1"], a["output_0_batch_2"]))) > 1e-2
    assert a["output_alone_equals_bias"] is True
    assert a["max_abs_d_out0_d_x1"] > 1e-3


def test_7_sigmoid_gradients_vanish(answers):
    a = answers["7"]
    assert a["sigmoid_grad"]["0.0"] == 0.25
    assert a["sigmoid_grad"]["10.0"] == pytest.approx(4.5396e-5, rel=1e-3)
    assert a["chain_within_bound"] is True
    chain = np.asarray(a["chain_grads"])
    assert chain[0] == 0.25 and np.all(np.diff(chain) < 0)
    assert a["sigmoid_first_over_last"] < 1e-4 < 0.1 < a["relu_first_over_last"]
