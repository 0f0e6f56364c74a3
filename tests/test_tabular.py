"""jaxhw.data.tabular: the book's house_tiny numbers, dtypes, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import pandas as pd
import pytest

from jaxhw.data.tabular import (
    HOUSE_TINY_CSV,
    load_tabular,
    preprocess_inputs,
    read_table,
    split_target,
    write_house_tiny,
)

BOOK_X = [[3.0, 0.0, 1.0], [2.0, 0.0, 1.0], [4.0, 1.0, 0.0], [3.0, 0.0, 1.0]]
BOOK_Y = [127500.0, 106000.0, 178100.0, 140000.0]


@pytest.fixture
def house_tiny(tmp_path: Path) -> Path:
    return write_house_tiny(tmp_path / "data")


def test_write_house_tiny_goes_to_the_given_folder_only(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    path = write_house_tiny(tmp_path / "out" / "nested")
    assert path == tmp_path / "out" / "nested" / "house_tiny.csv"
    assert path.read_text() == HOUSE_TINY_CSV
    assert list(cwd.iterdir()) == []


def test_read_table_has_the_books_missing_values(house_tiny):
    data = read_table(house_tiny)
    assert list(data.columns) == ["NumRooms", "RoofType", "Price"]
    assert data["NumRooms"].isna().tolist() == [True, False, False, True]
    assert data["RoofType"].isna().tolist() == [True, True, False, True]


def test_preprocess_inputs_one_hot_with_nan_column_and_mean_fill(house_tiny):
    inputs, _ = split_target(read_table(house_tiny), "Price")
    encoded = preprocess_inputs(inputs)
    assert list(encoded.columns) == ["NumRooms", "RoofType_Slate", "RoofType_nan"]
    assert encoded["NumRooms"].tolist() == [3.0, 2.0, 4.0, 3.0]


def test_load_tabular_gives_the_books_arrays_in_float32(house_tiny):
    table = load_tabular(house_tiny, "Price")
    chex.assert_shape(table.X, (4, 3))
    chex.assert_shape(table.y, (4,))
    chex.assert_type([table.X, table.y], jnp.float32)
    chex.assert_trees_all_close(table.X, jnp.array(BOOK_X), rtol=0, atol=0)
    chex.assert_trees_all_close(table.y, jnp.array(BOOK_Y), rtol=0, atol=0)
    assert table.features == ("NumRooms", "RoofType_Slate", "RoofType_nan")


def test_load_tabular_under_x64_gives_the_books_float64(house_tiny):
    with jax.enable_x64(True):
        table = load_tabular(house_tiny, "Price")
        chex.assert_type([table.X, table.y], jnp.float64)
        chex.assert_trees_all_close(table.X, jnp.array(BOOK_X, jnp.float64), rtol=0, atol=0)
        chex.assert_trees_all_close(table.y, jnp.array(BOOK_Y, jnp.float64), rtol=0, atol=0)


def test_load_tabular_takes_any_csv_and_target(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("colour,size,score\nred,1.0,0.5\nblue,,1.5\n,3.0,2.5\n")
    table = load_tabular(path, "score")
    assert table.features == ("size", "colour_blue", "colour_red", "colour_nan")
    chex.assert_trees_all_close(
        table.X, jnp.array([[1.0, 0, 1, 0], [2.0, 1, 0, 0], [3.0, 0, 0, 1]]), rtol=0, atol=0)
    chex.assert_trees_all_close(table.y, jnp.array([0.5, 1.5, 2.5]), rtol=0, atol=0)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"path: .*nope\.csv"):
        load_tabular(missing, "Price")


def test_a_folder_is_not_a_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        read_table(tmp_path)


def test_missing_target_column_names_it_and_lists_columns(house_tiny):
    with pytest.raises(ValueError, match=r"target: column 'price' not in .*'Price'"):
        load_tabular(house_tiny, "price")


def test_non_numeric_target_names_it(house_tiny):
    with pytest.raises(ValueError, match=r"target: column 'RoofType' must be numeric"):
        load_tabular(house_tiny, "RoofType")


def test_target_with_missing_values_names_the_rows(house_tiny):
    with pytest.raises(ValueError, match=r"target: column 'NumRooms' has missing .*\[0, 3\]"):
        load_tabular(house_tiny, "NumRooms")


def test_all_missing_numeric_column_is_an_error():
    inputs = pd.DataFrame({"a": [float("nan"), float("nan")], "b": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"inputs: columns \['a'\]"):
        preprocess_inputs(inputs)
