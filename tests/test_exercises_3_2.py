"""3.2's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
import pytest
from section_runs import exercise_fixtures

SID = "3.2-exercises"


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_an_answer(answers):
    assert set(exercise_items.ITEMS["3.2"]) <= set(answers)  # every item has a measured answer


def test_1_each_role_lives_in_a_named_module(answers):
    where = {role: loc.split(":")[0] for role, loc in answers["1"]["locations"].items()}
    assert where["Trainer.fit"] == where["Trainer.fit_epoch"] == "jaxhw/train.py"
    assert where["Module.forward"] == "jaxhw/models/linear.py"
    assert where["Module.loss"] == "jaxhw/nn/losses.py"
    assert where["ProgressBoard"] == "jaxhw/board.py"
    assert answers["1"]["classes"] == ["ProgressBoard"]  # the one class among the roles
    assert max(answers["1"]["module_lines"].values()) < 1000  # "under a thousand lines"


def test_2_without_save_hyperparameters_there_is_no_attribute(answers):
    a = answers["2"]
    assert a["without_save_error"] == "AttributeError: 'BWithoutSave' object has no attribute 'a'"
    assert a["with_save"] == {"a": 1, "b": 2} and a["with_save_hparams"] == {"a": 1, "b": 2}
    assert a["has_c"] is False
    assert a["caller"] == "Peek.__init__" and a["caller_locals"] == ["a", "b", "c", "self"]


def test_2_jaxhw_keeps_hyperparameters_in_fields_closures_and_state(answers):
    a = answers["2"]
    assert a["config_fields"] == ["lr", "batch_size", "epochs"]
    assert a["sgd_step_size"] == -0.03  # optax.sgd(0.03) scales by -lr
    assert a["loss_closure"] == {"apply": {"function": "jaxhw.models.linear.apply"},
                                 "loss": {"function": "jaxhw.nn.losses.squared_loss"}}
    assert a["injected_learning_rate"] == pytest.approx(0.03, rel=1e-7)  # stored as float32
