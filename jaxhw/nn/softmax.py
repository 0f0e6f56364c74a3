"""Softmax as the book writes it (4.4), the numerically stable softmax, and log-softmax.

The book's `exp(X) / rowsum` overflows once a float32 logit passes ~88.7 (exp(89) = inf, and
inf / inf = nan). Subtracting each row's maximum first changes nothing mathematically, since
softmax(X) = softmax(X - c) for any per-row constant c, and keeps every exponent <= 0.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array, lax


def book_softmax(X: Array) -> Array:
    """exp(X) / row sums, exactly as the book writes it; X: (n, q) -> (n, q), rows sum to 1."""
    X_exp = jnp.exp(X)
    partition = X_exp.sum(axis=-1, keepdims=True)
    return X_exp / partition


def log_softmax(X: Array) -> Array:
    """log softmax(X) as (X - max) - log sum exp(X - max); X: (n, q) -> (n, q), all <= 0."""
    # The shift cancels in the result, so its gradient is zero: stop_gradient only skips work.
    shifted = X - lax.stop_gradient(X.max(axis=-1, keepdims=True))
    return shifted - jnp.log(jnp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(X: Array) -> Array:
    """Numerically stable softmax, exp(log_softmax(X)); X: (n, q) -> (n, q), rows sum to 1."""
    return jnp.exp(log_softmax(X))
