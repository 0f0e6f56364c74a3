"""The book's minibatch SGD from scratch (3.4), as an optax GradientTransformation."""

from __future__ import annotations

import dataclasses
import math

import jax
import optax


@dataclasses.dataclass(frozen=True)
class _Init:
    def __call__(self, params: optax.Params) -> optax.EmptyState:
        del params
        return optax.EmptyState()


@dataclasses.dataclass(frozen=True)
class _Update:
    learning_rate: float

    def __call__(self, grads: optax.Updates, state: optax.EmptyState,
                 params: optax.Params | None = None) -> tuple[optax.Updates, optax.EmptyState]:
        del params
        return jax.tree.map(lambda g: -self.learning_rate * g, grads), state


def sgd(learning_rate: float) -> optax.GradientTransformation:
    """Minibatch SGD as d2l writes it: `param -= lr * grad`; stateless.

    The same maths as `optax.sgd(learning_rate)` without momentum, so the two give equal params.
    Its functions compare by value, so `sgd(0.1) == sgd(0.1)` and `fit` reuses a compiled epoch.
    """
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float) or not (
            math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    return optax.GradientTransformation(_Init(), _Update(float(learning_rate)))
