"""Sections 5.1, 5.2, 5.3 and the sweep run as plain scripts (no kernel): their values pinned.

Each runs as `python experiments/<script>.py --out DIR --quick ...` in a fresh Python from
another folder, and the tests read its metrics.json. 5.2 and the sweep train on FashionMNIST
and skip without it; 5.2's full run (the book's 10 epochs on all 60,000 images) is `slow`.
Replaces tests/test_ch4_5_sections.py's 5.1, 5.2 and 5.3 checks (test_5_1_derivatives,
test_5_3_backprop, the 5.1/5.3/5.2 cases of test_quick_sections_write_metrics_and_figures and
test_quick_fashion_sections, test_mlps_reach_book_accuracy) and tests/test_sweep.py's
test_sweep_section_quick_through_the_runner.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import numpy as np
import pytest
from section_runs import (
    SectionRun,
    have_fashion_mnist,
    needs_data,
    pngs,
    read_metrics,
    run_section,
    running,
)

from jaxhw import checkpoint

U32 = 2.0**-24  # float32's unit roundoff


def assert_exact_pngs(out: Path, names: list[str]) -> None:
    assert pngs(out) == set(names)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """The four sections, started together (5.2 and the sweep when FashionMNIST is there)."""
    base = tmp_path_factory.mktemp("ch5")
    started = {"5.1": SectionRun("5.1", base / "s51" / "out", "--quick"),
               "5.3": SectionRun("5.3", base / "s53" / "out", "--quick", "--seed", "3")}
    if have_fashion_mnist():
        data_dir = request.getfixturevalue("real_data_dir")
        started["5.2"] = SectionRun("5.2", base / "s52" / "out", "--quick", data_dir=data_dir)
        started["sweep"] = SectionRun("sweep", base / "sweep" / "out", "--quick",
                                      "--checkpoint-dir", str(base / "sweep" / "ckpt"),
                                      data_dir=data_dir)
    yield from running(started)


@pytest.fixture(scope="module")
def out51(runs) -> Path:
    return runs["5.1"].finished()


@pytest.fixture(scope="module")
def out53(runs) -> Path:
    return runs["5.3"].finished()


@pytest.fixture(scope="module")
def fashion_runs(runs) -> dict[str, Path]:
    return {"5.2": runs["5.2"].finished(), "sweep": runs["sweep"].finished(),
            "sweep_ckpt": runs["sweep"].out.parent / "ckpt"}


@pytest.fixture(scope="module")
def out52(fashion_runs) -> Path:
    return fashion_runs["5.2"]


@pytest.fixture(scope="module")
def sweep_run(fashion_runs) -> tuple[Path, Path]:
    return fashion_runs["sweep"], fashion_runs["sweep_ckpt"]


# --- 5.1 Activation functions ----------------------------------------------------------------

ACTIVATIONS = ("relu", "sigmoid", "tanh", "swish", "prelu")


def test_51_figures_as_the_reference_and_beyond(out51):
    assert_exact_pngs(out51, [f"{name}{kind}.png" for name in ACTIVATIONS
                              for kind in ("", "_grad")])
    m = read_metrics(out51)
    assert m["_run"]["quick"] is True and m["x_shape"] == [160] and m["alpha"] == 0.2


def test_51_autodiff_equals_the_closed_forms(out51):
    m = read_metrics(out51)
    assert set(m["max_grad_error"]) == set(ACTIVATIONS)
    # Derivatives of at most ~1.1 in float32, by two routes of a handful of operations each: a
    # few units of float32's epsilon (1.2e-7) apart at most.
    assert max(m["max_grad_error"].values()) <= 8 * 2 * U32


def test_51_derivatives_at_zero_are_the_books(out51):
    assert read_metrics(out51)["grad_at_0"] == pytest.approx(
        {"relu": 0.0, "sigmoid": 0.25, "tanh": 1.0, "swish": 0.5, "prelu": 0.2}, rel=1e-7)


# --- 5.3 Forward and backward propagation ----------------------------------------------------

def test_53_forward_starts_near_log_q(out53):
    m = read_metrics(out53)
    assert m["_run"]["seed"] == 3 and m["sizes"] == {"n": 16, "d": 8, "h": 6, "q": 3}
    # N(0, 0.01^2) weights: logits of order 1e-3, so P is uniform to ~1e-3 and the penalty
    # ~1e-5; J = log 3 up to that.
    assert m["J"] == pytest.approx(math.log(3), abs=1e-2)
    assert_exact_pngs(out53, ["hand_vs_jax_grad.png"])


def test_53_hand_gradients_equal_jax_grad_within_rounding(out53):
    m = read_metrics(out53)
    # The section reports max |hand - jax.grad| / (2 * rounding_bound): two correct float32
    # computations are within twice the worst-case bound of each other (tests/test_backprop.py
    # checks the bound itself).
    assert set(m["grad_diff_over_rounding_bound"]) == {"W1", "W2"}
    assert max(m["grad_diff_over_rounding_bound"].values()) <= 1.0
    assert set(m["max_abs_grad_diff_per_param"]) == {"W1", "W2"}


def test_53_finite_differences_in_float64(out53):
    m = read_metrics(out53)
    # float64 central differences with eps = 1e-6: truncation eps^2 |J'''| / 6 plus rounding
    # 1.1e-16 |J| / eps, ~1e-10 against a directional derivative of ~1e-2; a wrong formula is
    # off by the derivative's own size.
    assert m["fd_rel_gap"] < 1e-6
    assert m["fd_directional"] == pytest.approx(m["hand_directional"], rel=1e-6)


def test_53_residuals_hand_keeps_less_than_jax(out53):
    m = read_metrics(out53)
    assert sorted(line.split()[0] for line in m["hand_residuals"]) == sorted(
        ["f32[16,8]", "i32[16]", "f32[6,8]", "f32[3,6]", "f32[16,6]", "f32[16,3]"])
    assert any("tanh" in line for line in m["hand_residuals"])
    assert any("tanh" in line for line in m["jax_residuals"])
    # 4 bytes per element of the six arrays above.
    assert m["hand_residual_bytes"] == 4 * (16 * 8 + 16 + 6 * 8 + 3 * 6 + 16 * 6 + 16 * 3)
    assert m["hand_residual_bytes"] < m["jax_residual_bytes"]


# --- 5.2 MLPs on FashionMNIST ----------------------------------------------------------------

@needs_data
def test_52_quick_trains_all_three_mlps(out52):
    m = read_metrics(out52)
    assert (m["epochs"], m["num_train"], m["num_val"]) == (2, 10000, 2000)
    assert_exact_pngs(out52, ["scratch.png", "concise.png", "deeper.png"])
    assert set(m["epoch_seconds"]) == {"scratch", "concise", "deeper"}
    assert all(s > 0 for s in m["epoch_seconds"].values())
    # quick: the N(0, 0.01) scratch MLP starts slower than Flax's LeCun-normal init
    assert m["scratch_val_acc"] > 0.45 and m["concise_val_acc"] > 0.6
    for name in ("scratch", "concise", "deeper"):
        per_epoch = m[f"{name}_val_acc_per_epoch"]
        assert len(per_epoch) == 2 and per_epoch[-1] == m[f"{name}_val_acc"]
        assert 0 <= m[f"{name}_val_acc"] <= 1 and m[f"{name}_val_loss"] > 0


@needs_data
@pytest.mark.slow
def test_52_mlps_reach_book_accuracy(tmp_path, real_data_dir):
    m = run_section("5.2", tmp_path / "out", "--no-deeper", data_dir=real_data_dir)
    assert m["epochs"] == 10 and m["num_train"] == 60000
    assert m["scratch_val_acc"] >= 0.84
    assert m["concise_val_acc"] >= 0.84


# --- Beyond the book: the sweep --------------------------------------------------------------

@needs_data
def test_sweep_rate_grid_in_one_call_equals_the_lone_fit(sweep_run):
    out, _ = sweep_run
    m = read_metrics(out)
    lrs = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert m["lrs"] == lrs and len(m["val_acc"]) == len(m["val_loss"]) == len(lrs)
    # The stacked model at lr 0.1 and the lone fit do the same SGD steps; only the float32
    # rounding of the batched products may differ. Each of the 2 * ceil(6000 / 256) = 48 steps
    # changes a weight by lr times a mean of 256 terms |x (p - y)| <= 1, whose rounding in any
    # order is within 256 u: so at most 48 * 0.1 * 2 * 256 u apart, far below what another
    # rate or batch order gives (1e-2).
    assert m["max_abs_diff_vs_single"] <= 48 * 0.1 * 2 * 256 * U32
    i = lrs.index(0.1)
    assert abs(m["val_acc"][i] - m["single_val_acc"]) <= 1 / 2000  # one example of 2000 at most
    # 10 times smaller steps from the same start end behind after 48 steps.
    assert m["val_acc"][0] < m["val_acc"][i]
    assert m["sweep_seconds"] > 0 and m["single_seconds"] > 0
    assert m["_run"]["seed"] == 0 and m["_run"]["jax_version"] == jax.__version__
    assert_exact_pngs(out, ["lr_sweep.png", "mlp_seeds.png"])


@needs_data
def test_sweep_mlp_seeds_and_their_checkpoints(sweep_run):
    out, ckpt = sweep_run
    m = read_metrics(out)
    assert m["num_seeds"] == 8 and len(m["mlp_final_val_acc"]) == 8
    assert len(m["mlp_val_acc_mean"]) == len(m["mlp_val_acc_std"]) == 2  # quick: 2 epochs
    final = np.asarray(m["mlp_final_val_acc"])
    assert np.all((final > 0.1) & (final <= 1))  # all 8 learned: better than chance
    np.testing.assert_allclose(m["mlp_val_acc_mean"][-1], final.mean(), rtol=1e-6)
    assert m["mlp_val_acc_std"][-1] > 0  # the seeds differ
    assert [epoch for epoch, _ in checkpoint.list_checkpoints(ckpt / "mlp_seeds")] == [1, 2]
