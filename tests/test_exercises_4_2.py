"""4.2's exercises notebook in quick mode: its measurements recorded, its conclusions' facts.

Timings are printed by the notebook, never asserted here (they depend on the machine and its
load); what is asserted is that every measurement was made and recorded as the text says.
"""

from __future__ import annotations

import math

import exercise_items
import pytest
from section_runs import exercise_fixtures, needs_data, pngs

SID = "4.2-exercises"
PATHS = ("data source", "host arrays", "device arrays")


runs, metrics, answers = exercise_fixtures(SID, real_data=True)


@needs_data
def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers, runs):
    assert exercise_items.computed("4.2") <= set(answers)
    assert pngs(runs[SID].finished()) == {"read_time.png"}


@needs_data
def test_1_every_path_timed_at_every_batch_size(answers):
    a = answers["1"]
    assert a["batch_sizes"] == [1, 64, 256]  # quick mode's three sizes
    assert a["records_per_size"] == 256
    for path in PATHS:
        assert len(a["pass_s"][path]) == 3 and all(t > 0 for t in a["pass_s"][path])
        assert a["slowdown_batch_1_vs_64"][path] == pytest.approx(
            a["pass_s"][path][0] / a["pass_s"][path][1])


@needs_data
def test_2_training_epoch_compared_and_the_reader_profiled(answers):
    a = answers["2"]
    assert a["train_epoch_s"] > 0
    assert set(a["read_epoch_s_batch_256"]) == set(PATHS)
    for path in PATHS:
        assert a["read_over_train"][path] == pytest.approx(
            a["read_epoch_s_batch_256"][path] / a["train_epoch_s"])
    # The model did train: 3 epochs of softmax regression on 60,000 images (4.4 reaches ~0.5);
    # chance is log 10 = 2.30.
    assert a["train_loss_last"] < math.log(10) / 3
    # The profile is of decoding records: PNG decoding (PIL) and the data source's parsing
    # (tensorflow_datasets) run once per record and both appear among the largest shares.
    shares = a["profile_shares"]
    assert {"PIL", "tensorflow_datasets"} <= set(shares)
    assert 0 < sum(shares.values()) <= 1 + 1e-9
