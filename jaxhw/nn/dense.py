"""`X @ W` with a weight gradient laid out for XLA's CPU matmul (a speed detail, same maths)."""

from __future__ import annotations

import jax
from jax import Array

# A weight with at most this many outputs is "thin": its gradient is computed as (G^T X)^T.
THIN_OUTPUTS = 64


@jax.custom_vjp
def dense(X: Array, W: Array) -> Array:
    """X: (n, d) @ W: (d, q) -> (n, q); gradients equal those of `X @ W`.

    For a thin W (q <= THIN_OUTPUTS, e.g. the 10 outputs of softmax regression) the weight
    gradient X^T G is computed as (G^T X)^T: XLA's CPU GEMM makes the wide (q, d) product about
    twice as fast as the tall (d, q) one, and that product is half the work of a
    softmax-regression step. The optimization barrier keeps XLA from folding the transpose
    back. A wider W (the MLP's 784 x 256) gets X^T G as it is: there the transpose of the
    result costs more than it saves (~5% of an MLP epoch). Reverse mode only (no `jax.jvp`).
    """
    return X @ W


def _dense_fwd(X: Array, W: Array) -> tuple[Array, tuple[Array, Array]]:
    return X @ W, (X, W)


def _dense_bwd(residuals: tuple[Array, Array], G: Array) -> tuple[Array, Array]:
    X, W = residuals
    if W.shape[-1] > THIN_OUTPUTS:
        return G @ W.T, X.T @ G
    return G @ W.T, jax.lax.optimization_barrier(G.T @ X).T


dense.defvjp(_dense_fwd, _dense_bwd)
