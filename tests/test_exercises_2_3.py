"""2.3's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
import numpy as np
import pytest
from section_runs import exercise_fixtures

EPS32 = float(np.finfo(np.float32).eps)
SID = "2.3-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers):
    assert exercise_items.computed("2.3") <= set(answers)


def test_1_to_3_transpose_identities_hold_exactly(answers):
    # Transposes move entries and a + b == b + a in floats: all three hold bit for bit.
    assert answers["1"] == {"equal": True, "shape": [3, 5]}
    assert answers["2"]["equal"] is True
    assert answers["3"]["symmetric"] is True
    assert "(3, 5), (5, 3)" in answers["3"]["non_square_error"]


def test_4_and_5_len_is_the_first_axis(answers):
    assert answers["4"] == {"len": 2, "shape": [2, 3, 4]}
    assert answers["5"]["lengths"] == {"(5,)": 5, "(2, 3)": 2, "(4, 1, 2)": 4, "(0, 3)": 0,
                                       "(1, 7, 2, 2)": 1}
    assert answers["5"]["always_first_axis"] is True
    assert answers["5"]["scalar_error"] == "TypeError: len() of unsized object"


def test_6_dividing_by_row_sums_needs_keepdims(answers):
    got = answers["6"]
    assert "(2, 3), (2,)" in got["error"]
    # Each row sum adds 3 quotients, each within half an ulp: within 3 eps of 1.
    np.testing.assert_allclose(got["keepdims_row_sums"], [1, 1], rtol=0, atol=3 * EPS32)
    np.testing.assert_allclose(got["square_keepdims_row_sums"], [1, 1, 1], rtol=0,
                               atol=3 * EPS32)
    # The silent square case divides column j by row sum j: [[1,2,3],[4,5,6],[7,8,9]] / [6,15,24].
    A3 = np.arange(1.0, 10.0).reshape(3, 3)
    expected = (A3 / A3.sum(axis=1)).sum(axis=1)
    np.testing.assert_allclose(got["square_silent_row_sums"], expected, rtol=3 * EPS32)
    assert not np.allclose(got["square_silent_row_sums"], 1)


def test_7_manhattan_distance_is_the_l1_norm(answers):
    assert answers["7"] == {"l1": 7.0, "l2": 5.0}


def test_8_sum_shapes(answers):
    assert answers["8"]["sum_shapes"] == {"0": [3, 4], "1": [2, 4], "2": [2, 3]}
    assert answers["8"]["keepdims_shapes"] == {"0": [1, 3, 4], "1": [2, 1, 4], "2": [2, 3, 1]}


def test_9_norm_of_many_axes_is_the_flattened_l2_norm(answers):
    got = answers["9"]
    # Two float32 sums of n positive squares in possibly different orders: each within
    # (n - 1) eps relative (no cancellation), the sqrt halves that; n = 120 at most.
    for diff in got["relative_differences"]:
        assert diff <= 119 * EPS32 / 2 + EPS32
    np.testing.assert_allclose(got["per_matrix_norm"], got["per_matrix_by_hand"],
                               rtol=11 * EPS32 / 2 + EPS32)
    assert got["ord_error"].startswith("ValueError: Improper number of axes for norm")


def test_10_chain_order_changes_flops_and_memory(answers):
    got = answers["10"]
    m, n, k, p = got["book_sizes"]
    assert (m, n, k, p) == (2**10, 2**16, 2**5, 2**14)
    assert got["book_flops"] == {"(AB)C": 2 * m * n * k + 2 * m * k * p,
                                 "A(BC)": 2 * n * k * p + 2 * m * n * p}
    # XLA counts 2 FLOPs per multiply-add of each dot, as the formula does.
    assert got["book_xla_flops"] == pytest.approx(got["book_flops"], rel=1e-9)
    assert got["multi_dot_flops"] == pytest.approx(got["book_flops"]["(AB)C"], rel=1e-9)
    assert got["book_flops"]["A(BC)"] / got["book_flops"]["(AB)C"] == pytest.approx(422.4,
                                                                                  abs=0.1)
    # The intermediates, float32: AB is m x k (128 KiB), BC is n x p (4 GiB).
    assert got["book_intermediate_mib"]["(AB)C"] == pytest.approx(m * k * 4 / 2**20, rel=0.1)
    assert got["book_intermediate_mib"]["A(BC)"] >= n * p * 4 / 2**20
    assert got["timed_sizes"] == [2**10, 2**12, 2**5, 2**9]  # quick mode's sizes
    assert got["timed_flops"]["A(BC)"] > 10 * got["timed_flops"]["(AB)C"]
    assert got["timed_intermediate_mib"]["A(BC)"] > got["timed_intermediate_mib"]["(AB)C"]
    # Each entry sums n k products in float32 (pairwise or blocked): its rounding error is
    # within log2(nk) eps of the sum of |terms|, which for random signs is about sqrt(nk)
    # times the largest entry's scale.
    nk = got["timed_sizes"][1] * got["timed_sizes"][2]
    assert got["max_rel_diff"] <= np.log2(nk) * np.sqrt(nk) * EPS32


def test_11_xla_transposes_nothing(answers):
    got = answers["11"]
    assert got["transpose_in_hlo"] is False  # A @ C.T is one dot contracting both axes 1
    assert got["transpose_view_copies"] is True  # an eager B.T is a new buffer
    assert got["double_transpose_in_hlo"] is False
    assert got["double_transpose_same_product"] is True


def test_12_stacking_along_the_third_axis(answers):
    assert answers["12"] == {"shape": [100, 200, 3], "size": 60000, "recovered_equal": True,
                             "axis0_shape": [3, 100, 200]}
