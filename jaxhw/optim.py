"""The book's minibatch SGD from scratch (3.4), as an optax GradientTransformation."""

from __future__ import annotations

import jax
import optax


def sgd(learning_rate: float) -> optax.GradientTransformation:
    """Minibatch SGD as d2l writes it: `param -= lr * grad`; stateless.

    The same maths as `optax.sgd(learning_rate)` without momentum, so the two give equal params.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")

    def init(params: optax.Params) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(grads: optax.Updates, state: optax.EmptyState,
               params: optax.Params | None = None) -> tuple[optax.Updates, optax.EmptyState]:
        del params
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformation(init, update)
