"""experiments.checkpoint_bench's arithmetic: medians, per-round ratios against the baseline,
and the table it prints. (Its runs are fresh processes of a minute or more: run by hand, see
docs/DESIGN.md; nothing here asserts a time.)"""

import pytest

from experiments import checkpoint_bench as cb


def _run(process_wall, process_cpu, fit_wall, fit_cpu, saves=()):
    return {"process_wall": process_wall, "process_cpu": process_cpu, "fit_wall": fit_wall,
            "fit_cpu": fit_cpu, "saves": list(saves)}


def test_ratios_are_medians_of_per_round_ratios_against_the_baseline():
    results = {
        cb.OLD: [_run(2.0, 4.0, 1.0, 2.0, [(0.002, 0.001)]), _run(4.0, 4.0, 2.0, 2.0)],
        cb.NEW: [_run(2.2, 4.4, 1.2, 2.4, [(0.010, 0.020), (0.030, 0.040)]),
                 _run(4.0, 4.8, 2.0, 2.2)],
    }
    old, new = cb.summary(results)
    assert old["process_wall_ratio"] == 1.0 and old["save_cpu_ms"] == pytest.approx(1.0)
    assert new["process_wall"] == pytest.approx(3.1)  # the median of 2.2 and 4.0
    # per round 1.1 and 1.0: their median, not 3.1 / 3.0
    assert new["process_wall_ratio"] == pytest.approx(1.05)
    assert new["process_wall_ratio_range"] == pytest.approx((1.0, 1.1))
    assert new["fit_cpu_ratio"] == pytest.approx(1.15)  # 1.2 and 1.1
    assert new["save_wall_ms"] == pytest.approx(20.0) and new["save_cpu_ms"] == pytest.approx(30.0)
    text = cb.table([old, new])
    assert "| orbax | 20 / 30 | 3.10 (x1.050, 1.00-1.10) |" in text
    assert text.count("\n") == 3  # header, rule, two rows


def test_a_variant_without_checkpoints_has_no_save_figures():
    results = {cb.OLD: [_run(1.0, 1.0, 1.0, 1.0, [(0.001, 0.001)])],
               cb.NONE: [_run(0.9, 0.9, 0.8, 0.8)]}
    none = cb.summary(results)[1]
    assert none["save_wall_ms"] is None and none["fit_wall_ratio"] == pytest.approx(0.8)
    assert "| no checkpoints | - |" in cb.table([none])


def test_the_baseline_must_be_named():
    with pytest.raises(SystemExit):
        cb.main(["--rounds", "1"])
