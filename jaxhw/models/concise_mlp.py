"""The concise MLP of 5.2 in Flax NNX: Linear(num_hiddens), relu, Linear(num_outputs).

An NNX module is a Python object that holds its arrays, as a PyTorch module does.
`nnx.split(model)` takes it apart into its structure (a `GraphDef`: the layers and their
settings) and its arrays (an `nnx.State`, a pytree); `nnx.merge(graphdef, state)` builds the
module again. That gives the pair every jaxhw model is: `init` builds the module and returns
its State as `params`, and `apply(params, X)` merges a module from `params` and calls it. So
`fit`, `jax.grad`, optax and checkpoints see only the State, a pytree of arrays, as they see
the scratch models' dicts.

Where the GraphDef comes from: the params' shapes. `apply` reads the sizes from them (checking
every parameter, `SHAPES`) and rebuilds the structure with `nnx.eval_shape`, which allocates
no arrays and draws no random numbers. So the params alone say which MLP they are, as the
scratch models' weights do, and nothing is kept between calls. The rebuild happens each time
`apply` is traced (a few milliseconds, once per compile), never in a compiled step.

Flax's default initialisation: LeCun-normal kernels, zero biases.
"""

from __future__ import annotations

import functools

import jax
from flax import nnx
from jax import Array

from jaxhw.models.checks import check_key, check_params, check_sizes
from jaxhw.nn.images import flatten_images

Params = nnx.State  # {"hidden": {"kernel", "bias"}, "output": {"kernel", "bias"}}
SHAPES = {"hidden/kernel": ("num_inputs", "num_hiddens"), "hidden/bias": ("num_hiddens",),
          "output/kernel": ("num_hiddens", "num_outputs"), "output/bias": ("num_outputs",)}


class MLP(nnx.Module):
    """Flatten (uint8 scaled to [0, 1]), Linear(num_hiddens), relu, Linear(num_outputs)."""

    def __init__(self, num_inputs: int, num_hiddens: int, num_outputs: int, *,
                 rngs: nnx.Rngs) -> None:
        self.num_inputs = num_inputs
        self.hidden = nnx.Linear(num_inputs, num_hiddens, rngs=rngs)
        self.output = nnx.Linear(num_hiddens, num_outputs, rngs=rngs)

    def __call__(self, X: Array) -> Array:
        """X: (n, ...) with num_inputs values per example -> logits (n, num_outputs)."""
        X = flatten_images(X, self.num_inputs)
        return self.output(nnx.relu(self.hidden(X)))


def init(key: Array, num_inputs: int = 784, num_hiddens: int = 256,
         num_outputs: int = 10) -> Params:
    """The MLP's nnx.State: hidden/kernel (num_inputs, num_hiddens), hidden/bias
    (num_hiddens,), output/kernel (num_hiddens, num_outputs), output/bias (num_outputs,)."""
    check_key(key)
    check_sizes(num_inputs=num_inputs, num_hiddens=num_hiddens, num_outputs=num_outputs)
    return _init(key, num_inputs, num_hiddens, num_outputs)


# jit: Flax's initialisers as one compiled program per set of sizes, not one small one each.
@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _init(key: Array, num_inputs: int, num_hiddens: int, num_outputs: int) -> Params:
    model = MLP(num_inputs, num_hiddens, num_outputs, rngs=nnx.Rngs(params=key))
    _, params = nnx.split(model)  # the graphdef is rebuilt from the params' shapes in apply
    return params


def graphdef(num_inputs: int, num_hiddens: int, num_outputs: int) -> nnx.GraphDef:
    """The structure of an MLP of these sizes, without arrays (`nnx.eval_shape` builds it
    abstractly: nothing is allocated or drawn)."""
    abstract = nnx.eval_shape(lambda: MLP(num_inputs, num_hiddens, num_outputs,
                                          rngs=nnx.Rngs(params=0)))
    return nnx.graphdef(abstract)


def apply(params: Params, X: Array) -> Array:
    """X: (n, ...) uint8 images or float features -> logits (n, num_outputs)."""
    sizes = check_params("concise_mlp", params, SHAPES)
    model = nnx.merge(graphdef(**sizes), params)
    return model(X)
