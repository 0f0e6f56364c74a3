"""2.2 Data preprocessing: the house_tiny CSV through pandas into JAX arrays."""

# %% [markdown]
# # 2.2 Data Preprocessing
# Write a tiny CSV of houses, read it with pandas, impute the missing values, and hand the
# numbers to JAX. The reusable steps live in `jaxhw.data.tabular`; this script walks through
# them one at a time, as the book does.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from experiments.runner import run_as_script
from jaxhw.data.tabular import (
    load_tabular,
    preprocess_inputs,
    read_table,
    split_target,
    to_arrays,
    write_house_tiny,
)

SECTION = "2.2"
TITLE = "Data Preprocessing"


def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the section's cells; return X, y and their dtypes. `quick`/`seed` change nothing."""
    m: dict[str, Any] = {}

    # %% [markdown]
    # ## Reading the dataset
    # The CSV goes into this section's output folder, never the current directory.

    # %%
    csv_path = write_house_tiny(out_dir)
    data = read_table(csv_path)
    m["columns"] = list(data.columns)
    m["rows"] = len(data)

    # %% [markdown]
    # ## Data preparation
    # Inputs are every column but `Price`. `get_dummies(dummy_na=True)` turns `RoofType` into
    # indicator columns, one of them for "missing"; missing `NumRooms` get the column mean.

    # %%
    inputs, targets = split_target(data, "Price")
    inputs = preprocess_inputs(inputs)
    m["features"] = list(inputs.columns)

    # %% [markdown]
    # ## Conversion to the tensor format
    # JAX defaults to float32, so the book's float64 arrays appear only with x64 switched on.
    # In this JAX version the context manager is `jax.enable_x64(True)`; the older
    # `jax.experimental.enable_x64()` no longer exists.

    # %%
    X, y = to_arrays(inputs, targets)
    m["X"], m["y"] = X, y
    m["dtype"] = str(X.dtype)
    with jax.enable_x64(True):
        X64, y64 = to_arrays(inputs, targets)
        m["dtype_x64"] = str(X64.dtype)
        m["X_x64"], m["y_x64"] = X64, y64

    # %% [markdown]
    # The same steps in one call, for any CSV and target column.

    # %%
    table = load_tabular(csv_path, target="Price")
    m["load_tabular_matches"] = bool((table.X == X).all() and (table.y == y).all())
    return m


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
