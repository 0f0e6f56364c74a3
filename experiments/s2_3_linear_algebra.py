"""2.3 Linear algebra: scalars to tensors, reductions, products and norms in jax.numpy."""

# %% [markdown]
# # 2.3 Linear Algebra
# Every operation here is one `jax.numpy` call. The one JAX-specific point: arrays are
# immutable, so the book's `A.clone()` is unnecessary (`B = A` can never be changed through
# `A`); `A.copy()` still exists and makes a new buffer.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.numpy as jnp

from experiments.runner import run_as_script

SECTION = "2.3"
TITLE = "Linear Algebra"


def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the section's cells; return the values the book prints. No figures; no randomness."""
    m: dict[str, Any] = {}

    # %% [markdown]
    # ## Scalars

    # %%
    x, y = jnp.array(3.0), jnp.array(2.0)
    m["scalar_ops"] = jnp.stack([x + y, x * y, x / y, x**y])

    # %% [markdown]
    # ## Vectors and matrices

    # %%
    v = jnp.arange(3)
    m["vector"], m["vector_2"], m["vector_len"], m["vector_shape"] = v, v[2], len(v), v.shape
    A = jnp.arange(6).reshape(3, 2)
    m["A"], m["A_T"] = A, A.T
    B = jnp.array([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
    m["B_symmetric"] = bool((B == B.T).all())

    # %% [markdown]
    # ## Tensors, and basic properties of tensor arithmetic

    # %%
    T = jnp.arange(24).reshape(2, 3, 4)
    m["tensor_shape"] = T.shape
    A = jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
    B = A.copy()
    m["copy_new_buffer"] = B.unsafe_buffer_pointer() != A.unsafe_buffer_pointer()
    m["A_plus_B"] = A + B
    m["hadamard"] = A * B
    a = 2
    m["scalar_plus_tensor"] = a + T
    m["scalar_times_tensor_shape"] = (a * T).shape

    # %% [markdown]
    # ## Reduction
    # `sum` over all axes, over one axis (that axis disappears) or several; `mean` as `sum/size`.

    # %%
    xf = jnp.arange(3, dtype=jnp.float32)
    m["x_sum"] = xf.sum()
    m["A_sum"] = A.sum()
    m["A_sum_axis0"], m["A_sum_axis0_shape"] = A.sum(axis=0), A.sum(axis=0).shape
    m["A_sum_axis1"], m["A_sum_axis1_shape"] = A.sum(axis=1), A.sum(axis=1).shape
    m["A_sum_axis01"] = A.sum(axis=(0, 1))
    m["A_mean"], m["A_mean_by_sum"] = A.mean(), A.sum() / A.size
    m["A_mean_axis0"], m["A_mean_axis0_by_sum"] = A.mean(axis=0), A.sum(axis=0) / A.shape[0]

    # %% [markdown]
    # ## Non-reduction sum
    # `keepdims=True` keeps the summed axis with length 1, so `A / sum_A` broadcasts row-wise.

    # %%
    sum_A = A.sum(axis=1, keepdims=True)
    m["sum_A_keepdims"], m["sum_A_keepdims_shape"] = sum_A, sum_A.shape
    m["A_div_sum_A"] = A / sum_A
    m["A_cumsum_axis0"] = A.cumsum(axis=0)

    # %% [markdown]
    # ## Dot products, matrix-vector and matrix-matrix products

    # %%
    ones3 = jnp.ones(3, dtype=jnp.float32)
    m["dot"], m["dot_by_sum"] = jnp.dot(xf, ones3), jnp.sum(xf * ones3)
    m["matvec"], m["matvec_by_matmul"] = jnp.dot(A, xf), A @ xf
    m["matmul"] = A @ jnp.ones((3, 4))

    # %% [markdown]
    # ## Norms
    # L2 and L1 of u = [3, -4]; the Frobenius norm of a (4, 9) matrix of ones is sqrt(36).

    # %%
    u = jnp.array([3.0, -4.0])
    m["l2"] = jnp.linalg.norm(u)
    m["l1"] = jnp.abs(u).sum()
    m["frobenius"] = jnp.linalg.norm(jnp.ones((4, 9)))
    return m


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
