"""The book's exercise items per section (a copy of the project's list, exercise_items.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ITEMS: dict[str, dict[str, str]] = {
    section: {entry["item"]: entry["kind"] for entry in entries}
    for section, entries in json.loads(
        (Path(__file__).with_name("exercise_items.json")).read_text()).items()}
# A markdown heading `# ### Exercise 4.2 ...` in a Jupytext percent script.
HEADING = re.compile(r"^#\s*#+\s*Exercise\s+(\d+(?:\.\d+)?)\b", re.M)


def computed(section: str) -> set[str]:
    """The items of `section` answered or checked by running code (every kind but plain M and
    D: C, M (+C), D (+C)), whose measured values go into the notebook's `answers`."""
    return {item for item, kind in ITEMS[section].items() if "C" in kind}


def headings(text: str) -> set[str]:
    """The exercise numbers that a script's markdown headings name."""
    return set(HEADING.findall(text))
