"""Every exercise of the book's sections 2.1-5.3 has its heading in its section's exercises
notebook, with its written answers folded; what each run measured is asserted per notebook
(tests/test_exercises_<chapter>_<section>.py)."""

from __future__ import annotations

import re

import pytest
from exercise_items import ITEMS, headings

from experiments import runner as experiments_runner

SECTIONS = experiments_runner.discover()


def test_the_list_covers_125_items_in_14_sections():
    assert len(ITEMS) == 14 and sum(len(items) for items in ITEMS.values()) == 125


@pytest.mark.parametrize("section", sorted(ITEMS))
def test_every_item_has_its_heading_and_folded_answers(section):
    text = SECTIONS[f"{section}-exercises"].path.read_text()
    assert headings(text) == set(ITEMS[section])
    folds, ends = text.count("<details><summary>"), text.count("</details>")
    assert folds == ends and folds >= len(ITEMS[section]) - 1, (folds, ends)
    # mistune drops the backslash of \$, and a lone dollar then pairs with the next formula's
    markdown = "\n".join(line for line in text.splitlines() if line.startswith("# "))
    assert not re.search(r"\\\$", markdown), "a literal dollar sign in markdown"
