"""The concise MLP of 5.2 in Flax Linen: Dense(num_hiddens), relu, Dense(num_outputs).

Flax's default (LeCun-normal) initialisation. `init`/`apply` give it the same contract as the
scratch models, so `fit` trains either.

Linen, not NNX: Linen's `module.init(key, X) -> params` and `module.apply(params, X)` already
are the pure pair our model contract asks for, with params a plain dict pytree that optax and
`fit` take as is. An NNX module is a stateful object; using one here would mean `nnx.split` /
`nnx.merge` around every call only to arrive back at the same pair. Nothing else in jaxhw uses
Flax modules, so the two are not mixed.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_key, check_sizes
from jaxhw.nn.images import flatten_images

Params = dict[str, Any]  # Linen variables: {"params": {layer: {"kernel", "bias"}}}


class MLP(nn.Module):
    """Flatten (uint8 scaled to [0, 1]), Dense(num_hiddens), relu, Dense(num_outputs)."""

    num_inputs: int
    num_hiddens: int
    num_outputs: int

    @nn.compact
    def __call__(self, X: Array) -> Array:
        """X: (n, ...) with num_inputs values per example -> logits (n, num_outputs)."""
        X = flatten_images(X, self.num_inputs)
        X = nn.relu(nn.Dense(self.num_hiddens, name="hidden")(X))
        return nn.Dense(self.num_outputs, name="output")(X)


def init(key: Array, num_inputs: int = 784, num_hiddens: int = 256,
         num_outputs: int = 10) -> Params:
    """Linen variables {"params": {"hidden": {kernel, bias}, "output": {kernel, bias}}}."""
    check_key(key)
    check_sizes(num_inputs=num_inputs, num_hiddens=num_hiddens, num_outputs=num_outputs)
    module = MLP(num_inputs, num_hiddens, num_outputs)
    # jit: Flax's initialisers as one compiled program, not one small program each.
    return jax.jit(module.init)(key, jnp.zeros((1, num_inputs), jnp.float32))


def apply(params: Params, X: Array) -> Array:
    """X: (n, ...) uint8 images or float features -> logits (n, num_outputs), via Linen apply."""
    hidden, output = params["params"]["hidden"]["kernel"], params["params"]["output"]["kernel"]
    return MLP(hidden.shape[0], hidden.shape[1], output.shape[1]).apply(params, X)
