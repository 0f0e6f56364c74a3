"""Chapter 2 section scripts (2.1, 2.2, 2.3, 2.5): every value the book prints, pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import (
    s2_1_ndarray,
    s2_2_preprocessing,
    s2_5_autodiff,
)
from experiments.runner import discover, run_section, to_jsonable

X12 = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)


def _close(actual: Any, expected: Any) -> None:
    chex.assert_trees_all_close(jnp.asarray(actual), jnp.asarray(expected), rtol=1e-6, atol=0)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ch2")


@pytest.fixture(scope="module")
def m21(out) -> dict[str, Any]:
    return s2_1_ndarray.main(out / "2.1")


@pytest.fixture(scope="module")
def m22(out) -> dict[str, Any]:
    return s2_2_preprocessing.main(out / "2.2")



@pytest.fixture(scope="module")
def m25(out) -> dict[str, Any]:
    return s2_5_autodiff.main(out / "2.5")


def test_runner_finds_the_chapter_2_sections():
    found = discover()
    for section, module in [("2.1", "s2_1_ndarray"), ("2.2", "s2_2_preprocessing"),
                            ("2.5", "s2_5_autodiff")]:
        assert found[section].module == module


@pytest.mark.parametrize("name", ["m21", "m22", "m25"])
def test_metrics_are_json_serialisable(name, request):
    json.dumps(to_jsonable(request.getfixturevalue(name)))


# --- 2.1 Data manipulation -------------------------------------------------------------------

def test_21_creation_and_shapes(m21):
    chex.assert_type(m21["arange"], jnp.float32)
    _close(m21["arange"], np.arange(12.0))
    assert m21["size"] == 12 and m21["shape"] == (12,)
    chex.assert_shape(m21["reshape_3x4"], (3, 4))
    _close(m21["reshape_3x4"], X12)
    assert m21["reshape_3x_1_equal"]
    assert m21["zeros_ones_shape"] == (2, 3, 4)
    _close(m21["zeros_sum"], 0.0)
    _close(m21["ones_sum"], 24.0)


def test_21_random_draws_follow_their_keys(m21):
    assert m21["normal_shape"] == (3, 4)
    assert m21["normal_same_key_equal"] is True
    assert m21["normal_split_keys_differ"] is True


def test_21_indexing_and_functional_updates(m21):
    _close(m21["last_row"], [8.0, 9, 10, 11])
    _close(m21["rows_1_3"], [[4.0, 5, 6, 7], [8, 9, 10, 11]])
    assert m21["item_assignment_error"].startswith("TypeError: JAX arrays are immutable")
    _close(m21["at_set_17"], X12.at[1, 2].set(17.0))
    assert float(m21["at_set_17"][1, 2]) == 17.0
    _close(m21["at_set_12"], [[12.0] * 4, [12.0] * 4, [8, 9, 10, 11]])
    assert m21["X_unchanged_by_at"] is True


def test_21_elementwise_operations(m21):
    _close(m21["exp"], np.exp(np.arange(12.0)))
    _close(m21["add"], [3.0, 4, 6, 10])
    _close(m21["sub"], [-1.0, 0, 2, 6])
    _close(m21["mul"], [2.0, 4, 8, 16])
    _close(m21["div"], [0.5, 1, 2, 4])
    _close(m21["pow"], [1.0, 4, 16, 64])


def test_21_concatenation_comparison_and_sum(m21):
    Y = jnp.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    chex.assert_shape(m21["concat_axis0"], (6, 4))
    chex.assert_shape(m21["concat_axis1"], (3, 8))
    _close(m21["concat_axis0"][3:], Y)
    _close(m21["concat_axis1"][:, 4:], Y)
    chex.assert_type(m21["X_eq_Y"], bool)
    np.testing.assert_array_equal(m21["X_eq_Y"], [[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m21["X_lt_Y"], [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m21["X_gt_Y"], [[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])
    _close(m21["X_sum"], 66.0)


def test_21_broadcasting(m21):
    _close(m21["broadcast_3x1_1x2"], [[0, 1], [1, 2], [2, 3]])
    assert m21["broadcast_1_345_shape"] == (3, 4, 5)
    assert m21["broadcast_1_345_equal"] is True


def test_21_memory_rebinding_and_donation(m21):
    assert m21["rebind_same_id"] is False
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
    assert (out / "2.2" / "house_tiny.csv").is_file()
    assert m22["columns"] == ["NumRooms", "RoofType", "Price"] and m22["rows"] == 4
    assert m22["features"] == ["NumRooms", "RoofType_Slate", "RoofType_nan"]


def test_22_arrays_float32_and_float64(m22):
    X = [[3.0, 0, 1], [2, 0, 1], [4, 1, 0], [3, 0, 1]]
    y = [127500.0, 106000, 178100, 140000]
    chex.assert_shape([m22["X"], m22["X_x64"]], (4, 3))
    chex.assert_shape([m22["y"], m22["y_x64"]], (4,))
    chex.assert_type([m22["X"], m22["y"]], jnp.float32)
    assert m22["dtype"] == "float32" and m22["dtype_x64"] == "float64"
    assert m22["X_x64"].dtype == np.float64 and m22["y_x64"].dtype == np.float64
    np.testing.assert_array_equal(m22["X"], X)
    np.testing.assert_array_equal(m22["y"], y)
    np.testing.assert_array_equal(m22["X_x64"], X)
    np.testing.assert_array_equal(m22["y_x64"], y)
    assert m22["load_tabular_matches"] is True


def test_22_metrics_json_holds_X_and_y(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = run_section(discover()["2.2"], tmp_path / "results", quick=True, seed=0)
    saved = json.loads((tmp_path / "results" / "2.2" / "metrics.json").read_text())
    assert saved["X"] == [[3.0, 0, 1], [2, 0, 1], [4, 1, 0], [3, 0, 1]] == record["X"]
    assert saved["y"] == [127500.0, 106000, 178100, 140000]
    assert not (tmp_path / "house_tiny.csv").exists()


# --- 2.3 Linear algebra ----------------------------------------------------------------------

# --- 2.5 Automatic differentiation -----------------------------------------------------------

def test_25_simple_gradients(m25):
    _close(m25["y_2xTx"], 28.0)
    chex.assert_type(m25["grad_2xTx"], jnp.float32)
    _close(m25["grad_2xTx"], [0.0, 4, 8, 12])
    assert m25["grad_2xTx_is_4x"] is True
    _close(m25["grad_sum"], [1.0, 1, 1, 1])
    assert m25["grad_2xTx_again_equal"] is True


def test_25_vjp_and_detach(m25):
    _close(m25["vjp_x_times_x"], [0.0, 2, 4, 6])
    assert m25["vjp_equals_grad_of_sum"] is True
    _close(m25["detach_grad"], [0.0, 1, 4, 9])
    assert m25["detach_grad_equals_u"] is True
    _close(m25["grad_sum_x_times_x"], [0.0, 2, 4, 6])


def test_25_control_flow(m25):
    a = np.asarray(m25["control_flow_a"])
    assert (a < 0).any() and (a > 0).any()
    grads = np.asarray(m25["control_flow_grad"])
    # Every slope is 2**n, or 100 * 2**n on the negative branch.
    slopes = np.where(a > 0, grads, grads / 100)
    np.testing.assert_array_equal(np.exp2(np.round(np.log2(slopes))), slopes)
    assert float(m25["control_flow_max_abs_err"]) == 0.0
    assert float(m25["control_flow_max_rel_err"]) == 0.0
    assert m25["jit_error"].startswith(
        "TracerBoolConversionError: Attempted boolean conversion of traced array")
    assert m25["while_loop_grad_error"].startswith(
        "ValueError: Reverse-mode differentiation does not work for lax.while_loop")
    assert float(m25["jit_grad_max_abs_diff"]) == 0.0
    assert float(m25["jit_value_max_abs_diff"]) == 0.0


def test_25_figure_written(m25, out):
    png = out / "2.5" / "f_and_grad.png"
    assert png.is_file() and png.stat().st_size > 1000
