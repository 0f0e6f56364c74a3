"""`value_and_grad`: `jax.value_and_grad`, with thin weight gradients laid out for a CPU.

A speed detail kept under the rule in docs/DESIGN.md (invisible from the models, one function,
public JAX only, measured there): for a weight W of shape (d, q) with few columns, XLA's CPU
matrix product computes the gradient X^T G much faster as (G^T X)^T. Taking the gradient with
respect to W's transpose asks for exactly that; the numbers are the same, up to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

THIN = 64  # a 2-D parameter with at most this many columns counts as thin


def value_and_grad(loss: Callable[[Any, Any], jax.Array]) -> Callable[[Any, Any], tuple]:
    """`jax.value_and_grad(loss)` for `loss(params, batch)`; on a CPU, thin 2-D parameters'
    gradients are taken through their transposes (see the module docstring)."""
    if jax.default_backend() != "cpu":
        return jax.value_and_grad(loss)

    def value_and_grad_fn(params: Any, batch: Any) -> tuple[jax.Array, Any]:
        thin = jax.tree.map(lambda a: jnp.ndim(a) == 2 and jnp.shape(a)[1] <= THIN, params)

        def flip(tree: Any) -> Any:
            return jax.tree.map(lambda a, t: a.T if t else a, tree, thin)

        value, grads = jax.value_and_grad(lambda p: loss(flip(p), batch))(flip(params))
        # The barrier keeps XLA from folding the transposes back into the slow product.
        return value, flip(jax.lax.optimization_barrier(grads))

    return value_and_grad_fn
