"""Sections 2.3 and 3.1 run as plain scripts (no kernel): every value the book prints, pinned.

Each runs as `python experiments/<script>.py --out DIR ...` from another folder, which also
checks that a script honours its own command line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from section_runs import SectionRun, running


def _close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=1e-6, atol=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both sections, started together."""
    started = {"2.3": SectionRun("2.3", tmp_path_factory.mktemp("s23") / "out", "--seed", "4"),
               "3.1": SectionRun("3.1", tmp_path_factory.mktemp("s31") / "out", "--quick")}
    yield from running(started)


@pytest.fixture(scope="module")
def m23(runs) -> dict[str, Any]:
    return runs["2.3"].metrics()


@pytest.fixture(scope="module")
def m31(runs) -> dict[str, Any]:
    return runs["3.1"].metrics()


# --- 2.3 Linear algebra ----------------------------------------------------------------------

def test_23_records_the_command_line(m23):
    assert m23["_run"]["seed"] == 4 and m23["_run"]["quick"] is False


def test_23_scalars_vectors_matrices(m23):
    _close(m23["scalar_ops"], [5.0, 6, 1.5, 9])
    assert m23["vector"] == [0, 1, 2] and m23["vector_2"] == 2
    assert m23["vector_len"] == 3 and m23["vector_shape"] == [3]
    assert m23["A"] == [[0, 1], [2, 3], [4, 5]] and m23["A_T"] == [[0, 2, 4], [1, 3, 5]]
    assert m23["B_symmetric"] is True
    assert m23["tensor_shape"] == [2, 3, 4]


def test_23_tensor_arithmetic(m23):
    assert m23["copy_new_buffer"] is True
    _close(m23["A_plus_B"], [[0.0, 2, 4], [6, 8, 10]])
    _close(m23["hadamard"], [[0.0, 1, 4], [9, 16, 25]])
    assert m23["scalar_plus_tensor"] == np.arange(2, 26).reshape(2, 3, 4).tolist()
    assert m23["scalar_times_tensor_shape"] == [2, 3, 4]


def test_23_reductions(m23):
    _close(m23["x_sum"], 3.0)
    _close(m23["A_sum"], 15.0)
    _close(m23["A_sum_axis0"], [3.0, 5, 7])
    assert m23["A_sum_axis0_shape"] == [3]
    _close(m23["A_sum_axis1"], [3.0, 12])
    assert m23["A_sum_axis1_shape"] == [2]
    _close(m23["A_sum_axis01"], 15.0)
    _close([m23["A_mean"], m23["A_mean_by_sum"]], [2.5, 2.5])
    _close([m23["A_mean_axis0"], m23["A_mean_axis0_by_sum"]], [[1.5, 2.5, 3.5]] * 2)


def test_23_keepdims_and_cumsum(m23):
    _close(m23["sum_A_keepdims"], [[3.0], [12.0]])
    assert m23["sum_A_keepdims_shape"] == [2, 1]
    _close(m23["A_div_sum_A"], [[0.0, 1 / 3, 2 / 3], [3 / 12, 4 / 12, 5 / 12]])
    _close(m23["A_cumsum_axis0"], [[0.0, 1, 2], [3, 5, 7]])


def test_23_products_and_norms(m23):
    _close([m23["dot"], m23["dot_by_sum"]], [3.0, 3.0])
    _close([m23["matvec"], m23["matvec_by_matmul"]], [[5.0, 14]] * 2)
    _close(m23["matmul"], [[3.0] * 4, [12.0] * 4])
    _close([m23["l2"], m23["l1"], m23["frobenius"]], [5.0, 7.0, 6.0])


# --- 3.1 Linear regression: vectorization and the normal distribution ------------------------

def test_31_quick_loop_is_slower_than_one_vectorized_add(m31):
    assert m31["n"] == 1000 and m31["_run"]["quick"] is True and m31["_run"]["seed"] == 0
    assert m31["loop_s"] > m31["vectorized_s"] > 0 and m31["jit_s"] > 0
    _close(m31["loop_over_vectorized"], m31["loop_s"] / m31["vectorized_s"])


def test_31_normal_peaks(m31):
    # 1 / sqrt(2 pi sigma^2) for sigma 1, 2, 1: the grid holds x = mu to float32 precision, so
    # only the float32 rounding of the density (a few epsilon) separates them.
    _close(m31["normal_pdf_max"], [1 / np.sqrt(2 * np.pi), 1 / np.sqrt(8 * np.pi),
                                   1 / np.sqrt(2 * np.pi)])
