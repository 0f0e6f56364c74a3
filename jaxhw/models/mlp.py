"""Multilayer perceptrons (5.2): from scratch, and the concise Flax model, one init/apply pair each.

Scratch: `relu(X W1 + b1) W2 + b2` with weights N(0, 0.01), as the book. Concise: Flax Dense 256,
relu, Dense 10 with Flax's default (LeCun-normal) initialisation.

The concise model uses Flax Linen, not NNX: Linen's `module.init(key, X) -> params` and
`module.apply(params, X)` already are the pure pair our model contract asks for, with params a
plain dict pytree that optax and `fit` take as is. NNX modules are stateful objects; using one
here would mean `nnx.split` / `nnx.merge` around every call, adding a layer of conversion only
to arrive back at the same pair. Nothing else in jaxhw uses NNX, so the two are not mixed.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_sizes, flatten_images
from jaxhw.nn.activations import relu
from jaxhw.nn.dense import dense

Params = dict[str, Array]
FlaxParams = dict[str, Any]  # Linen variables: {"params": {layer: {"kernel", "bias"}}}


# jit: one compiled program instead of one per random op (eager ops each compile).
@functools.partial(jax.jit, static_argnames=("num_inputs", "num_hiddens", "num_outputs"))
def init(key: Array, num_inputs: int = 784, num_hiddens: int = 256, num_outputs: int = 10,
         sigma: float = 0.01) -> Params:
    """W1: (num_inputs, num_hiddens), W2: (num_hiddens, num_outputs) ~ N(0, sigma^2); b zeros."""
    check_sizes(num_inputs=num_inputs, num_hiddens=num_hiddens, num_outputs=num_outputs)
    k1, k2 = jax.random.split(key)
    return {"W1": sigma * jax.random.normal(k1, (num_inputs, num_hiddens)),
            "b1": jnp.zeros((num_hiddens,)),
            "W2": sigma * jax.random.normal(k2, (num_hiddens, num_outputs)),
            "b2": jnp.zeros((num_outputs,))}


def apply(params: Params, X: Array) -> Array:
    """X: (n, ...) uint8 images or float features -> logits (n, num_outputs)."""
    H = relu(dense(flatten_images(X, params["W1"].shape[0]), params["W1"]) + params["b1"])
    return dense(H, params["W2"]) + params["b2"]


class ConciseMLP(nn.Module):
    """Flax Linen MLP: flatten (uint8 scaled to [0, 1]), Dense(num_hiddens), relu, Dense(q)."""

    num_inputs: int
    num_hiddens: int
    num_outputs: int

    @nn.compact
    def __call__(self, X: Array) -> Array:
        """X: (n, ...) with num_inputs values per example -> logits (n, num_outputs)."""
        X = flatten_images(X, self.num_inputs)
        X = nn.relu(nn.Dense(self.num_hiddens, name="hidden")(X))
        return nn.Dense(self.num_outputs, name="output")(X)


def _module(params: FlaxParams) -> ConciseMLP:
    """The ConciseMLP whose parameters are `params`: its sizes are read off the kernels."""
    hidden, output = params["params"]["hidden"]["kernel"], params["params"]["output"]["kernel"]
    return ConciseMLP(hidden.shape[0], hidden.shape[1], output.shape[1])


@functools.partial(jax.jit, static_argnames=("num_inputs", "num_hiddens", "num_outputs"))
def concise_init(key: Array, num_inputs: int = 784, num_hiddens: int = 256,
                 num_outputs: int = 10) -> FlaxParams:
    """Linen variables {"params": {"hidden": {kernel, bias}, "output": {kernel, bias}}}."""
    check_sizes(num_inputs=num_inputs, num_hiddens=num_hiddens, num_outputs=num_outputs)
    module = ConciseMLP(num_inputs, num_hiddens, num_outputs)
    return module.init(key, jnp.zeros((1, num_inputs), jnp.float32))


def concise_apply(params: FlaxParams, X: Array) -> Array:
    """X: (n, ...) uint8 images or float features -> logits (n, num_outputs), via Linen apply."""
    return _module(params).apply(params, X)
