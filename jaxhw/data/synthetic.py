"""Synthetic linear-regression data (3.3): y = X w + b + noise."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def synthetic_regression(key: Array, w: Array, b: float, *, num_train: int = 1000,
                         num_val: int = 1000, noise: float = 0.01
                         ) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Train and val splits `(X (n, d), y (n, 1))` with X ~ N(0, 1) and Gaussian label noise."""
    w = jnp.asarray(w, dtype=jnp.float32)
    if w.ndim != 1:
        raise ValueError(f"w must be a vector (d,), got shape {w.shape}")
    if num_train < 1 or num_val < 0:
        raise ValueError(f"need num_train >= 1 and num_val >= 0, got {num_train}, {num_val}")
    n = num_train + num_val
    kx, ke = jax.random.split(key)
    X = jax.random.normal(kx, (n, w.shape[0]))
    y = (X @ w + b)[:, None] + noise * jax.random.normal(ke, (n, 1))
    return (X[:num_train], y[:num_train]), (X[num_train:], y[num_train:])
