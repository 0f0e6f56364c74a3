"""Losses over a batch: each returns the mean over examples, a scalar."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array


def squared_loss(y_hat: Array, y: Array) -> Array:
    """Mean of (y_hat - y)^2 / 2 (3.1); y is reshaped to y_hat's shape, so (n,) and (n, 1) mix."""
    return jnp.mean((y_hat - jnp.reshape(y, y_hat.shape)) ** 2 / 2)


def absolute_loss(y_hat: Array, y: Array) -> Array:
    """Mean of |y_hat - y| (the L1 loss of 3.4's exercise)."""
    return jnp.mean(jnp.abs(y_hat - jnp.reshape(y, y_hat.shape)))
