"""2.5's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import math

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures, pngs

EPS32 = float(np.finfo(np.float32).eps)
SID = "2.5-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers, runs):
    assert exercise_items.computed("2.5") <= set(answers)
    assert pngs(runs[SID].finished()) == {"sin_and_derivative.png", "dependency_graph.png"}


def test_1_hessian_costs_about_n_gradients(answers):
    rows = answers["1"]["flops"]
    assert [row["n"] for row in rows] == [16, 64, 128]
    for row in rows:
        assert 1.5 < row["grad"] / row["f"] < 3  # "about twice f"
    # The Hessian / gradient ratio grows like n: between half and twice proportional.
    for small, large in zip(rows, rows[1:], strict=False):
        growth = large["hessian_over_grad"] / small["hessian_over_grad"]
        assert 0.5 * large["n"] / small["n"] < growth < 2 * large["n"] / small["n"]
    lengths = answers["1"]["program_lengths"]
    assert lengths["f"] < lengths["grad"] < lengths["hessian"]


def test_2_gradients_twice_are_equal_and_never_accumulate(answers):
    got = answers["2"]
    assert got["grad_first"] == [0.0, 4.0, 8.0, 12.0]  # 4x, exact in float32
    assert got["grad_twice_equal"] is True
    assert got["pullback_twice_equal"] is True and got["pullback_equals_grad"] is True
    assert got["accumulated"] == [0.0, 8.0, 16.0, 24.0]


def test_3_vector_input_gives_a_jacobian_k_times_identity(answers):
    got = answers["3"]
    assert got["nonscalar_error"].startswith(
        "TypeError: Gradient only defined for scalar-output functions")
    # k is 2^n for a positive sum, 100 * 2^n for a negative one ...
    assert any(math.log2(got["k"] / c).is_integer() for c in (1, 100))
    assert got["jacobian_is_k_identity"] is True
    assert got["vjp_ones"] == [got["k"]] * 4
    assert got["vjp_ones_equals_grad_of_sum"] is True
    assert got["matrix_jacobian_shape"] == [2, 3, 2, 3]
    assert got["matrix_jacobian_is_k_identity"] is True
    # ... and -a doubles as often but takes the other branch: 100 times the slope, or 1/100.
    slopes = got["slopes_by_sign"]
    assert 100 * slopes["+a"] == slopes["-a"] or slopes["+a"] == 100 * slopes["-a"]


def test_4_autodiff_derivative_of_sin_is_cos(answers):
    got = answers["4"]
    # cos within [-1, 1] from two XLA kernels, each within an ulp or two: 4 eps.
    assert got["max_abs_error_vs_cos"] <= 4 * EPS32
    assert got["derivative_at_0"] == pytest.approx(1.0, abs=4 * EPS32)
    assert got["derivative_at_pi"] == pytest.approx(-1.0, abs=4 * EPS32)


def test_5_the_traced_graph_has_the_six_operations(answers):
    assert sorted(answers["5"]["primitives"]) == sorted(
        ["integer_pow", "log", "sin", "mul", "integer_pow", "add"])


def test_6_chain_rule_matches_jax_grad(answers):
    # Each of the three terms takes at most 4 roundings (sin or log, cos, products, quotient)
    # in each computation; 8 eps of the sum of their magnitudes bounds the difference.
    assert answers["6"]["max_scaled_error_eps"] <= 8
    assert len(answers["6"]["chain_rule"]) == len(answers["6"]["x"]) == 6


def test_7_forward_and_backward_sweeps_agree(answers):
    got = answers["7"]
    x = got["x"]
    terms = [2 * math.sin(x) / x, math.log(x * x) * math.cos(x), -1 / x**2]
    exact = sum(terms)
    # The terms (0.91, -0.58, -0.25) cancel to 0.082: bound by 8 eps of their magnitudes.
    tol = 8 * EPS32 * sum(abs(t) for t in terms)
    for name in ["forward", "backward", "jvp", "vjp", "formula"]:
        assert got[name] == pytest.approx(exact, abs=tol), name
    assert got["forward_tangents"]["u1"] == 2 * x and got["backward_adjoints"]["f"] == 1


def test_8_forward_for_few_inputs_reverse_for_few_outputs(answers):
    got = answers["8"]
    n = got["width"]
    modes = got["modes"]
    # "about n/2 times": between n/4 and n.
    for ratio in got["flop_ratios"].values():
        assert n / 4 < ratio < n
    assert modes["loss R^n -> R, jacrev"]["flops"] < modes["loss R^n -> R, jacfwd"]["flops"]
    assert modes["curve R -> R^n, jacfwd"]["flops"] < modes["curve R -> R^n, jacrev"]["flops"]
    # Reverse mode keeps about one activation per layer; forward mode does not grow with depth.
    temp = got["temp_bytes"]
    assert temp["reverse (grad)"] >= got["depth"] * got["activation_bytes"]
    assert temp["forward (jvp)"] < temp["reverse (grad)"]
