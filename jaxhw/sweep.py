"""Many models at once (beyond the book): `fit_many` is `train.fit` with the epoch vmapped.

The models differ in their parameters, their PRNG keys (the order of the minibatches) and/or
their learning rates; each computes what training it alone with `fit` computes, up to float
rounding (which SGD near an unstable step size amplifies: docs/scaling.md). A learning rate per
model lives in the optimizer state: build the optimizer with `optax.inject_hyperparams`, e.g.
`optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)`, and pass `learning_rates=`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhw import fit_checks
from jaxhw import train as engine
from jaxhw.data import batches


def replicate(params: Any, num_models: int) -> Any:
    """`params` stacked `num_models` times along a new leading (model) axis."""
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (num_models, *jnp.shape(a))), params)


def check_learning_rates(learning_rates: Any) -> np.ndarray:
    """A 1-D grid of positive finite learning rates as float64 (the optimizer state rounds them
    to its own dtype: float32, or float64 under x64); ValueError naming bad entries."""
    grid = np.asarray(learning_rates)
    if grid.ndim != 1 or grid.size == 0 or not (np.issubdtype(grid.dtype, np.floating)
                                                or np.issubdtype(grid.dtype, np.integer)):
        raise ValueError(f"learning_rates must be a non-empty 1-D sequence of numbers, got "
                         f"{learning_rates!r}")
    grid = grid.astype(np.float64)
    bad = [f"{v!r} at index {i}" for i, v in enumerate(grid.tolist())
           if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"learning_rates must be positive and finite; got {', '.join(bad)}")
    return grid


def init_opt_state(optimizer: optax.GradientTransformation, params: Any,
                   learning_rates: Sequence[float] | np.ndarray | None = None) -> Any:
    """Each model's optimizer state, stacked along the model axis; with `learning_rates`, model
    i's state holds `learning_rates[i]` (the optimizer must come from inject_hyperparams)."""
    fit_checks.check_optimizer(optimizer)
    state = jax.vmap(optimizer.init)(params)
    if learning_rates is None:
        return state
    grid = check_learning_rates(learning_rates)
    num = fit_checks.num_models(params)
    if grid.shape[0] != num:
        raise ValueError(f"learning_rates has {grid.shape[0]} values but params stack {num} "
                         "models")
    hyper = getattr(state, "hyperparams", None)
    if not (isinstance(hyper, Mapping) and "learning_rate" in hyper):
        raise ValueError("with learning_rates, the optimizer must keep its learning rate in its "
                         "state: build it with optax.inject_hyperparams, e.g. "
                         "optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)")
    rates = jnp.asarray(grid, jnp.result_type(hyper["learning_rate"]))
    return state._replace(hyperparams={**hyper, "learning_rate": rates})


def fit_many(loss: engine.LossFn, params: Any, optimizer: optax.GradientTransformation,
             train: batches.Dataset, val: batches.Dataset | None = None, *,
             key: jax.Array | None = None,
             learning_rates: Sequence[float] | np.ndarray | None = None,
             **fit_kwargs: Any) -> engine.FitResult:
    """Train M stacked models in one compiled epoch; returns `fit`'s result, models first.

    params: every leaf stacked along a leading axis of M models (`jax.vmap(init)(keys)`, or
    `replicate(params, M)` for one start). key: one key (every model sees the same batches) or
    M keys, as `jax.random.split(key, M)` gives them. learning_rates: M positive rates, one per
    model (optimizer from `optax.inject_hyperparams`). Other keywords are `fit`'s (a `board`
    draws the models' mean and range). history, models first: `train_loss`, `val_<name>`
    (M, epochs), `batch_loss` (M, epochs, minibatches), `epoch` and `epoch_seconds` (epochs,);
    the same shapes (with 0 epochs) when no epoch runs.
    """
    if "keys" in fit_kwargs or key is None:
        raise TypeError("fit_many takes the key as key=, as fit does: one key, or one per model "
                        "(jax.random.split(key, M)); keys= is not an argument" if key is None
                        else "fit_many got key= and keys=; pass only key=")
    opt_state = fit_kwargs.pop("opt_state", None)
    if opt_state is None:
        fit_checks.num_models(params)
        opt_state = init_opt_state(optimizer, params, learning_rates)
    elif learning_rates is not None:
        raise ValueError("pass learning_rates or opt_state, not both (init_opt_state(optimizer, "
                         "params, learning_rates) makes the state)")
    return engine.fit(loss, params, optimizer, train, val, key=key, opt_state=opt_state,
                      stacked=True, **fit_kwargs)
