"""Softmax regression from scratch (4.4): logits `O = X W + b`, one affine layer, q outputs.

`apply` returns logits; `jaxhw.nn.softmax.softmax(apply(params, X))` gives probabilities, and
`jaxhw.nn.losses.cross_entropy` trains on the logits without overflow.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_key, check_params, check_sizes
from jaxhw.nn.images import flatten_images

Params = dict[str, Array]
SHAPES = {"W": ("num_inputs", "num_outputs"), "b": ("num_outputs",)}  # what apply wants


def init(key: Array, num_inputs: int = 784, num_outputs: int = 10,
         sigma: float = 0.01) -> Params:
    """W: (num_inputs, num_outputs) ~ N(0, sigma^2), b: (num_outputs,) zeros, as the book."""
    check_key(key)
    check_sizes(num_inputs=num_inputs, num_outputs=num_outputs)
    return {"W": sigma * jax.random.normal(key, (num_inputs, num_outputs)),
            "b": jnp.zeros((num_outputs,))}


def apply(params: Params, X: Array) -> Array:
    """X: (n, ...) uint8 images or float features, num_inputs values each -> logits (n, q)."""
    sizes = check_params("softmax_regression", params, SHAPES)
    X = flatten_images(X, sizes["num_inputs"])
    return X @ params["W"] + params["b"]
