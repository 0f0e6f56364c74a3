"""Many models in one compiled call (beyond the book): `fit_many` is `train.fit` under `vmap`.

The models differ in their parameters, their PRNG keys (the order of the minibatches) and/or
their learning rates. An epoch is still one jitted call: `train._train_pass` and
`train._eval_pass`, vmapped over the model axis. Models that share the key share the batch
gathers, and XLA turns their matrix products into one wider one: on a 2-core CPU, 8 softmax
regressions take about 4-5 times as long as one (`python -m experiments sweep` measures it).
Each model's result equals training it alone with `fit`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from jaxhw import checkpoint
from jaxhw import train as engine
from jaxhw.data import batches

MakeOptimizer = Callable[[Array], optax.GradientTransformation]


def replicate(params: Any, num_models: int) -> Any:
    """`params` stacked `num_models` times along a new leading (model) axis."""
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (num_models, *jnp.shape(a))), params)


def check_learning_rates(learning_rates: Any) -> np.ndarray:
    """A 1-D grid of positive finite learning rates as float32; ValueError naming bad entries."""
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
    return grid.astype(np.float32)


def _num_models(params: Any) -> int:
    """The common leading (model) axis of every leaf of `params`."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params holds no arrays")
    sizes = {np.shape(a)[0] if np.ndim(a) else None for a in leaves}
    if None in sizes or len(sizes) != 1:
        raise ValueError("params must be stacked along a leading model axis of the same size in "
                         f"every leaf (e.g. jax.vmap(init)(keys)); got leading sizes {sizes}")
    return sizes.pop()


def _check_keys(keys: Any, num_models: int) -> Array:
    """One typed key (all models shuffle alike) or a batch of `num_models` keys."""
    if not (isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)):
        raise ValueError("keys must be jax.random.key(seed) or jax.random.split(key, "
                         f"{num_models}), got {type(keys).__name__}")
    if keys.shape not in ((), (num_models,)):
        raise ValueError(f"keys must be one key or {num_models} keys (one per model), got shape "
                         f"{keys.shape}")
    return keys


@engine.platform_jit(static_argnames=("loss", "optimizer", "metrics", "batch_size",
                                      "eval_batch_size"))
def _epoch_many(params, opt_state, learning_rates, train, val, key, epoch, *, loss, optimizer,
                metrics, batch_size, eval_batch_size):
    """One epoch of every model, compiled: `train._epoch_body` vmapped over the model axis."""

    def one_model(params, opt_state, lr, key):
        return engine._epoch_body(params, opt_state, train, val, key, epoch, loss=loss,
                                  optimizer=optimizer if lr is None else optimizer(lr),
                                  metrics=metrics, batch_size=batch_size,
                                  eval_batch_size=eval_batch_size)

    lr_axis = None if learning_rates is None else 0
    key_axis = 0 if key.ndim else None
    return jax.vmap(one_model, in_axes=(0, 0, lr_axis, key_axis))(params, opt_state,
                                                                   learning_rates, key)


def _init_opt_state(optimizer: Any, params: Any, learning_rates: Array | None) -> Any:
    """Each model's optimizer state, stacked along the model axis."""
    if learning_rates is None:
        return jax.vmap(optimizer.init)(params)
    try:
        return jax.vmap(lambda p, lr: optimizer(lr).init(p))(params, learning_rates)
    except (TypeError, ValueError) as err:
        raise ValueError(f"optimizer(lr) must accept a traced learning rate (a JAX value), as "
                         f"optax.sgd or optax.adam do; it raised {type(err).__name__}: {err}. "
                         "(The book's optim.sgd checks its rate on the host and takes Python "
                         "floats only: use optax.sgd, the same maths.)") from err


def fit_many(loss: engine.LossFn, params: Any,
             optimizer: optax.GradientTransformation | MakeOptimizer, train: batches.Dataset,
             val: batches.Dataset | None = None, *, epochs: int, batch_size: int, keys: Array,
             learning_rates: Sequence[float] | np.ndarray | None = None,
             metrics: engine.MetricsFn | None = None, eval_batch_size: int | None = None,
             progress: bool = True, checkpoint_dir: str | Path | None = None,
             resume: bool | str = False) -> tuple[Any, dict[str, np.ndarray]]:
    """Train M models in one compiled epoch; returns (params, history), model axis first.

    params: every leaf stacked along a leading axis of M models (`jax.vmap(init)(keys)`, or
    `replicate(params, M)` for one start). keys: one key (every model sees the same batches) or
    M keys. optimizer: one optax transformation for all, or with `learning_rates` (M positive
    finite values) a function lr -> transformation, called on a traced lr (e.g. `optax.sgd`).
    Model i ends where `train.fit(loss, params[i], optimizer(lr[i]), ..., key=keys[i])` ends.
    history: `train_loss`, `val_<name>` (M, epochs), `batch_loss` (M, epochs, batches),
    `epoch_seconds` (epochs,). A model whose loss turns non-finite gives a warning naming it
    and nan in its history; the others train on. `checkpoint_dir` and `resume` checkpoint
    every epoch and continue a run as in `train.fit`.
    """
    epochs, batch_size, n = engine._check_run(epochs, batch_size, train)
    num = _num_models(params)
    keys = _check_keys(keys, num)
    lrs = None
    if learning_rates is not None:
        lrs = check_learning_rates(learning_rates)
        if lrs.shape[0] != num:
            raise ValueError(f"learning_rates has {lrs.shape[0]} values but params stack {num} "
                             "models")
        if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
            raise ValueError("with learning_rates, optimizer must be a function lr -> optax "
                             "GradientTransformation (e.g. optax.sgd), got "
                             f"{type(optimizer).__name__}")
        lrs = jnp.asarray(lrs)
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError("optimizer must be an optax.GradientTransformation (or, with "
                         f"learning_rates, a function lr -> one), got {type(optimizer).__name__}")
    train, val, eval_batch_size = engine._place_data(train, val, batch_size, eval_batch_size)
    opt_state = _init_opt_state(optimizer, params, lrs)

    run_config = {"batch_size": batch_size, "num_train": n, "num_models": num}
    first, params, opt_state, history = checkpoint.start_state(
        checkpoint_dir, resume, epochs, params=params, opt_state=opt_state, key=keys,
        config=run_config)
    diverged = np.zeros(num, bool)
    for losses in history["train_loss"]:
        diverged |= ~np.isfinite(losses)
    from tqdm.auto import tqdm

    bar = tqdm(range(first, epochs), desc=f"fit_many ({num} models)", unit="epoch", delay=2.0,
               disable=not progress, leave=False, initial=first, total=epochs)
    for epoch in bar:
        start = time.perf_counter()
        params, opt_state, losses, val_out = _epoch_many(
            params, opt_state, lrs, train, val, keys, epoch, loss=loss,
            optimizer=optimizer, metrics=metrics, batch_size=batch_size,
            eval_batch_size=eval_batch_size)
        losses, val_out = jax.device_get((losses, val_out))  # one host sync for all models
        history["epoch_seconds"].append(time.perf_counter() - start)
        train_loss = engine._mean_train_loss(losses, n, batch_size)
        history["train_loss"].append(train_loss)
        history["batch_loss"].append(losses)
        for name, value in (val_out or {}).items():
            history.setdefault(f"val_{name}", []).append(value)
        finite = np.isfinite(train_loss)
        for value in (val_out or {}).values():
            finite &= np.isfinite(value)
        newly = ~finite & ~diverged
        if newly.any():
            which = np.flatnonzero(newly).tolist()
            rates = ("" if lrs is None else " (learning rates "
                     + ", ".join(f"{v:g}" for v in np.asarray(lrs)[which]) + ")")
            warnings.warn(f"model(s) {which}{rates}: loss became non-finite in epoch "
                          f"{epoch + 1}", RuntimeWarning, stacklevel=2)
            diverged |= newly
        best = np.min(np.where(finite, train_loss, np.inf))
        bar.set_postfix({"best train_loss": f"{best:.4g}"}, refresh=False)
        if checkpoint_dir is not None:
            checkpoint.save_run(checkpoint_dir, epoch + 1, params=params, opt_state=opt_state,
                                key=keys, history=history, config=run_config)
    bar.close()
    out = {"epoch_seconds": np.asarray(history.pop("epoch_seconds"))}
    for name, values in history.items():  # per epoch (M, ...) -> per model (M, epochs, ...)
        out[name] = (np.moveaxis(np.stack(values), 0, 1) if values
                     else np.zeros((num, 0), np.float32))
    if not epochs:
        out["batch_loss"] = np.zeros((num, 0, -(-n // batch_size)), np.float32)
    return params, out
