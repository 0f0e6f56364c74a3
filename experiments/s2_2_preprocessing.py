# %% [markdown]
# # 2.2 Data Preprocessing
#
# *Dive into Deep Learning*, section 2.2, in JAX: write a tiny CSV of houses, read it with
# pandas, turn the categorical column into indicator columns, fill the missing numbers with the
# column mean, and hand the result to JAX as arrays. (The reference notebook titles this part
# "2.1 Data Preprocessing"; it is the book's 2.2.)
#
# Each code cell that mirrors a cell of the PyTorch notebook this project reproduces starts with
# `# reference:` and what that notebook printed; the output under the cell is this notebook's
# (a notebook shows a DataFrame as a table). The tables agree; the arrays differ only in dtype,
# as the last subsection explains.

# %% tags=["parameters"]
quick = False  # smoke run (this section has nothing to shrink)
seed = 0  # PRNG seed (nothing here is random)
out_dir = "results/2.2"  # where house_tiny.csv and metrics.json go

# %%
import jax
import pandas as pd

from jaxhw import notebook
from jaxhw.data.tabular import load_tabular, preprocess_inputs, to_arrays, write_house_tiny

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names


# %%
def table(frame: pd.DataFrame) -> dict[str, list]:
    """A DataFrame's columns as lists, missing values as None: how metrics.json keeps it."""
    return {str(c): [None if pd.isna(v) else v for v in frame[c].tolist()] for c in frame}


# %% [markdown]
# ## Reading the dataset
# The book writes `house_tiny.csv` into `./data`; here it goes into this section's output
# folder (`write_house_tiny`, in `jaxhw/data/tabular.py`, writes the book's four rows), so that
# running the notebook never writes into the current directory. `read_csv` reads the book's
# `NA` as a missing value, shown as `NaN`.

# %%
# reference:
#       NumRooms RoofType   Price
#    0       NaN      NaN  127500
#    1       2.0      NaN  106000
#    2       4.0    Slate  178100
#    3       NaN      NaN  140000
data_file = write_house_tiny(run.out_dir)
data = pd.read_csv(data_file)
metrics["data"] = table(data)
data

# %% [markdown]
# ## Data preparation
# The inputs are the first two columns, the target is `Price`. `get_dummies(dummy_na=True)`
# replaces the categorical `RoofType` by one indicator column per value, `Slate` and `nan`
# (missing is a category of its own).

# %%
# reference:
#       NumRooms  RoofType_Slate  RoofType_nan
#    0       NaN           False          True
#    1       2.0           False          True
#    2       4.0            True         False
#    3       NaN           False          True
inputs, targets = data.iloc[:, 0:2], data.iloc[:, 2]
inputs = pd.get_dummies(inputs, dummy_na=True)
metrics["dummies"] = table(inputs)
inputs

# %% [markdown]
# The missing `NumRooms` take the column's mean, (2 + 4) / 2 = 3.

# %%
# reference:
#       NumRooms  RoofType_Slate  RoofType_nan
#    0       3.0           False          True
#    1       2.0           False          True
#    2       4.0            True         False
#    3       3.0           False          True
inputs = inputs.fillna(inputs.mean())
metrics["filled"] = table(inputs)
metrics.update(columns=list(data.columns), rows=len(data), features=list(inputs.columns))
inputs

# %% [markdown]
# `jaxhw.data.tabular.preprocess_inputs` is these two steps in one function (it checks that no
# value stays missing); it gives the same table:

# %%
metrics["preprocess_inputs_matches"] = bool(preprocess_inputs(data.iloc[:, 0:2]).equals(inputs))
metrics["preprocess_inputs_matches"]

# %% [markdown]
# ## Conversion to the tensor format
# The numbers are the reference's, the dtype is not: JAX makes float32 arrays unless 64-bit
# types are switched on, where PyTorch kept the float64 of `to_numpy(dtype=float)`.
# (`to_arrays` is the book's `to_numpy(dtype=float)` followed by `jnp.asarray`.)

# %%
# reference: (tensor([[3., 0., 1.], [2., 0., 1.], [4., 1., 0.], [3., 0., 1.]],
#                    dtype=torch.float64),
#             tensor([127500., 106000., 178100., 140000.], dtype=torch.float64))
X, y = to_arrays(inputs, targets)
metrics.update(X=X, y=y, dtype=str(X.dtype))
X, y

# %% [markdown]
# Inside `jax.enable_x64(True)` the same conversion keeps float64, as in the reference. (In this
# JAX version the context manager is `jax.enable_x64(True)`; the older
# `jax.experimental.enable_x64()` no longer exists.)

# %%
# reference: (the cell above) dtype=torch.float64
with jax.enable_x64(True):
    X64, y64 = to_arrays(inputs, targets)
metrics.update(X_x64=X64, y_x64=y64, dtype_x64=str(X64.dtype))
X64, y64

# %% [markdown]
# Beyond the reference: the same steps in one call, for any CSV and target column.

# %%
loaded = load_tabular(data_file, target="Price")
metrics["load_tabular_matches"] = bool((loaded.X == X).all() and (loaded.y == y).all())
loaded.features, metrics["load_tabular_matches"]

# %% [markdown]
# ## Results
# `metrics.json` keeps the tables and arrays above for the tests (tests/test_sections_ch2.py).

# %%
run.save_metrics(metrics)
