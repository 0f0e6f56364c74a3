"""The one training engine (3.2, 4.3): `fit`, `evaluate`, `accuracy`.

An epoch is one jitted call: `lax.scan` over minibatches gathered from device-resident data in
an order drawn from the epoch's own key, then the validation pass. The host sees the metrics
once per epoch. Compiled epochs are cached on (loss, optimizer, metrics, shapes), so a second
`fit` with equal functions and shapes reuses the compiled program: `supervised_loss` and
`classification_metrics` are cached and `optim.sgd(lr)` compares by value; an optax optimizer
compares by identity, so build it once and pass the same object to reuse the compilation.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxhw import checkpoint
from jaxhw.data import batches

Params = Any
Batch = Any
LossFn = Callable[[Params, Batch], Array]
MetricsFn = Callable[[Params, Batch], Mapping[str, Array]]
History = dict[str, np.ndarray]


# ----------------------------------------------------------------------------- losses & metrics
@functools.cache
def supervised_loss(apply: Callable[[Params, Array], Array],
                    loss: Callable[[Array, Array], Array]) -> LossFn:
    """`loss(params, (X, y)) = loss(apply(params, X), y)`; cached, so equal inputs give the
    same function object (and `fit` reuses its compiled epoch)."""

    def batch_loss(params: Params, batch: Batch) -> Array:
        X, y = batch
        return loss(apply(params, X), y)

    return batch_loss


def accuracy(Y_hat: Array, Y: Array, averaged: bool = True) -> Array:
    """Fraction (or per-example 0/1 floats) of rows whose argmax equals the label (4.3).

    Y_hat: (n, q) scores; Y: (n,) integer labels.
    """
    preds = jnp.argmax(Y_hat.reshape(-1, Y_hat.shape[-1]), axis=-1).astype(Y.dtype)
    compare = (preds == Y.reshape(-1)).astype(jnp.float32)
    return jnp.mean(compare) if averaged else compare


@functools.cache
def classification_metrics(apply: Callable[[Params, Array], Array]) -> MetricsFn:
    """Metrics for a classifier: `{"acc": accuracy(apply(params, X), y)}`; cached like
    `supervised_loss`."""

    def metrics(params: Params, batch: Batch) -> dict[str, Array]:
        X, y = batch
        return {"acc": accuracy(apply(params, X), y)}

    return metrics


# ----------------------------------------------------------------------------- compiling
# XLA's CPU compiler sends matrix products to YNNPACK by default. For this library's thin
# products (256x784 @ 784x10 in softmax regression, 784x80 for 8 merged models) its Eigen path
# is faster: softmax-regression epochs take 0.86-0.88x the time, 8 merged models 0.94x, the
# MLP the same (docs/DESIGN.md). So the compiled epochs, and only they, get this option on CPU.
CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


class _PlatformJit:
    """`jax.jit(fn, **kw)`, compiled with `CPU_COMPILER_OPTIONS` when JAX's default backend is
    the CPU; attributes (`lower`, `trace`, ...) are those of the jitted function in use."""

    def __init__(self, fn: Callable, **kw: Any) -> None:
        self._jits = {False: jax.jit(fn, **kw),
                      True: jax.jit(fn, compiler_options=CPU_COMPILER_OPTIONS, **kw)}

    def _pick(self) -> Any:
        return self._jits[jax.default_backend() == "cpu"]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._pick()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pick(), name)


def platform_jit(fn: Callable | None = None, **kw: Any) -> Any:
    """`jax.jit` for the compiled epochs: with `CPU_COMPILER_OPTIONS` on CPU (a decorator too)."""
    if fn is None:
        return functools.partial(platform_jit, **kw)
    return _PlatformJit(fn, **kw)


# ----------------------------------------------------------------------------- compiled pieces
def _apply_grads(optimizer: optax.GradientTransformation, params, opt_state, grads):
    """The optimizer's step: (new params, new optimizer state)."""
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _train_step(loss: LossFn, optimizer: optax.GradientTransformation, carry, batch):
    params, opt_state = carry
    value, grads = jax.value_and_grad(loss)(params, batch)
    return _apply_grads(optimizer, params, opt_state, grads), value


# The partial batch runs inside the scan (see `_partial_batch_as_two_full`) for models with at
# most this many parameters; the gradient it carries through the scan costs two copies a step,
# nothing measurable for softmax regression's 7850 values but 5-7% of the MLP's epoch (203530).
# Bigger models trace the partial batch as a step of its own (~0.3 s more XLA compile).
PARTIAL_IN_SCAN_MAX_PARAMS = 65536


def _train_pass(loss, optimizer, params, opt_state, data, key, epoch, batch_size):
    """One pass in the order of (key, epoch): scanned full batches and the last partial batch
    (inside the scan for small models, as a step of its own for bigger ones)."""
    n = batches.num_examples(data)
    order = batches.epoch_permutation(batches.fold_in(key, epoch), n)
    full, rest = batches.split_batches(order, batch_size)
    step = functools.partial(_train_step, loss, optimizer)
    size = sum(math.prod(np.shape(leaf)) for leaf in jax.tree.leaves(params))
    if not rest.shape[0] or size > PARTIAL_IN_SCAN_MAX_PARAMS:
        carry, losses = jax.lax.scan(lambda c, idx: step(c, batches.take(data, idx)),
                                     (params, opt_state), full)
        if rest.shape[0]:  # static: the partial batch gets its own traced step, no recompile
            carry, last = step(carry, batches.take(data, rest))
            losses = jnp.concatenate([losses, last[None]])
        return carry, losses
    idx, weights = _partial_batch_as_two_full(full, rest, batch_size)
    grads0 = jax.tree.map(jnp.zeros_like, params)
    (params, opt_state, _, _), losses = jax.lax.scan(
        functools.partial(_weighted_step, loss, optimizer, data),
        (params, opt_state, grads0, jnp.zeros((), jnp.float32)), (idx, weights))
    return (params, opt_state), jnp.concatenate([losses[:-2], losses[-1:]])


def _partial_batch_as_two_full(full: Array, rest: Array, batch_size: int):
    """Batch indices for the scan, the partial batch R (r < b examples) as two full batches.

    A batch loss is a mean over its examples, so R's mean equals (b L(B1) - (b - r) L(B2)) / r
    with B1 = R padded by b - r copies of R's first example p and B2 = b copies of p (any
    parameter-only term, such as a weight penalty, also comes out once). The scan's step thus
    has one shape, and the compiled program one copy of it. Returns indices (steps + 2, b) and
    per step (a, c, apply): gradient and loss a * this + c * previous; B2's step is not applied.
    """
    r = rest.shape[0]
    p = jnp.broadcast_to(rest[:1], (batch_size,))
    idx = jnp.concatenate([full, p[None], jnp.concatenate([rest, p[r:]])[None]])
    steps = full.shape[0]
    a = np.ones(steps + 2, np.float32)
    c = np.zeros(steps + 2, np.float32)
    apply = np.ones(steps + 2, bool)
    a[-1], c[-1], apply[-2] = batch_size / r, -(batch_size - r) / r, False
    return idx, (a, c, apply)


def _weighted_step(loss, optimizer, data, carry, xs):
    """A training step on the batch at `idx`, its gradient and loss taken as `a` times its own
    plus `c` times the previous step's; a plain step, (a, c) = (1, 0), is `_train_step`."""
    params, opt_state, prev_grads, prev_value = carry
    idx, (a, c, apply) = xs
    value, grads = jax.value_and_grad(loss)(params, batches.take(data, idx))
    mixed = c != 0

    def mix(g, h):
        return jnp.where(mixed, a.astype(g.dtype) * g + c.astype(g.dtype) * h.astype(g.dtype), g)

    new_params, new_state = _apply_grads(optimizer, params, opt_state,
                                         jax.tree.map(mix, grads, prev_grads))
    keep = functools.partial(jax.tree.map, lambda new, old: jnp.where(apply, new, old))
    return ((keep(new_params, params), keep(new_state, opt_state), grads,
             value.astype(jnp.float32)), mix(value, prev_value))


def _eval_pass(loss, metrics, params, data, batch_size):
    """Example-weighted means of the loss and metrics over `data`, in order."""

    def measure(batch):
        out = {"loss": loss(params, batch)}
        if metrics is not None:
            out.update(metrics(params, batch))
        return out

    full, rest = batches.reshape_batches(data, batch_size)
    n_full = jax.tree.leaves(full)[0].shape[0]
    n_rest = jax.tree.leaves(rest)[0].shape[0]
    totals = None
    if n_full:
        per_batch = jax.lax.map(measure, full)
        totals = jax.tree.map(lambda v: jnp.sum(v) * batch_size, per_batch)
    if n_rest:
        last = jax.tree.map(lambda v: v * n_rest, measure(rest))
        totals = last if totals is None else jax.tree.map(jnp.add, totals, last)
    return jax.tree.map(lambda v: v / (n_full * batch_size + n_rest), totals)


def _epoch_body(params, opt_state, train, val, key, epoch, *, loss, optimizer, metrics,
                batch_size, eval_batch_size):
    """One whole epoch: train pass shuffled by (key, epoch), then the validation pass (if `val`
    is given)."""
    (params, opt_state), losses = _train_pass(loss, optimizer, params, opt_state, train, key,
                                              epoch, batch_size)
    val_out = None if val is None else _eval_pass(loss, metrics, params, val, eval_batch_size)
    return params, opt_state, losses, val_out


_epoch = platform_jit(_epoch_body, static_argnames=("loss", "optimizer", "metrics",
                                                    "batch_size", "eval_batch_size"))


@platform_jit(static_argnames=("loss", "metrics", "batch_size"))
def _evaluate(params, data, *, loss, metrics, batch_size):
    return _eval_pass(loss, metrics, params, data, batch_size)


def _mean_train_loss(losses: np.ndarray, n: int, batch_size: int) -> np.ndarray:
    """Example-weighted mean of per-batch losses (last axis): the partial batch weighs less."""
    sizes = np.full(losses.shape[-1], batch_size, np.float64)
    sizes[-1] = n - batch_size * (losses.shape[-1] - 1)
    return np.sum(losses * sizes, axis=-1) / n


# ----------------------------------------------------------------------------- data parallel
DATA_AXIS = "data"


def _check_mesh(mesh: Any, batch_size: int) -> Mesh:
    """`mesh` with every axis Auto (XLA places the collectives), once it can split batches."""
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(f"mesh has axes {mesh.axis_names}; fit splits batches over an axis "
                         f"named {DATA_AXIS!r}, e.g. jax.make_mesh((jax.device_count(),), "
                         "('data',))")
    size = mesh.shape[DATA_AXIS]
    if batch_size % size:
        lower = batch_size // size * size
        nearest = f"{lower} or {lower + size}" if lower else f"{size}"
        raise ValueError(f"batch_size ({batch_size}) must be divisible by the mesh's "
                         f"{DATA_AXIS!r} axis ({size} devices), so that each device takes an "
                         f"equal share; e.g. batch_size {nearest}")
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


@functools.cache
def _split_batch(fn: Callable[[Params, Batch], Any], mesh: Mesh) -> Callable[[Params, Batch], Any]:
    """`fn(params, batch)` with the batch split over the mesh's data axis (params replicated);
    cached, so `fit` reuses its compiled epoch. The gradient's all-reduce is XLA's."""
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))

    def on_shards(params: Params, batch: Batch) -> Any:
        return fn(params, jax.tree.map(
            lambda a: jax.lax.with_sharding_constraint(a, sharding), batch))

    return on_shards


# ----------------------------------------------------------------------------- checks
def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_key(key: Any) -> Array:
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key, got a batch of shape {key.shape}")
        return key
    arr = np.asarray(key) if not isinstance(key, jax.Array) else key
    if arr.shape == (2,) and arr.dtype == np.uint32:
        return jax.random.wrap_key_data(jnp.asarray(arr))
    raise ValueError("key must be a PRNG key from jax.random.key(seed) "
                     f"(or a legacy uint32[2] key), got {type(key).__name__} {np.shape(key)}")


def _default_eval_batch_size(n: int, batch_size: int, cap: int = 2048) -> int:
    """The largest divisor of `n` up to `cap` (no remainder batch to compile, few large GEMMs),
    unless that is smaller than `batch_size`; then `batch_size` (capped at n)."""
    best = max(d for d in range(1, min(n, cap) + 1) if n % d == 0)
    return best if best >= batch_size else min(batch_size, n)


def _check_run(epochs: Any, batch_size: Any, train: batches.Dataset) -> tuple[int, int, int]:
    """Checked (epochs, batch_size, number of training examples)."""
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    n = batches.num_examples(train, "train")
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) is larger than the training data ({n})")
    return epochs, batch_size, n


def _place_data(train: batches.Dataset, val: batches.Dataset | None, batch_size: int,
                eval_batch_size: Any, sharding: Any = None) -> tuple[Any, Any, int | None]:
    """`train` and `val` on the device (checked), and the validation batch size to use."""
    train = batches.to_device(batches.pack_rows(train), "train", sharding)
    if val is None:
        return train, None, None
    n_val = batches.num_examples(val, "val")
    val = batches.to_device(val, "val", sharding)
    eval_batch_size = (_default_eval_batch_size(n_val, batch_size) if eval_batch_size is None
                       else min(_check_int("eval_batch_size", eval_batch_size, 1), n_val))
    return train, val, eval_batch_size


# ----------------------------------------------------------------------------- public API
def evaluate(loss: LossFn, params: Params, data: batches.Dataset, *, batch_size: int = 1024,
             metrics: MetricsFn | None = None) -> dict[str, float]:
    """Mean loss (and metrics) over `data`, batched in order; returns plain floats."""
    n = batches.num_examples(data, "data")
    batch_size = min(_check_int("batch_size", batch_size, 1), n)
    out = _evaluate(params, batches.to_device(data, "data"), loss=loss, metrics=metrics,
                    batch_size=batch_size)
    return {k: float(v) for k, v in out.items()}


def fit(loss: LossFn, params: Params, optimizer: optax.GradientTransformation,
        train: batches.Dataset, val: batches.Dataset | None = None, *, epochs: int,
        batch_size: int, key: Array, metrics: MetricsFn | None = None,
        eval_batch_size: int | None = None, board=None, progress: bool = True,
        opt_state: Any = None, mesh: Mesh | None = None, checkpoint_dir: str | Path | None = None,
        resume: bool | str = False) -> tuple[Params, History]:
    """Train `params` by `optimizer` on minibatches of `train`; returns (params, history).

    loss(params, batch) -> scalar mean over the batch; a batch is `train` indexed on its leading
    axis, and must be a mean of per-example terms (plus any parameter-only term, e.g. a weight
    penalty): examples must not interact. Each epoch's order is
    `batches.epoch_permutation(fold_in(key, epoch), n)`; the last partial batch is a step of its
    own. history: `train_loss` (epochs,), `batch_loss` (epochs, batches), `epoch_seconds`, and
    with `val`: `val_loss` and `val_<name>` for each entry of `metrics(params, batch)`.
    Validation runs in order, in batches of `eval_batch_size` (default: the largest divisor of
    the validation size up to 2048). `board` (a ProgressBoard) is fed once per epoch;
    `progress=False` hides the bar; `opt_state` resumes an optimizer's state.
    `mesh` (a jax.sharding.Mesh with a "data" axis dividing `batch_size`) splits every batch
    over that axis with params and data replicated; XLA reduces the gradients.
    `checkpoint_dir` saves a checkpoint (params, optimizer state, epoch, key, history) after
    every epoch; `resume=True` continues from the newest readable one there (an error if there
    is none), `resume="auto"` when there is one; resuming gives the same bits as not stopping.
    """
    epochs, batch_size, n = _check_run(epochs, batch_size, train)
    key = _check_key(key)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError("optimizer must be an optax.GradientTransformation, got "
                         f"{type(optimizer).__name__}")
    replicated = None
    if mesh is not None:
        mesh = _check_mesh(mesh, batch_size)
        replicated = NamedSharding(mesh, PartitionSpec())
        loss = _split_batch(loss, mesh)
        metrics = None if metrics is None else _split_batch(metrics, mesh)
    train, val, eval_batch_size = _place_data(train, val, batch_size, eval_batch_size,
                                              replicated)
    if opt_state is None:
        opt_state = optimizer.init(params)

    run_config = {"batch_size": batch_size, "num_train": n}
    first_epoch, params, opt_state, history = checkpoint.start_state(
        checkpoint_dir, resume, epochs, params=params, opt_state=opt_state, key=key,
        config=run_config)
    if replicated is not None:
        params, opt_state = jax.device_put((params, opt_state), replicated)
    from tqdm.auto import tqdm

    bar = tqdm(range(first_epoch, epochs), desc="fit", unit="epoch", delay=2.0,
               disable=not progress, leave=False, initial=first_epoch, total=epochs)
    for epoch in bar:
        start = time.perf_counter()
        params, opt_state, losses, val_out = _epoch(
            params, opt_state, train, val, key, epoch, loss=loss,
            optimizer=optimizer, metrics=metrics, batch_size=batch_size,
            eval_batch_size=eval_batch_size)
        losses, val_out = jax.device_get((losses, val_out))  # the one host sync of the epoch
        seconds = time.perf_counter() - start
        train_loss = float(_mean_train_loss(losses, n, batch_size))
        if not math.isfinite(train_loss) or (val_out and not all(map(math.isfinite, map(
                float, val_out.values())))):
            raise ValueError(f"loss became non-finite in epoch {epoch + 1} (train loss "
                             f"{train_loss}, val {val_out}); lower the learning rate or check "
                             "the loss function and data")
        history["train_loss"].append(train_loss)
        history["batch_loss"].append(losses)
        history["epoch_seconds"].append(seconds)
        for name, value in (val_out or {}).items():
            history.setdefault(f"val_{name}", []).append(float(value))
        bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.items()
                         if k not in ("batch_loss", "epoch_seconds")}, refresh=False)
        if checkpoint_dir is not None:
            checkpoint.save_run(checkpoint_dir, epoch + 1, params=params, opt_state=opt_state,
                                key=key, history=history, config=run_config)
        if board is not None:
            _draw_epoch(board, epoch, losses, val_out)
    bar.close()
    out = {k: np.asarray(v) for k, v in history.items()}
    if not epochs:
        out["batch_loss"] = np.zeros((0, -(-n // batch_size)), np.float32)
    return params, out


def _draw_epoch(board, epoch: int, losses: np.ndarray, val_out: Mapping | None) -> None:
    """Feed one epoch to a ProgressBoard as d2l does: train loss twice per epoch, val once."""
    num = losses.shape[0]
    every = max(1, num // 2)
    for i, value in enumerate(losses):
        board.draw(epoch + (i + 1) / num, float(value), "train_loss", every_n=every)
    for name, value in (val_out or {}).items():
        board.draw(epoch + 1, float(value), f"val_{name}")
