"""The book's minibatch SGD from scratch (3.4), as an optax GradientTransformation."""

from __future__ import annotations

import math
from numbers import Real

import jax
import optax


def sgd(learning_rate: float) -> optax.GradientTransformation:
    """Minibatch SGD as d2l writes it: `param -= lr * grad`; no state.

    The same maths as `optax.sgd(learning_rate)`, so the two give equal params. A traced
    learning rate works too, e.g. `optax.inject_hyperparams(sgd)(learning_rate=0.1)`.
    """
    if isinstance(learning_rate, bool) or (isinstance(learning_rate, Real) and not (
            math.isfinite(learning_rate) and learning_rate > 0)):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None):
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformation(init, update)
