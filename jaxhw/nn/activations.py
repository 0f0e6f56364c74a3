"""Activation functions (5.1) and their derivatives by autodiff.

Each activation is elementwise, so it is also a scalar function; `derivative(f)` is
`jax.vmap(jax.grad(f))`: the gradient of the scalar function, mapped over a vector of inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array


def relu(x: Array) -> Array:
    """max(x, 0), elementwise; derivative 0 for x <= 0 and 1 for x > 0 (the book's convention)."""
    # `jnp.where` rather than `jnp.maximum`: the gradient of maximum at a tie is 0.5.
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def sigmoid(x: Array) -> Array:
    """1 / (1 + exp(-x)), elementwise; lax.logistic, so large |x| neither overflows nor NaNs."""
    return jax.nn.sigmoid(x)


def tanh(x: Array) -> Array:
    """(1 - exp(-2x)) / (1 + exp(-2x)), elementwise, computed by jnp.tanh."""
    return jnp.tanh(x)


def swish(x: Array) -> Array:
    """x * sigmoid(x), elementwise (also called SiLU)."""
    return x * sigmoid(x)


def prelu(x: Array, alpha: float = 0.2) -> Array:
    """max(0, x) + alpha * min(0, x), elementwise; alpha = 0.2 as in the issue."""
    return jnp.where(x > 0, x, alpha * x)


def derivative(f: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """The elementwise derivative of a scalar function f: x (n,) -> f'(x) (n,), by vmap(grad)."""
    return jax.vmap(jax.grad(f))


def activations() -> dict[str, Callable[[Array], Array]]:
    """The five activations of 5.1 by name, pReLU with alpha = 0.2."""
    return {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "swish": swish,
            "prelu": functools.partial(prelu, alpha=0.2)}
