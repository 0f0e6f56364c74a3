"""`X @ W` with a weight gradient laid out for XLA's CPU matmul (a speed detail, same maths)."""

from __future__ import annotations

import jax
from jax import Array


@jax.custom_vjp
def dense(X: Array, W: Array) -> Array:
    """X: (n, d) @ W: (d, q) -> (n, q); gradients equal those of `X @ W`.

    The weight gradient X^T G is computed as (G^T X)^T: for a thin W (q = 10 outputs) XLA's CPU
    GEMM makes the wide (q, d) product about twice as fast as the tall (d, q) one, and that
    product is half the work of a softmax-regression step. The optimization barrier keeps XLA
    from folding the transpose back. Reverse mode only (no `jax.jvp` through it).
    """
    return X @ W


def _dense_fwd(X: Array, W: Array) -> tuple[Array, tuple[Array, Array]]:
    return X @ W, (X, W)


def _dense_bwd(residuals: tuple[Array, Array], G: Array) -> tuple[Array, Array]:
    X, W = residuals
    return G @ W.T, jax.lax.optimization_barrier(G.T @ X).T


dense.defvjp(_dense_fwd, _dense_bwd)
