"""2.2's exercises notebook in quick mode: each conclusion its text draws, asserted.

The Palmer penguins table is fixed data (the `palmerpenguins` package's CSV files), so its
counts are asserted exactly: 344 birds, 8 tidy and 17 raw columns, 11 without a recorded sex.
"""

from __future__ import annotations

import math

import exercise_items
import pytest
from section_runs import exercise_fixtures

SID = "2.2-exercises"
ROWS = 344


runs, metrics, answers = exercise_fixtures(SID)


def test_every_item_has_a_heading_and_every_computed_item_an_answer(answers):
    assert exercise_items.computed("2.2") <= set(answers)


def test_1_missing_fractions_of_the_penguin_tables(answers):
    got = answers["1"]
    assert got["shapes"] == {"tidy": [ROWS, 8], "raw": [ROWS, 17]}
    # Tidy: 11 rows miss sex (2 of them all four measurements too): 11 + 2 * 4 = 19 cells.
    assert got["missing"]["tidy"] == pytest.approx(
        {"rows": 11 / ROWS, "columns": 5 / 8, "cells": 19 / (ROWS * 8)})
    # Raw: Comments is empty for 290 birds, so 310 rows miss something; 20 without Comments.
    assert got["missing"]["raw"] == pytest.approx(
        {"rows": 310 / ROWS, "columns": 8 / 17, "cells": 336 / (ROWS * 17)})
    assert got["raw_rows_missing_without_comments"] == pytest.approx(20 / ROWS)


def test_1_kinds_of_variables(answers):
    got = answers["1"]
    assert got["kind_fractions"]["tidy"] == pytest.approx({"numerical": 5 / 8,
                                                           "categorical": 3 / 8})
    assert got["kind_fractions"]["raw"] == pytest.approx(
        {"numerical": 7 / 17, "categorical": 8 / 17, "text": 2 / 17})
    assert {c for c, k in got["kinds"]["raw"].items() if k == "text"} == {"Individual ID",
                                                                         "Date Egg"}
    assert got["kinds"]["raw"]["Comments"] == "categorical"  # what the text corrects by hand
    assert "body_mass_g" in got["target_error"] and "[3, 271]" in got["target_error"]
    # 4 numeric inputs; one-hot columns, each with one for "missing": species 3 + 1,
    # island 3 + 1, sex 2 + 1.
    assert got["X_shape"] == [ROWS - 2, 4 + 4 + 4 + 3]


def test_2_selection_by_name(answers):
    got = answers["2"]
    assert got["name_equals_position"] is True
    assert got["dream_shape"] == [124, 2]
    assert got["regex_columns"] == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    assert got["numeric_columns"] == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                      "body_mass_g", "year"]
    assert got["reordered_by_name_same"] is True
    assert got["reordered_position_columns"] == ["year", "sex"]


def test_3_memory_grows_with_rows_and_compact_types_halve_it(answers):
    got = answers["3"]
    loads = got["loads"]
    assert [row["rows"] for row in loads] == [10**3, 10**4, 10**5]
    assert got["files_written"] == sorted(f"table_{row['rows']}.csv" for row in loads)
    assert got["folder_removed"] is True
    per_row = [row["memory_mib"] / row["rows"] for row in loads]
    # Memory is per-row data plus a fixed header of a few hundred bytes: proportional to rows.
    assert per_row[-1] == pytest.approx(per_row[-2], rel=0.02)
    for row in loads:
        csv_bytes = row["file_mib"] / row["rows"]
        # "about as many bytes as the CSV text" with defaults, "less than half" compact.
        assert 0.8 < row["memory_mib"] / row["rows"] / csv_bytes < 1.3
        assert row["compact_memory_mib"] < row["memory_mib"] / 2
    assert got["chunks"] == math.ceil(loads[-1]["rows"] / 100_000)
    assert got["compact_bytes_per_row"] < got["bytes_per_row"] / 2
    laptop = got["estimates"]["laptop, 16 GiB"]
    assert laptop["rows_compact"] > laptop["rows_default"] > 10**7  # "tens of millions"


def test_4_one_hot_width_is_the_number_of_categories(answers):
    got = answers["4"]
    assert [row["one_hot_width"] for row in got["one_hot"]] == [2, 10, 100, 1000, got["n_rows"]]
    assert got["id_distinct"] == 190 and got["id_seen_once"] == 76
    widths = got["id_widths"]
    assert widths["one_hot"] == 190
    assert widths["pooled_min_3"] < widths["one_hot"] and widths["hashed_16"] <= 16


def test_5_npy_round_trips_exactly_and_a_short_csv_loses_digits(answers):
    formats = answers["5"]["formats"]
    for name in ["csv (pandas)", "npy (np.load)", "npy (mmap)", "parquet (pandas)"]:
        assert formats[name]["max_abs_diff"] == 0.0, name
    # Standardised values lie within (-10, 10): 4 significant digits keep them to half a unit
    # in the 4th digit, at most 5e-4, plus the float32 rounding of the parsed value (< 1e-6).
    assert 0 < formats["csv, 4 digits"]["max_abs_diff"] <= 5e-4 + 1e-6
    assert formats["npy (np.load)"]["kb"] < formats["csv (pandas)"]["kb"]
    assert answers["5"]["jax_from_mmap_shape"] == [ROWS - 2, 4]
