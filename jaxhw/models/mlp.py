"""The multilayer perceptron from scratch (5.2): `relu(X W1 + b1) W2 + b2`.

Weights N(0, 0.01) and zero biases, as the book. `num_hiddens` may list several widths (the
book's exercise with more hidden layers): W1, b1, W2, b2, ... one pair per layer. The hidden
layers' nonlinearity is ReLU unless `apply` is given another (the book's exercise with other
activations): `functools.partial(mlp.apply, activation=jnp.tanh)` is a model like any other.
The concise Flax version is `jaxhw.models.concise_mlp`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_key, check_params, check_sizes, hidden_widths
from jaxhw.nn.activations import relu
from jaxhw.nn.images import flatten_images

Params = dict[str, Array]


def init(key: Array, num_inputs: int = 784, num_hiddens: int | Sequence[int] = 256,
         num_outputs: int = 10, sigma: float = 0.01) -> Params:
    """W1: (num_inputs, h1), b1: (h1,), ..., Wk: (h_last, num_outputs), bk: (num_outputs,)."""
    check_key(key)
    check_sizes(num_inputs=num_inputs, num_outputs=num_outputs)
    widths = (num_inputs, *hidden_widths(num_hiddens), num_outputs)
    keys = jax.random.split(key, len(widths) - 1)
    params = {}
    for i in range(1, len(widths)):
        params[f"W{i}"] = sigma * jax.random.normal(keys[i - 1], (widths[i - 1], widths[i]))
        params[f"b{i}"] = jnp.zeros((widths[i],))
    return params


def param_shapes(num_layers: int) -> dict[str, tuple[str, ...]]:
    """What `apply` wants of `num_layers` layers: W1 (num_inputs, num_hiddens[0]), b1, ...,
    Wk (num_hiddens[k-2], num_outputs), bk (num_outputs,)."""
    widths = ["num_inputs", *(f"num_hiddens[{i}]" for i in range(num_layers - 1)), "num_outputs"]
    shapes = {}
    for i in range(1, num_layers + 1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (widths[i - 1], widths[i]), (widths[i],)
    return shapes


def apply(params: Params, X: Array, activation: Callable[[Array], Array] = relu) -> Array:
    """X: (n, ...) uint8 images or float features -> logits (n, num_outputs); `activation`
    after each hidden layer."""
    num_layers = max(len(params) // 2, 1) if isinstance(params, Mapping) else 1
    sizes = check_params("mlp", params, param_shapes(num_layers))
    H = flatten_images(X, sizes["num_inputs"])
    for i in range(1, num_layers):
        H = activation(H @ params[f"W{i}"] + params[f"b{i}"])
    return H @ params[f"W{num_layers}"] + params[f"b{num_layers}"]
