"""2.1 Data manipulation: JAX arrays as d2l's ndarray, and where immutability changes the story."""

# %% [markdown]
# # 2.1 Data Manipulation
# JAX arrays behave like NumPy arrays, with two differences that shape everything after:
# they are **immutable** (updates make new arrays, `X.at[i].set(v)`), and randomness takes an
# **explicit key** (the same key always gives the same numbers).

# %%
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import run_as_script

SECTION = "2.1"
TITLE = "Data Manipulation"


def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the section's cells; return its metrics (no figures). `quick` changes nothing here."""
    m: dict[str, Any] = {}

    # %% [markdown]
    # ## Getting started
    # `arange(12)` as float32, its size and shape; `reshape` with an explicit or inferred axis.

    # %%
    x = jnp.arange(12, dtype=jnp.float32)
    X = x.reshape(3, 4)
    m["arange"] = x
    m["size"] = x.size
    m["shape"] = x.shape
    m["reshape_3x4"] = X
    m["reshape_3x_1_equal"] = bool(jnp.array_equal(x.reshape(3, -1), X))
    m["zeros_sum"] = jnp.zeros((2, 3, 4)).sum()
    m["ones_sum"] = jnp.ones((2, 3, 4)).sum()
    m["zeros_ones_shape"] = jnp.ones((2, 3, 4)).shape

    # %% [markdown]
    # Random numbers need a key. The same key reproduces a draw; split keys give new draws.

    # %%
    key = jax.random.key(seed)
    draw = jax.random.normal(key, (3, 4))
    key_a, key_b = jax.random.split(key)
    m["normal_shape"] = draw.shape
    m["normal_same_key_equal"] = bool(jnp.array_equal(draw, jax.random.normal(key, (3, 4))))
    m["normal_split_keys_differ"] = not bool(jnp.array_equal(
        jax.random.normal(key_a, (3, 4)), jax.random.normal(key_b, (3, 4))))
    m["from_list"] = jnp.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])

    # %% [markdown]
    # ## Indexing and slicing
    # Reading works as in NumPy. Writing does not: `X[1, 2] = 17` raises `TypeError`. The
    # functional update `X.at[...].set(...)` returns a new array and leaves `X` as it was.

    # %%
    m["last_row"] = X[-1]
    m["rows_1_3"] = X[1:3]
    try:
        X[1, 2] = 17
    except TypeError as err:
        m["item_assignment_error"] = f"TypeError: {str(err).splitlines()[0]}"
    m["at_set_17"] = X.at[1, 2].set(17)
    m["at_set_12"] = X.at[:2, :].set(12)
    m["X_unchanged_by_at"] = bool(jnp.array_equal(X, x.reshape(3, 4)))

    # %% [markdown]
    # ## Operations
    # Unary `exp`, and the elementwise binary operators.

    # %%
    m["exp"] = jnp.exp(x)
    a = jnp.array([1.0, 2, 4, 8])
    b = jnp.array([2.0, 2, 2, 2])
    m["add"], m["sub"], m["mul"], m["div"], m["pow"] = a + b, a - b, a * b, a / b, a**b

    # %%
    Y = jnp.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    m["concat_axis0"] = jnp.concatenate((X, Y), axis=0)
    m["concat_axis1"] = jnp.concatenate((X, Y), axis=1)
    m["X_eq_Y"], m["X_lt_Y"], m["X_gt_Y"] = X == Y, X < Y, X > Y
    m["X_sum"] = X.sum()

    # %% [markdown]
    # ## Broadcasting
    # Axes of length 1 stretch to match: (3, 1) + (1, 2) -> (3, 2); a (1,) array stretches
    # over every axis of a (3, 4, 5) array.

    # %%
    col = jnp.arange(3).reshape(3, 1)
    row = jnp.arange(2).reshape(1, 2)
    m["broadcast_3x1_1x2"] = col + row
    tensor = jnp.arange(60, dtype=jnp.float32).reshape(3, 4, 5)
    one_element = jnp.array([3.5])
    stretched = one_element + tensor
    m["broadcast_1_345_shape"] = stretched.shape
    m["broadcast_1_345_equal"] = bool(jnp.array_equal(stretched, tensor + 3.5))

    # %% [markdown]
    # ## Saving memory
    # `Y = Y + X` makes a new array and rebinds the name; so does `Y += X` (JAX arrays are
    # immutable, there is no in-place add).

    # %%
    before = id(Y)
    Y = Y + X
    m["rebind_same_id"] = id(Y) == before
    before = id(Y)
    Y += X
    m["augmented_same_id"] = id(Y) == before

    # %% [markdown]
    # JAX's way to reuse a buffer is *donation*: `jax.jit(f, donate_argnums=0)` lets XLA write
    # the output into argument 0's memory. The donated array is then consumed: `is_deleted()`
    # is true and any use raises `RuntimeError`. XLA takes a donation only when an output can
    # alias it (same shape and dtype); otherwise JAX warns and the input survives.

    # %%
    Z = jnp.zeros_like(Y)
    z_buffer = Z.unsafe_buffer_pointer()
    add_into = jax.jit(lambda z, u, v: z.at[:].set(u + v), donate_argnums=0)
    new_Z = add_into(Z, X, Y)
    m["donated_input_deleted"] = Z.is_deleted()
    m["donated_buffer_reused"] = new_Z.unsafe_buffer_pointer() == z_buffer
    m["donated_result_correct"] = bool(jnp.array_equal(new_Z, X + Y))
    try:
        Z + 1
    except RuntimeError as err:
        m["donated_access_error"] = f"RuntimeError: {err}"

    # %%
    V = jnp.ones((3, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        total = jax.jit(lambda v: v.sum(), donate_argnums=0)(V)
    m["unusable_donation_warning"] = next(
        (str(w.message).splitlines()[0] for w in caught if "donated" in str(w.message)), None)
    m["unusable_donation_input_deleted"] = V.is_deleted()
    m["unusable_donation_result"] = total

    # %% [markdown]
    # ## Conversion to other Python objects
    # `np.asarray` gives a read-only NumPy array (on CPU it can share the JAX buffer);
    # `jnp.asarray` puts it back on the device. `.item()` works on any one-element array,
    # but `float()`/`int()` want a 0-d array in JAX: the book's `float(torch.tensor([3.5]))`
    # is a `TypeError` here.

    # %%
    A = np.asarray(X)
    B = jnp.asarray(A)
    m["numpy_is_ndarray"] = isinstance(A, np.ndarray)
    m["numpy_writeable"] = bool(A.flags.writeable)
    m["jax_is_array"] = isinstance(B, jax.Array)
    m["numpy_round_trip_equal"] = bool(jnp.array_equal(B, X))
    scalar = jnp.array([3.5])
    m["item"] = scalar.item()
    try:
        float(scalar)
    except TypeError as err:
        m["float_of_1d_error"] = f"TypeError: {err}"
    m["float"] = float(scalar[0])
    m["int"] = int(scalar[0])
    return m


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
