# %% [markdown]
# # 2.2 Exercises: Data Preprocessing
#
# The exercises at the end of d2l section 2.2, answered with pandas and JAX. Try each one first:
# every written answer is folded under "Answer" (click to unfold); code and outputs stay
# visible. The book points at the UCI repository (Abalone); this project works offline, so the
# real dataset here is the **Palmer penguins** table (Gorman, Williams and Fraser, 2014; 344
# penguins of three species measured near Palmer Station, Antarctica), which the `palmerpenguins`
# package ships as CSV files: a tidy 8-column version and the raw 17-column one, with missing
# values, categories, free-text notes and dates.

# %% tags=["parameters"]
quick = False  # smoke run: CSVs of up to 10^5 rows (not 3 x 10^6) in exercise 3, 2,000 in 4
seed = 0  # PRNG seed for the generated tables of exercises 3 and 4
out_dir = "results/2.2-exercises"  # where metrics.json goes

# %%
import tempfile
import textwrap
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
from palmerpenguins import load_penguins, load_penguins_raw

from jaxhw import notebook
from jaxhw.data.tabular import preprocess_inputs, split_target, to_arrays

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)
MiB = 2**20

# %% [markdown]
# ### Exercise 1 — a real dataset: how much of it is missing; which variables are of which kind?

# %%
penguins, raw = load_penguins(), load_penguins_raw()
print("tidy:", penguins.shape, "; raw:", raw.shape)
penguins.head()


# %%
def missing_fractions(frame: pd.DataFrame) -> dict[str, float]:
    """Fractions of the rows, the columns and the cells of `frame` that have a missing value."""
    missing = frame.isna()
    return {"rows": float(missing.any(axis=1).mean()), "columns": float(missing.any().mean()),
            "cells": float(missing.to_numpy().mean())}


tables = {"tidy": penguins, "raw": raw}
missing = {name: missing_fractions(frame) for name, frame in tables.items()}
for name, fractions in missing.items():
    print(f"{name}: " + ", ".join(f"{v:.1%} of the {k}" for k, v in fractions.items())
          + " have a missing value")
without_comments = missing_fractions(raw.drop(columns=["Comments"]))["rows"]
print(f"raw without its Comments column: {without_comments:.1%} of the rows")
print("\nmissing per column (raw):\n" + raw.isna().sum()[raw.isna().any()].to_string())

# %% [markdown]
# Kinds of variables, by a rule a first look can apply: a numeric dtype is *numerical*; a
# string column with at most 20 distinct values is *categorical*; a string column with more is
# *text* (names, identifiers, dates written as strings, free text).

# %%
def variable_kind(column: pd.Series) -> str:
    """'numerical', 'categorical' (strings, at most 20 distinct values) or 'text'."""
    if pd.api.types.is_numeric_dtype(column):
        return "numerical"
    return "categorical" if column.nunique() <= 20 else "text"


kinds = {name: {c: variable_kind(frame[c]) for c in frame} for name, frame in tables.items()}
kind_fractions = {name: pd.Series(k).value_counts(normalize=True).to_dict()
                  for name, k in kinds.items()}
for name in tables:
    print(f"{name}: " + ", ".join(f"{kind} {f:.0%}" for kind, f in kind_fractions[name].items()))
pd.DataFrame({"kind": kinds["raw"], "distinct values": raw.nunique(),
              "example": raw.iloc[0]})

# %% [markdown]
# The book's pipeline on this table (`jaxhw.data.tabular`): predict `body_mass_g` from the
# rest. The target itself has missing values, which `split_target` refuses by name; after
# dropping those rows the inputs are one-hot encoded (a column for "missing" included) and
# their numeric gaps filled with the column means.

# %%
try:
    split_target(penguins, "body_mass_g")
except ValueError as err:
    target_error = f"ValueError: {err}"
print(target_error)
inputs, targets = split_target(penguins.dropna(subset=["body_mass_g"]), "body_mass_g")
encoded = preprocess_inputs(inputs)
X, y = to_arrays(encoded, targets)
print("X:", X.shape, X.dtype, "; y:", y.shape)
print(textwrap.fill("features: " + ", ".join(encoded.columns), 100))
answers["1"] = {"shapes": {name: list(frame.shape) for name, frame in tables.items()},
                "missing": missing, "raw_rows_missing_without_comments": without_comments,
                "kinds": kinds, "kind_fractions": kind_fractions,
                "target_error": target_error, "X_shape": X.shape,
                "features": [str(c) for c in encoded.columns]}

# %% [markdown]
# <details><summary>Answer</summary>
#
# It depends on what is counted. In the tidy table 11 of the 344 rows (3.2%) miss something and
# 5 of its 8 columns have a gap, yet only 0.7% of its cells are empty: most gaps are a missing
# `sex`, and two birds have no measurements at all. The raw table looks far worse by rows
# (90%), almost entirely because its `Comments` column is empty for the 290 birds that needed
# no comment (without that column, 6% of the rows miss something): "missing" there means
# "nothing to say", not "unknown". What a gap means, and so how to fill it, depends on the
# column.
#
# By the rule above, the tidy table is 5/8 numerical and 3/8 categorical; the raw one 7/17
# numerical, 8/17 categorical and 2/17 text. The rule is only a first pass, and reading the
# columns corrects it: `year` and `Sample Number` are integers but not quantities (a year
# behaves like a category, a sample number is an identifier), `Comments` is free text with
# only 10 distinct notes, and `Date Egg` is a date that could become a number (days since the
# season began). A categorical `Region` or `Stage` with a single value carries no information
# at all.
#
# </details>

# %% [markdown]
# ### Exercise 2 — select columns by name instead of by position

# %%
by_name = penguins[["species", "island"]]
by_position = penguins.iloc[:, 0:2]
dream = penguins.loc[penguins["island"] == "Dream", ["species", "body_mass_g"]]
lengths = penguins.filter(regex="_mm$")
numeric = penguins.select_dtypes("number")
print("penguins[['species', 'island']] equals iloc[:, 0:2]:", by_name.equals(by_position))
print("loc[island == 'Dream', ['species', 'body_mass_g']]:", dream.shape)
print("filter(regex='_mm$'):", list(lengths.columns))
print("select_dtypes('number'):", list(numeric.columns))

# %% [markdown]
# The same two selections on the table with its columns reversed:

# %%
reversed_columns = penguins[penguins.columns[::-1]]
same_by_name = reversed_columns[["species", "island"]].equals(by_name)
position_now = list(reversed_columns.iloc[:, 0:2].columns)
print("by name, same data:", same_by_name, "; iloc[:, 0:2] now selects", position_now)
answers["2"] = {"name_equals_position": by_name.equals(by_position), "dream_shape": dream.shape,
                "regex_columns": list(lengths.columns), "numeric_columns": list(numeric.columns),
                "reordered_by_name_same": same_by_name, "reordered_position_columns": position_now}

# %% [markdown]
# <details><summary>Answer</summary>
#
# `df["col"]` gives one column (a Series), `df[["a", "b"]]` a DataFrame of the named columns,
# `df.loc[rows, cols]` selects rows by a condition or label and columns by name together, and
# `filter(regex=...)` and `select_dtypes` select by a pattern in the name or by type. Selecting
# by name gave the same table as `iloc[:, 0:2]`, and still did after the columns were reordered,
# when `iloc[:, 0:2]` picked `year` and `sex` instead. Names make a preprocessing script say
# what it means and keep it right when a file's columns move.
#
# </details>

# %% [markdown]
# ### Exercise 3 — how large a dataset can you load this way? Time, representation, memory
#
# We write CSV files of growing size into a temporary folder (removed at the end), read each
# with `pd.read_csv`, and measure: the file size, the read time (wall clock and CPU seconds;
# on a busy machine the wall clock includes waiting for a core), and the DataFrame's memory
# with pandas' default types and with declared compact types (float32, int32, `category`),
# beside the size of the numeric columns as one float32 array, what JAX would hold. The table
# has six float columns, a count and a three-valued category, like a wide penguin table. To
# keep the writing cheap, a file repeats one block of up to 100,000 generated rows (the parser
# reads every line, whatever it holds). Quick mode stops at $10^5$ rows; the full run goes to
# $3 \times 10^6$.

# %%
def block(rows: int) -> pd.DataFrame:
    """A generated table: x0..x5 float32 normal, a count 0..999, an island category."""
    frame = pd.DataFrame(rng.standard_normal((rows, 6), dtype=np.float32),
                         columns=[f"x{i}" for i in range(6)])
    frame["count"] = rng.integers(0, 1000, rows)
    frame["island"] = rng.choice(["Biscoe", "Dream", "Torgersen"], rows)
    return frame


def write_csv(path: Path, rows: int, one_block: pd.DataFrame) -> None:
    """A CSV of `rows` data lines: `one_block`'s lines repeated (the last copy cut short)."""
    lines = one_block.to_csv(index=False, float_format="%.6g").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    with open(path, "w") as out:
        out.write(header)
        for start in range(0, rows, len(body)):
            out.writelines(body[: min(len(body), rows - start)])


def timed(fn):
    """fn()'s result, its wall-clock seconds and its CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


COMPACT = {**{f"x{i}": np.float32 for i in range(6)}, "count": np.int32, "island": "category"}
row_counts = [10**3, 10**4, 10**5] if run.quick else [10**4, 10**5, 10**6, 3 * 10**6]
one_block = block(min(max(row_counts), 10**5))
loads = []
with tempfile.TemporaryDirectory() as folder:
    for rows in row_counts:
        path = Path(folder) / f"table_{rows}.csv"
        write_csv(path, rows, one_block)
        frame, wall, cpu = timed(lambda path=path: pd.read_csv(path))
        compact, compact_wall, _ = timed(lambda path=path: pd.read_csv(path, dtype=COMPACT))
        assert len(frame) == len(compact) == rows
        loads.append({
            "rows": rows, "file_mib": path.stat().st_size / MiB, "read_s": wall,
            "read_cpu_s": cpu, "compact_read_s": compact_wall,
            "memory_mib": frame.memory_usage(deep=True).sum() / MiB,
            "compact_memory_mib": compact.memory_usage(deep=True).sum() / MiB,
            "float32_array_mib": compact.select_dtypes("number").to_numpy(np.float32).nbytes / MiB,
        })
        del frame, compact
    chunk_means, chunk_wall, _ = timed(lambda path=path: [
        chunk["x0"].sum() for chunk in pd.read_csv(path, usecols=["x0"], chunksize=100_000)])
    folder_files = sorted(p.name for p in Path(folder).iterdir())
print("files written:", folder_files, "; folder removed:", not Path(folder).exists())
pd.DataFrame(loads).round(3)

# %% [markdown]
# What the largest file says, per row and per GiB, and what that means for a laptop with
# 16 GiB of memory and a server with 1 TiB (estimates from this run's figures, assuming that
# memory and read time stay proportional to the rows; memory does so exactly in the table):

# %%
largest = loads[-1]
bytes_per_row = largest["memory_mib"] * MiB / largest["rows"]
compact_bytes_per_row = largest["compact_memory_mib"] * MiB / largest["rows"]
seconds_per_gib = largest["read_cpu_s"] / (largest["file_mib"] / 1024)
estimates = {}
print("rows that fit in a third of the memory (leaving room for copies):")
for machine, gib in [("laptop, 16 GiB", 16), ("server, 1 TiB", 1024)]:
    usable = gib * 2**30 / 3  # leave room for the copies that processing makes
    estimates[machine] = {"rows_default": usable / bytes_per_row,
                          "rows_compact": usable / compact_bytes_per_row}
    print(f"  {machine}: about {usable / bytes_per_row / 1e6:,.0f} million with pandas' "
          f"default types, {usable / compact_bytes_per_row / 1e6:,.0f} million with compact ones")
print(f"bytes per row: {bytes_per_row:.0f} default, {compact_bytes_per_row:.0f} compact; "
      f"CSV bytes per row: {largest['file_mib'] * MiB / largest['rows']:.0f}")
print(f"reading speed: {seconds_per_gib:.1f} CPU seconds per GiB of CSV "
      f"({seconds_per_gib * 1024 / 3600:.1f} hours per TiB on one core)")
print(f"a column summed chunk by chunk (100,000 rows at a time): {chunk_wall:.2f} s for "
      f"{len(chunk_means)} chunk(s), never holding more than one")
answers["3"] = {"loads": loads, "bytes_per_row": bytes_per_row,
                "compact_bytes_per_row": compact_bytes_per_row,
                "seconds_per_gib": seconds_per_gib, "estimates": estimates,
                "chunks": len(chunk_means), "files_written": folder_files,
                "folder_removed": not Path(folder).exists()}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Loading this way is bounded by memory long before time. Read time grows with the rows, at
# about the CPU seconds per GiB printed above: hours for a terabyte, seconds to minutes for
# gigabytes. Memory is
# the binding limit: the whole table must sit in RAM as a DataFrame, which here takes about as
# many bytes as the CSV text with pandas' defaults (float64, int64, strings) and less than half
# with declared compact types (float32, int32, `category` for the three islands), and
# processing makes copies (one-hot encoding, `fillna`, conversion to an array) that need room
# beside it. A 16 GiB laptop holds tens of millions of such rows; a server with more memory
# holds proportionally more, but `read_csv`'s default parser uses one core, so the extra cores
# of a server do not make it read faster (`engine="pyarrow"` reads with several threads). Past
# memory, read in chunks (`chunksize=`, as above) and process as a stream, or store the data in
# a binary, columnar format that can be read in parts (exercise 5).
#
# </details>

# %% [markdown]
# ### Exercise 4 — data with very many categories, or with labels that are all unique
#
# One-hot encoding makes a column per category: its width is the number of distinct values.
# Widths and dense float32 sizes for a column of $n$ rows with $k$ categories, up to all unique
# ($k = n$):

# %%
n_rows = 2_000 if run.quick else 5_000
one_hot = []
for k in [2, 10, 100, 1_000, n_rows]:
    labels = pd.Series(rng.permutation(np.arange(n_rows) % k).astype(str))
    width = pd.get_dummies(labels).shape[1]
    one_hot.append({"categories": k, "one_hot_width": width,
                    "float32_mib": n_rows * width * 4 / MiB, "rows_per_category": n_rows / k})
pd.DataFrame(one_hot)

# %% [markdown]
# The penguins' `Individual ID` is close to unique (190 distinct in 344 rows). Three ways to
# keep such a column narrow: drop it; keep the frequent values and pool the rest as "other";
# hash the labels into a fixed number of buckets (16 here).

# %%
ids = raw["Individual ID"]
counts = ids.value_counts()
pooled = ids.where(ids.map(counts) >= 3, "other")
hashed = pd.util.hash_array(ids.to_numpy(dtype=object)) % 16
id_widths = {"one_hot": pd.get_dummies(ids).shape[1], "pooled_min_3": pooled.nunique(),
             "hashed_16": int(pd.Series(hashed).nunique())}
print(f"Individual ID: {ids.nunique()} distinct values, {int((counts == 1).sum())} seen once;"
      f" widths {id_widths}")
answers["4"] = {"n_rows": n_rows, "one_hot": one_hot, "id_distinct": ids.nunique(),
                "id_seen_once": int((counts == 1).sum()), "id_widths": id_widths}

# %% [markdown]
# <details><summary>Answer</summary>
#
# One-hot width equals the number of categories (the table above), so with many categories the
# inputs become wide and sparse, and each column is backed by few rows, too few to learn a
# weight from. Remedies: pool rare values into "other" (the width fell to the printed
# number), hash values into a fixed number of buckets (width 16 whatever comes; collisions are
# the price), store the one-hot matrix sparse, or learn a short dense *embedding* vector per
# category, which is what deep learning does for words. Labels that are all unique are a
# different case: each one-hot column has a single 1, so the column can only memorise its own
# row, and a new example's label has no column at all. Such a column is an identifier, not a
# feature: leave it out, unless it encodes something (an ID that contains the nest, as here, or
# a date), which you then extract as its own feature.
#
# </details>

# %% [markdown]
# ### Exercise 5 — alternatives to pandas: NumPy files, Pillow, and others
#
# The penguins' four measurements, standardised (as a model would see them, so every float32
# digit counts), saved and loaded as CSV (pandas' default digits, and 4 significant digits), as
# a NumPy `.npy` file, memory-mapped from that file (`np.load(..., mmap_mode="r")` reads pages
# only when touched), and as Parquet (a compressed columnar format; pandas writes it with
# pyarrow):

# %%
measurements = penguins.select_dtypes("float64").dropna().to_numpy(np.float32)
measurements = (measurements - measurements.mean(axis=0)) / measurements.std(axis=0)
with tempfile.TemporaryDirectory() as folder:
    folder = Path(folder)
    pd.DataFrame(measurements).to_csv(folder / "m.csv", index=False)
    pd.DataFrame(measurements).to_csv(folder / "m4.csv", index=False, float_format="%.4g")
    np.save(folder / "m.npy", measurements)
    pd.DataFrame(measurements, columns=[f"m{i}" for i in range(4)]).to_parquet(folder / "m.pq")
    readers = {
        "csv (pandas)": lambda: pd.read_csv(folder / "m.csv").to_numpy(np.float32),
        "csv, 4 digits": lambda: pd.read_csv(folder / "m4.csv").to_numpy(np.float32),
        "npy (np.load)": lambda: np.load(folder / "m.npy"),
        "npy (mmap)": lambda: np.load(folder / "m.npy", mmap_mode="r"),
        "parquet (pandas)": lambda: pd.read_parquet(folder / "m.pq").to_numpy(np.float32),
    }
    sizes = {"csv (pandas)": "m.csv", "csv, 4 digits": "m4.csv", "npy (np.load)": "m.npy",
             "npy (mmap)": "m.npy", "parquet (pandas)": "m.pq"}
    formats = {}
    for name, read in readers.items():
        loaded, wall, _ = timed(read)
        formats[name] = {"kb": (folder / sizes[name]).stat().st_size / 1024,
                         "read_ms": wall * 1e3,
                         "max_abs_diff": float(np.max(np.abs(np.asarray(loaded) - measurements)))}
    from_mmap = jnp.asarray(np.load(folder / "m.npy", mmap_mode="r"))
for name, row in formats.items():
    print(f"{name:17s} {row['kb']:6.1f} kB, read in {row['read_ms']:6.2f} ms, "
          f"max |loaded - saved| = {row['max_abs_diff']:.2g}")
print("JAX array straight from the memory-mapped file:", from_mmap.shape, from_mmap.dtype)
answers["5"] = {"formats": formats, "jax_from_mmap_shape": from_mmap.shape}

# %% [markdown]
# <details><summary>Answer</summary>
#
# For arrays of numbers, NumPy's own format is the simplest alternative: `np.save`/`np.load`
# store the raw bytes with the shape and dtype, so loading is a copy (or, memory-mapped, no read
# at all until used) and always exact. A CSV is exact only if it was written with enough
# digits: pandas' default wrote enough here (difference 0), the 4-digit file lost the rest
# (its printed `max_abs_diff`). Text also takes more bytes and must be parsed (the sizes and
# times above; the first Parquet read includes loading its reader). `.npz` holds several
# arrays in one file.
# Parquet and Arrow (through pandas or pyarrow directly) are columnar, typed, compressed and
# readable in parts, the usual choice for big tables; Polars is a faster DataFrame library on
# Arrow. Images are not tables: Pillow (`PIL.Image.open(path)`, then `np.asarray`) decodes
# PNG and JPEG into arrays, and dataset libraries store many examples in record files; this
# project reads FashionMNIST through TensorFlow Datasets into `array_record` files
# (`jaxhw.data.fashion_mnist`). Whatever the format, the goal is the same: typed arrays that
# `jnp.asarray` takes directly, as it did from the memory-mapped file above.
#
# </details>

# %%
run.save_metrics({"answers": answers})
