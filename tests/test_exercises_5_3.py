"""5.3's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
from section_runs import assert_pngs, exercise_fixtures

SID = "5.3-exercises"
# float64 checks of two exact formulas: sums of at most ~800 terms, so rounding stays below
# 800 * 1.1e-16 = 1e-13 of the terms' magnitude; 1e-12 leaves room for cancellation, while a
# wrong formula is off by O(1).
FLOAT64_TOL = 1e-12


runs, metrics, answers = exercise_fixtures(SID)


def test_every_computed_item_has_an_answer(answers, runs):
    assert exercise_items.computed("5.3") <= set(answers)
    assert_pngs(runs[SID].out, ["graph_with_bias.png"])


def test_1_the_gradient_has_the_shape_of_x(answers):
    a = answers["1"]
    assert a["shapes"] == {
        "grad of tr(A^T X)": [4, 3], "jacobian of tr(A^T X)": [4, 3],
        "jacobian of X -> (sum X, sum X^2) (k = 2)": [2, 4, 3],
        "grad of the section's J in X (8 x 5)": [8, 5]}
    assert a["trace_grad_gap"] <= 1e-15  # A itself, at most a rounding of |a_ij| < 5


def test_2_1_the_bias_enters_between_the_product_and_tanh(answers):
    assert answers["2.1"]["bias_path"] == ["broadcast_in_dim", "add", "tanh"]


def test_2_2_the_derived_backward_pass_equals_jax_grad(answers):
    a = answers["2.2"]
    assert a["gap_vs_jax_grad"] < FLOAT64_TOL
    assert a["gap_vs_section_b1_zero"] < FLOAT64_TOL
    assert a["shapes"] == {"W1": [16, 20], "b1": [16], "W2": [5, 16]}


def test_3_training_needs_more_memory_than_prediction(answers):
    a = answers["3"]
    n, d, h, q = 256, 784, 256, 10
    assert a["bytes"]["W1 (h x d)"] == 4 * h * d and a["bytes"]["X (n x d)"] == 4 * n * d
    assert a["prediction_peak"] == 4 * (h * d + q * h + n * d + n * h)
    # weights and their gradients, X, H and dJ/dH (dJ/dZ overwrites it), P and dJ/dO, labels
    assert a["training_total"] == 4 * (2 * (h * d + q * h) + n * d + 2 * n * h + 2 * n * q + n)
    assert a["training_total"] > a["prediction_peak"]
    xla = a["xla"]
    assert xla["training step"]["outputs"] >= 4 * (h * d + q * h)  # the gradient
    assert xla["training step"]["total"] > xla["prediction"]["total"]


def test_4_hessian_vector_products_and_the_hessian(answers):
    a = answers["4"]
    assert a["parameters"] == 10 * 12 + 4 * 10 and a["hessian_shape"] == [160, 160]
    assert a["hvp_vs_hessian_gap"] < FLOAT64_TOL and a["hessian_asymmetry"] < FLOAT64_TOL
    assert a["J"]["operations"] < a["grad J"]["operations"] < a["Hv"]["operations"]


def test_5_2_accumulation_and_rematerialisation(answers):
    a = answers["5.2"]
    assert a["accumulation_gap"] < FLOAT64_TOL
    assert a["kept_bytes"]["256"] == 4 * a["kept_bytes"]["64"]
    assert a["remat"]["plain"]["stored_arrays"] >= 16  # two per hidden layer, 8 layers
    assert a["remat"]["jax.checkpoint"]["stored_bytes"] == 0
    # One more forward pass on top of forward + backward (about 2x forward): about 4/3.
    assert 1.1 < a["remat_flop_ratio"] < 1.6
