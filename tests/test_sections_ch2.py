"""Sections 2.1, 2.2 and 2.5 run as plain scripts (no kernel): every value the book prints, pinned.

Each runs as `python experiments/<script>.py --out DIR --quick` from another folder, so these
tests also check that a section writes nothing outside its own --out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from section_runs import SectionRun, running

from experiments import runner as experiments_runner

X12 = np.arange(12.0).reshape(3, 4)
Y0 = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
F32_EPS = float(np.finfo(np.float32).eps)


def _close(actual: Any, expected: Any, rtol: float = 1e-6) -> None:
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ch2")


@pytest.fixture(scope="module")
def runs(out):
    """The three sections, started together."""
    started = {"2.1": SectionRun("2.1", out / "2.1" / "out", "--quick", "--seed", "3"),
               "2.2": SectionRun("2.2", out / "2.2" / "out", "--quick"),
               "2.5": SectionRun("2.5", out / "2.5" / "out", "--quick")}
    yield from running(started)


@pytest.fixture(scope="module")
def m21(runs) -> dict[str, Any]:
    return runs["2.1"].metrics()


@pytest.fixture(scope="module")
def m22(runs) -> dict[str, Any]:
    return runs["2.2"].metrics()


@pytest.fixture(scope="module")
def m25(runs) -> dict[str, Any]:
    return runs["2.5"].metrics()


def test_runner_finds_the_chapter_2_sections_as_notebooks():
    found = experiments_runner.discover()
    for sid, module in [("2.1", "s2_1_ndarray"), ("2.2", "s2_2_preprocessing"),
                        ("2.5", "s2_5_autodiff")]:
        assert found[sid].module == module


# --- 2.1 Data manipulation -------------------------------------------------------------------

def test_21_records_the_command_line(m21):
    assert m21["_run"]["seed"] == 3 and m21["_run"]["quick"] is True


def test_21_creation_and_shapes(m21):
    _close(m21["arange"], np.arange(12.0))
    assert m21["size"] == 12 and m21["shape"] == [12]
    _close(m21["reshape_3x4"], X12)
    assert m21["reshape_3x_1_equal"] is True
    assert m21["zeros_ones_shape"] == [2, 3, 4]
    _close([m21["zeros_sum"], m21["ones_sum"]], [0.0, 24.0])
    assert m21["from_list"] == Y0.astype(int).tolist()


def test_21_random_draws_follow_their_keys(m21):
    assert m21["normal_shape"] == [3, 4]
    assert m21["normal_same_key_equal"] is True
    assert m21["normal_split_keys_differ"] is True


def test_21_indexing_and_functional_updates(m21):
    _close(m21["last_row"], [8.0, 9, 10, 11])
    _close(m21["rows_1_3"], [[4.0, 5, 6, 7], [8, 9, 10, 11]])
    assert m21["item_assignment_error"].startswith("TypeError: JAX arrays are immutable")
    written = X12.copy()
    written[1, 2] = 17
    _close(m21["at_set_17"], written)
    assert m21["X_unchanged_by_at"] is True
    _close(m21["at_set_12"], [[12.0] * 4, [12.0] * 4, [8, 9, 10, 11]])


def test_21_exp_of_the_untouched_x_and_of_what_torch_x_held(m21):
    # XLA's float32 exp is within a few ulp (eps = 1.2e-7) of the exact value: rtol 1e-6 is
    # about 8 ulp, and a wrong element misses by far more.
    _close(m21["exp"], np.exp(np.arange(12.0)))
    # The reference's printout: PyTorch's x after the writes through its view X.
    reference = [162754.7969] * 8 + [2980.9580, 8103.0840, 22026.4648, 59874.1406]
    _close(m21["exp_of_written_X"], np.exp([12.0] * 8 + [8, 9, 10, 11]))
    _close(m21["exp_of_written_X"], reference)  # 4 printed decimals: within rtol 1e-6 too


def test_21_elementwise_operations(m21):
    _close(m21["add"], [3.0, 4, 6, 10])
    _close(m21["sub"], [-1.0, 0, 2, 6])
    _close(m21["mul"], [2.0, 4, 8, 16])
    _close(m21["div"], [0.5, 1, 2, 4])
    _close(m21["pow"], [1.0, 4, 16, 64])


def test_21_concatenation_comparison_and_sum(m21):
    _close(m21["concat_axis0"], np.concatenate([X12, Y0], axis=0))
    _close(m21["concat_axis1"], np.concatenate([X12, Y0], axis=1))
    assert m21["X_eq_Y"] == (X12 == Y0).tolist()
    _close(m21["X_sum"], 66.0)


def test_21_comparisons_after_the_rebinding_match_the_reference(m21):
    # After Y = Y + X and X += Y: X = 2 X0 + Y0 and Y = X0 + Y0, as in the reference.
    assert m21["X_lt_Y"] == [[False] * 4] * 3
    assert m21["X_gt_Y"] == [[False, True, True, True], [True] * 4, [True] * 4]


def test_21_broadcasting(m21):
    assert m21["broadcast_3x1_1x2"] == [[0, 1], [1, 2], [2, 3]]
    assert m21["broadcast_1_345_shape"] == [3, 4, 5]
    assert m21["broadcast_1_345_equal"] is True
    _close(m21["a_plus_c"], np.arange(60).reshape(3, 4, 5) + 3.5)


def test_21_memory_rebinding_and_donation(m21):
    assert m21["rebind_same_id"] is False
    assert m21["at_set_same_id"] is False  # Z.at[:].set(...) is a new array
    assert m21["augmented_same_id"] is False  # no in-place add: += rebinds too
    # Observed on XLA:CPU with jax 0.10.2: the donation is honoured, the output takes over
    # the donated buffer, and touching the donated array raises.
    assert m21["donated_input_deleted"] is True
    assert m21["donated_buffer_reused"] is True
    assert m21["donated_result_correct"] is True
    assert m21["donated_access_error"] == (
        "RuntimeError: Array has been deleted with shape=float32[3,4].")
    # A donation no output can alias is refused with a warning; the input stays alive.
    assert m21["unusable_donation_warning"] == (
        "Some donated buffers were not usable: float32[3,4].")
    assert m21["unusable_donation_input_deleted"] is False
    _close(m21["unusable_donation_result"], 12.0)


def test_21_conversions(m21):
    assert m21["numpy_is_ndarray"] is True
    assert m21["numpy_writeable"] is False
    assert m21["jax_is_array"] is True
    assert m21["numpy_round_trip_equal"] is True
    assert m21["item"] == 3.5 and m21["float"] == 3.5 and m21["int"] == 3
    assert m21["float_of_1d_error"].startswith(
        "TypeError: Only scalar arrays can be converted to Python scalars")


# --- 2.2 Data preprocessing ------------------------------------------------------------------

def test_22_csv_written_into_out_dir(m22, out):
    assert (out / "2.2" / "out" / "house_tiny.csv").is_file()
    assert m22["columns"] == ["NumRooms", "RoofType", "Price"] and m22["rows"] == 4
    assert m22["features"] == ["NumRooms", "RoofType_Slate", "RoofType_nan"]


def test_22_the_three_tables_are_the_references(m22):
    assert m22["data"] == {"NumRooms": [None, 2.0, 4.0, None],
                           "RoofType": [None, None, "Slate", None],
                           "Price": [127500, 106000, 178100, 140000]}
    indicators = {"RoofType_Slate": [False, False, True, False],
                  "RoofType_nan": [True, True, False, True]}
    assert m22["dummies"] == {"NumRooms": [None, 2.0, 4.0, None], **indicators}
    assert m22["filled"] == {"NumRooms": [3.0, 2.0, 4.0, 3.0], **indicators}
    assert m22["preprocess_inputs_matches"] is True


def test_22_arrays_float32_and_float64(m22):
    X = [[3.0, 0, 1], [2, 0, 1], [4, 1, 0], [3, 0, 1]]
    y = [127500.0, 106000, 178100, 140000]
    assert m22["dtype"] == "float32" and m22["dtype_x64"] == "float64"
    assert m22["X"] == X == m22["X_x64"]
    assert m22["y"] == y == m22["y_x64"]
    assert m22["load_tabular_matches"] is True


# --- 2.5 Automatic differentiation -----------------------------------------------------------

def test_25_simple_gradients(m25):
    _close(m25["y_2xTx"], 28.0)
    _close(m25["grad_2xTx"], [0.0, 4, 8, 12])
    assert m25["grad_2xTx_is_4x"] is True
    _close(m25["grad_sum"], [1.0, 1, 1, 1])
    assert m25["grad_2xTx_again_equal"] is True


def test_25_non_scalar_vjp_and_detach(m25):
    assert m25["grad_nonscalar_error"].startswith(
        "TypeError: Gradient only defined for scalar-output functions")
    _close(m25["vjp_x_times_x"], [0.0, 2, 4, 6])
    assert m25["vjp_equals_grad_of_sum"] is True
    _close(m25["detach_grad"], [0.0, 1, 4, 9])
    assert m25["detach_grad_equals_u"] is True
    _close(m25["grad_sum_x_times_x"], [0.0, 2, 4, 6])


def _slopes_are_powers_of_two(a: np.ndarray, grads: np.ndarray) -> None:
    """Every slope of the book's f is 2**n, or 100 * 2**n on the negative branch."""
    slopes = np.where(a > 0, grads, grads / 100)
    np.testing.assert_array_equal(np.exp2(np.round(np.log2(slopes))), slopes)


def test_25_control_flow(m25):
    _slopes_are_powers_of_two(np.array([m25["a"]]), np.array([m25["grad_a"]]))
    a = np.asarray(m25["control_flow_a"])
    assert len(a) == 8 and (a < 0).any() and (a > 0).any()
    _slopes_are_powers_of_two(a, np.asarray(m25["control_flow_grad"]))
    # f(a) / a rounds twice (100 * b, then / a) for a negative a, each within 2**-24: the
    # exact slope and the ratio differ by at most about eps, never by a factor.
    assert float(m25["control_flow_max_rel_err"]) <= 2 * F32_EPS
    _close(m25["d"] / m25["a"], m25["grad_a"], rtol=2 * F32_EPS)
    assert m25["jit_error"].startswith(
        "TracerBoolConversionError: Attempted boolean conversion of traced array")
    assert m25["while_loop_grad_error"].startswith(
        "ValueError: Reverse-mode differentiation does not work for lax.while_loop")
    # The jittable twin does the same float32 operations as the book's f: bit for bit.
    assert float(m25["jit_grad_max_abs_diff"]) == 0.0
    assert float(m25["jit_value_max_abs_diff"]) == 0.0


def test_25_figure_written(out, m25):
    png = out / "2.5" / "out" / "f_and_grad.png"
    assert png.is_file() and png.stat().st_size > 1000
