"""Losses over a batch: each returns the mean over examples, a scalar (as `fit` expects).

The book's losses are means too (3.4's `reduce_mean`, 4.4's `cross_entropy`), except where its
exercise writes a sum (3.4's absolute loss): a sum makes the gradient, and so each SGD step,
batch-size times larger.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from jaxhw.nn.softmax import log_softmax


def _like(y: Array, y_hat: Array, loss: str) -> Array:
    """`y` reshaped to the predictions' shape; ValueError naming both when the sizes differ."""
    if jnp.size(y) != jnp.size(y_hat):
        raise ValueError(f"{loss}: y has shape {jnp.shape(y)} but the predictions have shape "
                         f"{jnp.shape(y_hat)}; they must hold the same number of values")
    return jnp.reshape(y, jnp.shape(y_hat))


def squared_loss(y_hat: Array, y: Array) -> Array:
    """Mean over the batch of (y_hat - y)^2 / 2, as the book's (3.1, 3.4); y is reshaped to
    y_hat's shape, so (n,) and (n, 1) mix."""
    return jnp.mean((y_hat - _like(y, y_hat, "squared_loss")) ** 2 / 2)


def absolute_loss(y_hat: Array, y: Array) -> Array:
    """Mean over the batch of |y_hat - y|: the L1 loss of 3.4's exercise, which writes a sum,
    `(y_hat - y).abs().sum()`; the sum's gradient (and SGD step) is batch-size times this
    mean's, so the book's sum at learning rate lr equals this mean at lr * batch_size."""
    return jnp.mean(jnp.abs(y_hat - _like(y, y_hat, "absolute_loss")))


def _check_labels(logits: Array, y: Array, loss: str) -> Array:
    """y as (n, 1) integer labels, one per row of logits (n, q); ValueError naming the loss,
    with the fix for one-hot labels (y.argmax(-1)) and whole numbers as floats (y.astype(int))."""
    one_hot = y.ndim == 2 and y.shape == logits.shape  # checked while tracing: free in the step
    fix = ("; y has the logits' shape, as one-hot labels do: pass y.argmax(-1), the class "
           "indices" if one_hot else "")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"{loss}: y must hold integer class labels, got dtype {y.dtype}"
                         + (fix or " (a float label such as 2.5 would match no class; for whole "
                                   "numbers pass y.astype(int))"))
    if logits.ndim != 2 or y.shape != logits.shape[:1]:
        raise ValueError(f"{loss}: y must have shape ({logits.shape[0]},), one label per row of "
                         f"the predictions of shape {logits.shape}; got {y.shape}{fix}")
    return y.reshape(-1, 1)


def book_cross_entropy(y_hat: Array, y: Array) -> Array:
    """The book's cross-entropy (4.4): mean of -log y_hat[i, y_i], picked by fancy indexing.

    y_hat: (n, q) probabilities (e.g. `book_softmax` outputs); y: (n,) integer labels. A label
    outside [0, q) gives nan (plain indexing would clamp or wrap it to another class). A
    probability that underflowed to 0 gives inf; `cross_entropy` on logits never does.
    """
    y = _check_labels(y_hat, y, "book_cross_entropy")[:, 0]
    picked = y_hat[jnp.arange(y_hat.shape[0]), y]
    valid = (y >= 0) & (y < y_hat.shape[1])
    return -jnp.log(jnp.where(valid, picked, jnp.nan)).mean()


def cross_entropy(logits: Array, y: Array) -> Array:
    """Stable softmax cross-entropy from logits: mean of -log_softmax(logits)[i, y_i].

    logits: (n, q) unnormalised scores; y: (n,) integer labels; a label outside [0, q) gives
    nan. Equals `book_cross_entropy(book_softmax(logits), y)` wherever the book's is finite.
    """
    y = _check_labels(logits, y, "cross_entropy")
    log_probs = log_softmax(logits)
    # Each row's label entry picked by a mask: the same values and gradients as a gather.
    q = logits.shape[-1]
    picked = jnp.where(jnp.arange(q) == y, log_probs, 0.0).sum(axis=-1, keepdims=True)
    return -jnp.where((y >= 0) & (y < q), picked, jnp.nan).mean()
