"""Losses over a batch: each returns the mean over examples, a scalar."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from jaxhw.nn.softmax import log_softmax


def squared_loss(y_hat: Array, y: Array) -> Array:
    """Mean of (y_hat - y)^2 / 2 (3.1); y is reshaped to y_hat's shape, so (n,) and (n, 1) mix."""
    return jnp.mean((y_hat - jnp.reshape(y, y_hat.shape)) ** 2 / 2)


def absolute_loss(y_hat: Array, y: Array) -> Array:
    """Mean of |y_hat - y| (the L1 loss of 3.4's exercise)."""
    return jnp.mean(jnp.abs(y_hat - jnp.reshape(y, y_hat.shape)))


def book_cross_entropy(y_hat: Array, y: Array) -> Array:
    """The book's cross-entropy (4.4): mean of -log y_hat[i, y_i] picked by fancy indexing.

    y_hat: (n, q) probabilities (e.g. `book_softmax` outputs); y: (n,) integer labels.
    A probability that underflowed to 0 gives inf; `cross_entropy` on logits never does.
    """
    return -jnp.log(y_hat[jnp.arange(y_hat.shape[0]), y]).mean()


def cross_entropy(logits: Array, y: Array) -> Array:
    """Stable softmax cross-entropy from logits: mean of -log_softmax(logits)[i, y_i].

    logits: (n, q) unnormalised scores; y: (n,) integer labels. Equals
    `book_cross_entropy(book_softmax(logits), y)` wherever the book's version is finite.
    """
    log_probs = log_softmax(logits)
    return -jnp.take_along_axis(log_probs, y.reshape(-1, 1).astype(jnp.int32), axis=-1).mean()
