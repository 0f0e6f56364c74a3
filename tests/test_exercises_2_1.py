"""2.1's exercises notebook in quick mode: each conclusion its text draws, asserted."""

from __future__ import annotations

import exercise_items
import numpy as np
from section_runs import exercise_fixtures

SID = "2.1-exercises"
X = np.arange(12.0).reshape(3, 4)
Y = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers):
    assert exercise_items.computed("2.1") <= set(answers)


def test_1_comparisons_are_elementwise_boolean_masks(answers):
    got = answers["1"]
    assert got["less"] == (X < Y).tolist()
    assert got["greater"] == (X > Y).tolist()
    assert got["equal"] == (X == Y).tolist()
    assert got["dtype"] == "bool" and got["shape"] == [3, 4]
    assert got["exactly_one_holds"] is True
    assert got["nan_relations"] == [False, False, False]
    assert got["masked_values"] == X[X > Y].tolist()
    assert got["mask_jit_error"].startswith("NonConcreteBooleanIndexError")
    assert got["where_equals_maximum"] is True


def test_2_broadcasting_over_three_axes_is_as_expected(answers):
    got = answers["2"]
    assert got["shape_214_plus_131"] == [2, 3, 4] and got["equals_triple_loop"] is True
    assert got["shape_234_plus_4"] == [2, 3, 4] and got["leading_axes_added"] is True
    assert got["incompatible_error"].startswith("ValueError")
    assert "(2, 3, 4)" in got["incompatible_error"] and "(3, 2)" in got["incompatible_error"]
    # JAX's a += b rebinds a to a new, larger array (PyTorch would refuse).
    assert got["augmented_add_shapes"] == [[3, 1], [3, 2]]
    assert got["at_set_broadcast_row"] is True and got["at_set_untouched_zero"] is True
    assert got["at_set_error"].startswith("ValueError")
