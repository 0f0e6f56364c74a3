"""Linear regression from scratch (3.4): `y_hat = X w + b`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_features, check_key, check_params, check_sizes

Params = dict[str, Array]
SHAPES = {"w": ("num_inputs", 1), "b": (1,)}  # what apply wants


def init(key: Array, num_inputs: int, sigma: float = 0.01) -> Params:
    """w: (num_inputs, 1) ~ N(0, sigma^2), b: (1,) zeros, as the book initialises them."""
    check_key(key)
    check_sizes(num_inputs=num_inputs)
    return {"w": sigma * jax.random.normal(key, (num_inputs, 1)), "b": jnp.zeros((1,))}


def apply(params: Params, X: Array) -> Array:
    """X: (n, num_inputs) -> (n, 1)."""
    check_features(X, check_params("linear", params, SHAPES)["num_inputs"])
    return X @ params["w"] + params["b"]
