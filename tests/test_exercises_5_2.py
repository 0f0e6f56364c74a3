"""5.2's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import math

import exercise_items
import numpy as np
import pytest
from section_runs import assert_pngs, exercise_fixtures, needs_data

pytestmark = needs_data

# The book's exercise items of 5.2 and their kinds (the project's exercise list).
SID = "5.2-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def inside_noise(a, b) -> bool:
    """The notebook's rule: means closer than two standard errors of their difference."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(abs(a.mean() - b.mean())
                < 2 * np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))


def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers):
    assert exercise_items.computed("5.2") <= set(answers)


def test_figures_are_written(runs, metrics):
    assert_pngs(runs[SID].out, ["width.png", "learning_rate.png", "search.png", "matmul.png",
                                "activations.png"])


def test_1_one_unit_is_far_below_every_wider_layer(answers, metrics):
    got, seeds = answers["1"], metrics["settings"]["num_seeds"]
    widths = got["widths"]
    assert widths[0] == 1 and 256 in widths and widths == sorted(widths)
    for w, mean in zip(widths, got["val_acc_mean"], strict=True):
        acc = got["val_acc"][str(w)]
        assert len(acc) == seeds and all(0 <= a <= 1 for a in acc)
        # The mean of a few float32 accuracies, recomputed in float64: rounding only.
        assert mean == pytest.approx(np.mean(acc), abs=1e-6)
    # Even the best seed of width 1 is below the mean of every wider layer.
    assert max(got["val_acc"]["1"]) < min(got["val_acc_mean"][1:])
    assert got["best_width"] == widths[int(np.argmax(got["val_acc_mean"]))]
    assert got["best_width"] in got["inside_noise_of_best"]
    assert got["inside_noise_of_best"] == [
        w for w in widths
        if inside_noise(got["val_acc"][str(w)], got["val_acc"][str(got["best_width"])])]


def test_2_the_second_layer_starts_slower(answers):
    got = answers["2"]
    assert got["two_layer_epoch1_mean"] < got["one_layer_epoch1_mean"]
    assert got["inside_noise"] is inside_noise(got["two_layer_val_acc"], got["one_layer_val_acc"])


def test_3_a_one_unit_layer_loses_classes(answers):
    got = answers["3"]
    assert np.mean(got["val_acc"]) < got["width_256_val_acc_mean"]
    # Classes along one learned direction: some are never the winner.
    assert all(1 <= c < 10 for c in got["classes_predicted"])
    assert all(0 <= f <= 1 for f in got["off_fraction"])


def test_4_larger_stable_rates_reach_the_threshold_sooner(answers, metrics):
    got = answers["4"]
    acc = np.array(got["val_acc_per_epoch"])
    assert acc.shape[0] == len(got["lrs"]) == len(got["first_epoch_at_threshold"])
    assert got["lrs"] == sorted(got["lrs"])
    assert got["best_lr"] == got["lrs"][int(acc[:, -1].argmax())]
    last = np.sort(acc[:, -1])
    assert got["top_gap"] == pytest.approx(last[-1] - last[-2], abs=1e-6)
    for curve, first in zip(acc, got["first_epoch_at_threshold"], strict=True):
        if first is None:
            assert curve.max() < got["threshold"]
        else:
            assert curve[first - 1] >= got["threshold"] > curve[:first - 1].max(initial=0)
    # Among the rates that keep most of their units alive, a larger rate is never later.
    stable = [math.inf if f is None else f for f, dead in
              zip(got["first_epoch_at_threshold"], got["dead_unit_fraction"], strict=True)
              if dead < 0.5]
    assert len(stable) >= 2 and stable == sorted(stable, reverse=True)


def test_5_successive_halving_within_its_budget(answers):
    got, cost = answers["5.1"], answers["5.3"]
    epochs, sizes = got["rung_epochs"], got["rung_sizes"]
    assert sizes[0] == got["num_candidates"] and sizes == sorted(sizes, reverse=True)
    assert all(later == max(1, earlier // got["eta"])
               for earlier, later in zip(sizes, sizes[1:], strict=False))
    spent = sum(n * (e - prev) for n, e, prev in zip(sizes, epochs, [0, *epochs], strict=False))
    assert got["model_epochs"] == cost["model_epochs"] == spent
    assert cost["all_to_the_end_model_epochs"] == got["num_candidates"] * epochs[-1]
    assert cost["saving"] > 1
    assert len(got["first_rung_holdout_acc"]) == got["num_candidates"]
    assert got["best"]["epochs"] == epochs[-1] == len(got["best_holdout_curve"])
    assert got["best_holdout_acc"] == max(got["final_holdout_acc"])
    assert got["best_holdout_acc"] == got["best_holdout_curve"][-1]
    assert 0.01 <= got["best"]["lr"] <= 1
    # The winner learned: far above the 0.1 of guessing, on images the search never saw.
    assert got["best_test_acc"] > 0.3


def test_6_both_models_are_the_same_two_products(answers):
    got = answers["6"]
    assert got["scratch_matmuls"] == got["concise_matmuls"] == 2
    for name in ("scratch", "concise"):
        assert len(got[name]) == len(got["widths"]) and all(t > 0 for t in got[name])
    assert all(n >= 1 for n in got["noise"])


def test_7_matmul_sizes_on_every_backend(answers):
    got = answers["7"]
    assert got["sizes"] == list(range(1024, 1033))
    assert set(got["gflops"]) == set(answers["7.1"]["backends"])
    for rates in got["gflops"].values():
        assert len(rates) == 9 and all(math.isfinite(r) and r > 0 for r in rates)
    assert 0 < got["cpu_slowest_over_fastest"] <= 1
    assert set(got["repeat_spread"]) == set(got["gflops"])
    assert all(spread >= 1 for spread in got["repeat_spread"].values())
    assert answers["7.1"]["backends"][0] == "cpu"
    assert answers["7.1"]["gpu_timed"] is ("gpu" in answers["7.1"]["backends"])
    assert answers["7.1"]["devices"]
    assert all(b > 0 for b in answers["7.2"]["bandwidth_gb_per_s"].values())


def test_8_sigmoid_is_behind_relu_and_tanh(answers):
    got = answers["8"]
    means = {name: np.mean(acc) for name, acc in got["val_acc"].items()}
    assert set(means) == {"ReLU", "tanh", "sigmoid"}
    assert means["sigmoid"] < min(means["ReLU"], means["tanh"])
    assert got["best"] == max(means, key=means.get)
    assert got["best"] in got["inside_noise_of_best"] and "sigmoid" not in \
        got["inside_noise_of_best"]


def test_9_zeros_stay_symmetric_and_scale_sets_the_start(answers):
    got = answers["9"]
    # With ReLU and zero weights every gradient of a weight is exactly 0 (ReLU's slope at 0 is
    # 0, and W2's gradient is multiplied by hidden values that are 0): the weights stay 0.
    assert got["largest_weight"]["ReLU, zeros"] == 0.0 and got["zeros_relu_W2_max"] == 0.0
    # A constant prediction scores one class's share of the class-balanced validation set.
    assert all(a <= 0.11 for a in got["val_acc"]["zeros"])
    # Sigmoid from zeros: the units move but stay copies. Identical columns get identical
    # arithmetic; a kernel summing columns in different orders could leave float32 rounding
    # (eps 1.2e-7 relative per step, a few hundred steps here), far below 1e-3 of the weights.
    spread, size = got["unit_spread"]["sigmoid, zeros"], got["largest_weight"]["sigmoid, zeros"]
    assert size > 0 and spread <= 1e-3 * size
    # A random start breaks the symmetry: units differ by as much as the weights themselves.
    assert got["unit_spread"]["ReLU, N(0, 0.01²)"] > 0.5 * got["largest_weight"][
        "ReLU, N(0, 0.01²)"]
    assert np.mean(got["sigmoid_zeros_val_acc"]) < np.mean(answers["8"]["val_acc"]["sigmoid"])
    loss = got["train_loss_epoch1"]
    assert loss["N(0, 1)"] > 3 * loss["N(0, 0.01²)"]
    assert loss["Xavier"] < loss["N(0, 0.01²)"]
    assert got["inside_noise_of_book"]["N(0, 0.01²)"] is True
