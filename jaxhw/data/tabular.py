"""Tabular data (2.2): the book's house_tiny CSV, read with pandas and turned into arrays.

The steps are the book's: split inputs from the target, one-hot encode the categorical inputs
with a column for "missing" (`get_dummies(dummy_na=True)`), fill missing numbers with the
column mean, convert to arrays. Arrays take JAX's default float dtype: float32, or float64
inside `jax.enable_x64(True)` (the book shows float64).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import Array

HOUSE_TINY_CSV = """\
NumRooms,RoofType,Price
NA,NA,127500
2,NA,106000
4,Slate,178100
NA,NA,140000
"""


class Tabular(NamedTuple):
    """Inputs X (n, d), targets y (n,), and the d feature names (after one-hot encoding)."""

    X: Array
    y: Array
    features: tuple[str, ...]


def write_house_tiny(data_dir: str | Path) -> Path:
    """Write the book's 4-row house_tiny.csv into `data_dir` (created) and return its path."""
    path = Path(data_dir) / "house_tiny.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOUSE_TINY_CSV)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file into a DataFrame ("NA" and empty cells become NaN)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no CSV file at {str(path)!r}")
    return pd.read_csv(path)


def split_target(data: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Split `data` into its input columns and the numeric `target` column (no NaN allowed)."""
    if target not in data.columns:
        raise ValueError(f"target: column {target!r} not in the table; "
                         f"columns are {list(data.columns)}")
    targets = data[target]
    if not pd.api.types.is_numeric_dtype(targets) or pd.api.types.is_bool_dtype(targets):
        raise ValueError(f"target: column {target!r} must be numeric, got dtype {targets.dtype}")
    if targets.isna().any():
        rows = targets.index[targets.isna()].tolist()
        raise ValueError(f"target: column {target!r} has missing values in rows {rows}")
    return data.drop(columns=[target]), targets


def preprocess_inputs(inputs: pd.DataFrame) -> pd.DataFrame:
    """One-hot encode categorical columns (with a NaN column) and fill numeric NaN with means."""
    encoded = pd.get_dummies(inputs, dummy_na=True)
    numeric = encoded.select_dtypes("number").columns
    encoded[numeric] = encoded[numeric].fillna(encoded[numeric].mean())
    still_missing = [c for c in encoded.columns if encoded[c].isna().any()]
    if still_missing:
        raise ValueError(f"inputs: columns {still_missing} have no values to take a mean from")
    return encoded


def to_arrays(inputs: pd.DataFrame, targets: pd.Series) -> tuple[Array, Array]:
    """Preprocessed inputs and targets as JAX arrays: X (n, d), y (n,), default float dtype."""
    X = jnp.asarray(inputs.to_numpy(dtype=np.float64))
    y = jnp.asarray(targets.to_numpy(dtype=np.float64))
    return X, y


def load_tabular(path: str | Path, target: str) -> Tabular:
    """Read the CSV at `path` and preprocess it as the book does: X (n, d), y (n,)."""
    inputs, targets = split_target(read_table(path), target)
    inputs = preprocess_inputs(inputs)
    X, y = to_arrays(inputs, targets)
    return Tabular(X, y, tuple(str(c) for c in inputs.columns))
