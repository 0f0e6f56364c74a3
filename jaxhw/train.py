"""The training engine (3.2, 4.3): `fit`, `evaluate`, `accuracy`.

An epoch is the book's `fit_epoch`: shuffle the training examples with the epoch's key, take one
optimizer step per minibatch, then measure the validation set. `epoch` writes that down with
`lax.scan` over the minibatches; `fit` compiles it once (`jax.jit`) and calls it once per epoch,
so the host sees the metrics once per epoch.

The compiled epochs are kept by what they compute (`jaxhw.program_key`): a second `fit` whose
loss, optimizer update and metrics run the same code on the same values (and whose data have
the same shapes) reuses the program, even when they are new objects; so does a loop over
learning rates whose optimizer keeps its rate in its state (`optax.inject_hyperparams`). At
most `PROGRAMS` compiled epochs are kept, the least recently used dropped first. A new process
reuses XLA's work through JAX's persistent compilation cache (`jaxhw.compile_cache.enable()`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxhw import checkpoint, gradients
from jaxhw import fit_checks as checks
from jaxhw.data import batches
from jaxhw.fingerprint import describe
from jaxhw.program_key import program_key

Params = Any
Batch = Any
LossFn = Callable[[Params, Batch], Array]
MetricsFn = Callable[[Params, Batch], Mapping[str, Array]]
History = dict[str, np.ndarray]
PROGRAMS = 16  # compiled epochs (and evaluations) kept; a few MB each


# ----------------------------------------------------------------------------- losses & metrics
def supervised_loss(apply: Callable[[Params, Array], Array],
                    loss: Callable[[Array, Array], Array]) -> LossFn:
    """`batch_loss(params, (X, y)) = loss(apply(params, X), y)`: a model and a loss as one."""

    def batch_loss(params: Params, batch: Batch) -> Array:
        X, y = unpack_pair(batch)
        return loss(apply(params, X), y)

    return batch_loss


def unpack_pair(batch: Batch) -> tuple[Array, Array]:
    """`batch` as its two parts `(X, y)`; ValueError saying so for anything else (e.g. a dict)."""
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError("supervised_loss expects each batch as a pair (X, y), so the data "
                         f"given to fit must be a pair (X, y); got {type(batch).__name__}")
    return batch[0], batch[1]


def accuracy(Y_hat: Array, Y: Array, averaged: bool = True) -> Array:
    """Fraction (or per-example 0/1 floats) of rows whose argmax equals the label (4.3).

    Y_hat: (n, q) scores; Y: (n,) integer labels (or (n, ..., q) and (n, ...)).
    """
    if jnp.ndim(Y_hat) < 2 or jnp.size(Y) * jnp.shape(Y_hat)[-1] != jnp.size(Y_hat):
        raise ValueError(f"accuracy needs scores Y_hat of shape (n, q), one row of q class "
                         f"scores per label in Y; got Y_hat {jnp.shape(Y_hat)} for Y "
                         f"{jnp.shape(Y)} (for one logit per example, compare "
                         "(Y_hat > 0) with the labels)")
    preds = jnp.argmax(Y_hat.reshape(-1, Y_hat.shape[-1]), axis=-1).astype(Y.dtype)
    compare = (preds == Y.reshape(-1)).astype(jnp.float32)
    return jnp.mean(compare) if averaged else compare


def classification_metrics(apply: Callable[[Params, Array], Array]) -> MetricsFn:
    """Metrics for a classifier: `{"acc": accuracy(apply(params, X), y)}`."""

    def metrics(params: Params, batch: Batch) -> dict[str, Array]:
        X, y = unpack_pair(batch)
        return {"acc": accuracy(apply(params, X), y)}

    return metrics


# ----------------------------------------------------------------------------- one epoch
def train_step(loss: LossFn, optimizer: optax.GradientTransformationExtraArgs, params: Params,
               opt_state: Any, batch: Batch) -> tuple[Params, Any, Array]:
    """One minibatch step: the loss and its gradient, then the optimizer's update."""
    value, grads = gradients.value_and_grad(loss)(params, batch)  # jax.value_and_grad, for a CPU
    updates, opt_state = optimizer.update(grads, opt_state, params, value=value)
    return optax.apply_updates(params, updates), opt_state, value


def train_epoch(loss: LossFn, optimizer: optax.GradientTransformation, params: Params,
                opt_state: Any, data: batches.Dataset, key: Array, batch_size: int,
                batch_sharding: NamedSharding | None = None, per_shard: bool = False
                ) -> tuple[Params, Any, Array]:
    """One pass over `data` in a random order drawn from `key`: a step per minibatch.

    The last minibatch holds what is left (n % batch_size examples), as the book's DataLoader
    gives it. Returns the new params and optimizer state and every minibatch's loss.
    per_shard: `data` is split in D shards over `batch_sharding`'s "data" axis; shard s visits
    its own examples in the order drawn from `fold_in(key, s)`, and each minibatch takes
    batch_size / D of them from every shard (the last, n_local % (batch_size / D)).
    """
    optimizer = optax.with_extra_args_support(optimizer)  # so that update() takes value=
    n = batches.num_examples(data)
    if per_shard:
        num_shards = batch_sharding.mesh.shape[batches.DATA_AXIS]
        orders = batches.shard_orders(key, num_shards, n // num_shards)
        full, last = batches.split_shard_batches(orders, batch_size)
    else:
        full, last = batches.split_batches(batches.epoch_permutation(key, n), batch_size)

    def step(carry, idx):
        params, opt_state = carry
        batch = (batches.take_local(data, idx, batch_sharding.mesh) if per_shard
                 else batches.take(data, idx, batch_sharding))
        params, opt_state, value = train_step(loss, optimizer, params, opt_state, batch)
        return (params, opt_state), value

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), full)
    if last.size:  # a shape known while tracing: the smaller last batch, one more step
        (params, opt_state), value = step((params, opt_state), last)
        losses = jnp.append(losses, value)
    return params, opt_state, losses


def measure(loss: LossFn, metrics: MetricsFn | None, params: Params, data: batches.Dataset,
            batch_size: int, batch_sharding: NamedSharding | None = None) -> dict[str, Array]:
    """Means over `data`, in order, of the loss and each metric: each batch's value (a mean
    over the batch, of any shape) weighted by the batch's size, summed in at least float32."""

    def on_batch(batch):
        batch = batches.split(batch, batch_sharding)
        values = {"loss": loss(params, batch)}
        if metrics is not None:
            values.update(metrics(params, batch))
        return jax.tree.map(lambda v: v.astype(jnp.promote_types(v.dtype, jnp.float32)), values)

    full, rest = batches.reshape_batches(data, batch_size)
    n_full = batch_size * jax.tree.leaves(full)[0].shape[0]
    n_rest = jax.tree.leaves(rest)[0].shape[0]
    totals = jax.tree.map(lambda v: jnp.sum(v, axis=0) * batch_size, jax.lax.map(on_batch, full))
    if n_rest:
        totals = jax.tree.map(lambda t, v: t + v * n_rest, totals, on_batch(rest))
    return jax.tree.map(lambda t: t / (n_full + n_rest), totals)


def epoch(params: Params, opt_state: Any, train: batches.Dataset, val: batches.Dataset | None,
          key: Array, index: Array, *, loss: LossFn, optimizer: optax.GradientTransformation,
          metrics: MetricsFn | None, batch_size: int, eval_batch_size: int | None,
          batch_sharding: NamedSharding | None = None, per_shard: bool = False):
    """Epoch `index` of a run: a training pass shuffled by `fold_in(key, index)` (shard by
    shard with `per_shard`), then the validation pass. Returns (params, opt_state, minibatch
    losses, validation means or None)."""
    params, opt_state, losses = train_epoch(loss, optimizer, params, opt_state, train,
                                            jax.random.fold_in(key, index), batch_size,
                                            batch_sharding, per_shard)
    val_means = None if val is None else measure(loss, metrics, params, val, eval_batch_size,
                                                 batch_sharding)
    return params, opt_state, losses, val_means


@dataclasses.dataclass(frozen=True, eq=False)
class Settings:
    """What a compiled epoch is built for. Two Settings are equal when they compute the same
    program: the loss, the optimizer's update and the metrics by `program_key` (the same code
    on the same values, whichever objects hold them), the rest by value."""

    loss: LossFn
    optimizer: optax.GradientTransformation | None
    metrics: MetricsFn | None
    batch_size: int
    eval_batch_size: int | None = None
    batch_sharding: NamedSharding | None = None
    stacked: bool = False
    key_per_model: bool = False
    per_shard: bool = False

    @functools.cached_property
    def key(self) -> tuple:
        update = None if self.optimizer is None else (type(self.optimizer),
                                                      program_key(self.optimizer.update))
        return (program_key(self.loss), update, program_key(self.metrics), self.batch_size,
                self.eval_batch_size, self.batch_sharding, self.stacked, self.key_per_model,
                self.per_shard)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


@functools.lru_cache(maxsize=PROGRAMS)
def epoch_program(settings: Settings) -> Callable:
    """`epoch` compiled for `settings` (jitted: it compiles at its first call). It takes the
    params and optimizer state as its own (donated: their buffers may hold the results), so
    fit passes copies. For a stack of models (leading axis of params and opt_state), the epoch
    of each via `vmap`, with one key or one per model."""
    one_model = functools.partial(
        epoch, loss=settings.loss, optimizer=settings.optimizer, metrics=settings.metrics,
        batch_size=settings.batch_size, eval_batch_size=settings.eval_batch_size,
        batch_sharding=settings.batch_sharding, per_shard=settings.per_shard)
    if settings.stacked:
        key_axis = 0 if settings.key_per_model else None
        one_model = jax.vmap(one_model, in_axes=(0, 0, None, None, key_axis, None))
    return jax.jit(one_model, donate_argnums=(0, 1))


@functools.lru_cache(maxsize=PROGRAMS)
def measure_program(settings: Settings) -> Callable:
    """`measure` compiled for `settings` (loss, metrics, batch size), as `evaluate` uses it."""
    return jax.jit(functools.partial(measure, settings.loss, settings.metrics,
                                     batch_size=settings.batch_size))


def default_eval_batch_size(n: int, batch_size: int, cap: int = 2048) -> int:
    """The largest divisor of `n` up to `cap` (so no smaller last batch), unless that is smaller
    than `batch_size`; then `batch_size` (capped at n)."""
    best = max(d for d in range(1, min(n, cap) + 1) if n % d == 0)
    return best if best >= batch_size else min(batch_size, n)


# ----------------------------------------------------------------------------- public API
def evaluate(loss: LossFn, params: Params, data: batches.Dataset, *, batch_size: int = 1024,
             metrics: MetricsFn | None = None) -> dict[str, float | np.ndarray]:
    """Mean loss (and metrics) over `data`, batched in order: a float for each scalar, a numpy
    array for a metric of another shape (e.g. one value per class). Each batch's value must be
    a mean over the batch (a count or a maximum is not: see `fit`)."""
    data = batches.as_arrays(data, "data")
    n = batches.num_examples(data, "data")
    if n == 0:
        raise ValueError("data holds no examples; evaluate needs at least one")
    batch_size = min(checks.check_int("batch_size", batch_size, 1), n)
    checks.check_pass("data", [loss] + ([metrics] if metrics else []), params, data, batch_size)
    program = measure_program(Settings(loss, None, metrics, batch_size))
    out = jax.device_get(program(params, batches.to_device(data, "data")))
    return {k: float(v) if np.ndim(v) == 0 else np.asarray(v) for k, v in out.items()}


class FitResult(NamedTuple):
    """What `fit` returns: the trained params, the history, and the optimizer state (pass it
    back as `opt_state=`, with `initial_epoch=result.next_epoch`, to continue training).

    Three fields, so that `params, history, opt_state = fit(...)` unpacks it; the epochs it
    ran are `history["epoch"]`."""

    params: Params
    history: History
    opt_state: Any

    @property
    def next_epoch(self) -> int:
        """The epoch to continue from: the last one run, plus one."""
        ran = self.history["epoch"]
        if not len(ran):
            raise ValueError("this fit ran no epoch (initial_epoch equalled epochs): continue "
                             "from that same initial_epoch")
        return int(ran[-1]) + 1


def fit(loss: LossFn, params: Params, optimizer: optax.GradientTransformation,
        train: batches.Dataset, val: batches.Dataset | None = None, *, epochs: int,
        batch_size: int, key: Array, metrics: MetricsFn | None = None,
        eval_batch_size: int | None = None, board=None, progress: bool = True,
        opt_state: Any = None, initial_epoch: int = 0, stacked: bool = False,
        mesh: Mesh | None = None, checkpoint_dir: str | Path | None = None,
        resume: bool | str = False, on_divergence: str = "warn") -> FitResult:
    """Train `params` with `optimizer` on minibatches of `train`; returns
    `FitResult(params, history, opt_state)`.

    loss(params, batch) -> scalar mean over the batch, where a batch is `train` indexed on its
    leading axis (e.g. `(X[idx], y[idx])`). Epoch e visits the examples in the order drawn from
    `fold_in(key, e)`; its last minibatch holds the remainder. history (numpy arrays), one
    entry per epoch run: `epoch` (the epoch indices), `train_loss` (the mean of the epoch's
    minibatch losses weighted by their sizes: taken during the epoch, while the params change),
    `batch_loss` (epochs, minibatches), `epoch_seconds`, and with `val`: `val_loss` and
    `val_<name>` for each entry of `metrics(params, batch)`, measured after the epoch. A metric
    is a mean over the batch of any shape (e.g. one value per class: then (epochs, classes));
    a count or a maximum over the batch is not a mean, and comes out wrong. Means are float32
    at least. Data may be numpy or JAX arrays, or lists of numbers.

    eval_batch_size: validation batch (default: the largest divisor of the validation size up
    to 2048). board: a ProgressBoard fed once per epoch (for a stack of models, their mean and
    range). progress=False hides the bar.
    opt_state: the optimizer state to continue from (e.g. a previous FitResult's).
    initial_epoch: the index of the first epoch to run, as in Keras (`epochs` is the index to
    stop at): `fit(r.params, ..., opt_state=r.opt_state, initial_epoch=r.next_epoch,
    epochs=6)` after `r = fit(..., epochs=3)` equals `fit(..., epochs=6)` bit for bit.
    stacked: params (and opt_state) hold a stack of models along a leading axis, trained at
    once with `vmap`; `key` is one key or one per model (see `jaxhw.sweep.fit_many`).
    mesh: a jax.sharding.Mesh with a "data" axis dividing batch_size; each batch (training and
    validation) is split over it, params replicated, and XLA reduces the gradients. `train`
    may be split over that axis in D shards, each process holding only its share
    (`batches.from_process_shares(share, mesh)`): then shard s visits its own examples in the
    order drawn from `fold_in(fold_in(key, e), s)`, each minibatch takes batch_size / D from
    every shard, and no example moves between devices; the result depends on D, not on how
    the shards are spread over processes. `val` may be whole or split the same way (then
    gathered onto every device once: it is measured whole).
    checkpoint_dir: save params, optimizer state, key, history and the run's settings after
    every epoch (one run at a time per folder); resume=True continues from the newest readable
    checkpoint there (`epochs` is the total), "auto" when there is one, "force" even when the
    settings differ (with a warning naming them).
    on_divergence: when an epoch's mean training loss turns non-finite or rises above 10x the
    run's lowest level (an earlier epoch's mean, or the loss at the start: see
    `fit_checks.diverged`), "warn" (and go on while any model's loss is finite) or "stop"
    (warn and return the params and state of the last epoch checked).
    """
    epochs = checks.check_int("epochs", epochs, 0)
    resume = checkpoint.check_resume_mode(resume)
    initial_epoch = checks.check_initial_epoch(initial_epoch, epochs, resume)
    batch_size = checks.check_int("batch_size", batch_size, 1)
    train = batches.as_arrays(train, "train")
    n = batches.num_examples(train, "train")
    if not n or batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) is larger than the training data ({n})")
    checks.check_optimizer(optimizer)
    if on_divergence not in ("warn", "stop"):
        raise ValueError(f"on_divergence must be 'warn' or 'stop', got {on_divergence!r}")
    key = checks.check_key(key, checks.num_models(params) if stacked else None)
    opt_state = checks.check_opt_state(opt_state, optimizer, params, stacked)
    replicated = batch_sharding = None
    if mesh is not None:
        mesh = checks.data_mesh(mesh, batch_size)
        replicated = NamedSharding(mesh, PartitionSpec())
        batch_sharding = NamedSharding(mesh, PartitionSpec(checks.DATA_AXIS))
    shards = checks.data_shards(train, mesh)  # split over the mesh, or None: whole everywhere
    if mesh is not None and shards is None:
        checks.check_same_in_every_process(train, "train")
    checks.check_finite(train, "train")
    [train_loss] = checks.check_pass("train", [loss], params, train, batch_size, stacked)
    outputs = {"loss": train_loss}
    if shards is None:
        train = batches.to_device(train, "train", replicated)
    if val is not None:
        val = batches.as_arrays(val, "val")
        n_val = batches.num_examples(val, "val")
        if not n_val:
            raise ValueError("val holds no examples; pass val=None to train without validation")
        eval_batch_size = (default_eval_batch_size(n_val, batch_size) if eval_batch_size is None
                           else min(checks.check_int("eval_batch_size", eval_batch_size, 1), n_val))
        if mesh is not None:
            checks.check_same_in_every_process(val, "val")
        checks.check_finite(val, "val")
        val_outputs = checks.check_pass("val", [loss] + ([metrics] if metrics else []), params,
                                        val, eval_batch_size, stacked)
        outputs["val"] = {"loss": val_outputs[0], **(val_outputs[1] if metrics else {})}
        val = batches.to_device(val, "val", replicated)
    program = epoch_program(Settings(loss, optimizer, metrics, batch_size, eval_batch_size,
                                     batch_sharding, stacked, stacked and bool(key.ndim),
                                     shards is not None))
    num = checks.num_models(params) if stacked else None
    config = (None if checkpoint_dir is None else run_config(
        loss, optimizer, metrics, batch_size, n, params, stacked,
        checks.learning_rates(optimizer, opt_state), shards))
    watch = checks.LossWatch(loss, params, train, optimizer, opt_state, on_divergence, stacked,
                             batch_size)
    params, opt_state = canonical((params, opt_state))  # the dtypes a checkpoint holds
    with checkpoint.lock(checkpoint_dir) as folder:  # one run writes a folder at a time
        first_epoch, params, opt_state, history = checkpoint.start_state(
            folder, resume, epochs, params=params, opt_state=opt_state, key=key,
            config=config, initial_epoch=initial_epoch)
        # The epoch takes its params and state as its own (donated); the caller's stay valid.
        params, opt_state = device_copy((params, opt_state), replicated)
        bar = progress_bar(first_epoch, epochs, progress)
        clock = time.perf_counter()
        running = (program(params, opt_state, train, val, key, first_epoch)
                   if first_epoch < epochs else None)
        for index in bar:
            params, opt_state, losses, val_means = running
            if index + 1 < epochs:
                # The next epoch starts now, on this epoch's state (which it takes over), so
                # that the device trains while the host records this epoch; a copy of the
                # state stays until this epoch's checks pass (a stop returns this epoch's).
                kept = copy_on_device((params, opt_state))
                running = program(params, opt_state, train, val, key, index + 1)
                params, opt_state = kept
            losses, val_means = jax.device_get((losses, val_means))  # the epoch's host sync
            now = time.perf_counter()
            record_epoch(history, index, losses, val_means, now - clock, n, batch_size)
            clock = now
            bar.set_postfix({k: f"{np.min(v[-1]):.4g}" for k, v in history.items()
                             if k in ("train_loss", "val_loss", "val_acc")}, refresh=False)
            if checkpoint_dir is not None:
                checkpoint.save_run(folder, index + 1, params=params,
                                    opt_state=opt_state, key=key, history=history, config=config)
            if board is not None:
                draw_epoch(board, index, losses, val_means)
            if watch.stop_after(index, history):
                break
        bar.close()
    spec = empty_epoch(outputs, n, batch_size, num)
    return FitResult(params, history_arrays(history, spec, stacked), opt_state)


def canonical(tree: Any) -> Any:
    """`tree` with every leaf an array of JAX's canonical dtype, not weakly typed (a Python
    float or a float64 numpy array becomes float32 unless x64 is on): what the compiled epoch
    gives back, so that its second call needs no second compile."""
    def one(x: Any) -> Any:
        if isinstance(x, jax.Array) and not getattr(x, "weak_type", False):
            return x
        return np.asarray(x, checks.canonical_dtype(x))

    return jax.tree.map(one, tree)


def device_copy(tree: Any, sharding: NamedSharding | None = None) -> Any:
    """A copy of every leaf of `tree` on the device (or placed by `sharding`), never sharing
    the caller's buffers: the compiled epoch may then reuse them for its results."""
    if sharding is None:
        return copy_on_device(tree)

    def place(a: Any) -> Any:
        if isinstance(a, jax.Array) and a.sharding == sharding:
            return jax.device_put(a, sharding, may_alias=False)
        # From a host copy: a mesh over several processes takes each process's own (equal)
        # values, where an array committed to one device would have to cross hosts.
        return jax.device_put(np.array(a), sharding)

    return jax.tree.map(place, tree)


def copy_on_device(tree: Any) -> Any:
    """A copy of every array of `tree`, made where it lies (no compile: a buffer copy); an
    array spread over several processes' devices keeps its sharding."""
    where = jax.tree.map(lambda a: a.sharding if isinstance(a, jax.Array) else None, tree)
    return jax.device_put(tree, where, may_alias=False)


def record_epoch(history: dict[str, list], index: int, losses: np.ndarray,
                 val_means: Mapping | None, seconds: float, n: int, batch_size: int) -> None:
    """Append epoch `index`: its minibatch losses, their mean, validation means and seconds."""
    history["epoch"].append(index)
    history["epoch_seconds"].append(seconds)
    history["train_loss"].append(example_weighted_mean(losses, n, batch_size))
    history["batch_loss"].append(losses)
    for name, value in (val_means or {}).items():
        history.setdefault(f"val_{name}", []).append(value)


def progress_bar(first_epoch: int, epochs: int, enabled: bool):
    """tqdm over the epochs still to run: a notebook widget where tqdm.auto can draw one."""
    if enabled:  # (importing tqdm.auto in a notebook without ipywidgets warns: only then)
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(range(first_epoch, epochs), desc="fit", unit="epoch", delay=2.0,
                disable=not enabled, leave=False, initial=first_epoch, total=epochs)


def run_config(loss: LossFn, optimizer: optax.GradientTransformation,
               metrics: MetricsFn | None, batch_size: int, n: int, params: Params,
               stacked: bool, rates: np.ndarray | None, shards: int | None = None
               ) -> dict[str, Any]:
    """What a checkpoint records of a run, so that a resume with other settings is refused;
    for training data split over a mesh, the number of shards (it decides the batches)."""
    config = {"loss": describe(loss), "optimizer": describe(optimizer),
              "metrics": describe(metrics), "batch_size": batch_size, "num_train": n,
              "num_models": checks.num_models(params) if stacked else None,
              "learning_rates": None if rates is None else np.ravel(rates).tolist()}
    if shards is not None:
        config["data_shards"] = shards
    return config


def mean_dtype(dtype: Any) -> np.dtype:
    """The dtype of a mean of values of `dtype`: float32 at least (a bfloat16 loss's too)."""
    return np.dtype(jnp.promote_types(dtype, jnp.float32))


def example_weighted_mean(losses: np.ndarray, n: int, batch_size: int) -> np.ndarray:
    """Mean of minibatch losses (last axis) weighted by their sizes (the last one may be
    smaller), summed in float64 and given in `mean_dtype`."""
    sizes = np.full(losses.shape[-1], batch_size, np.float64)
    sizes[-1] = n - batch_size * (losses.shape[-1] - 1)
    return (np.sum(losses * sizes, axis=-1) / n).astype(mean_dtype(losses.dtype))


def empty_epoch(outputs: Mapping[str, Any], n: int, batch_size: int,
                num_models: int | None) -> dict[str, jax.ShapeDtypeStruct]:
    """The shape and dtype of one epoch's entry of each history array, from the abstract
    outputs of the loss and metrics (`check_pass`), models first for a stack."""
    models = () if num_models is None else (num_models,)

    def entry(shape: tuple, dtype: Any) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((*models, *shape), dtype)

    loss_dtype = outputs["loss"].dtype
    spec = {"train_loss": entry((), mean_dtype(loss_dtype)),
            "batch_loss": entry((-(-n // batch_size),), loss_dtype)}
    for name, value in outputs.get("val", {}).items():
        spec[f"val_{name}"] = entry(value.shape, mean_dtype(value.dtype))
    return spec


def history_arrays(history: dict[str, list], spec: Mapping[str, jax.ShapeDtypeStruct],
                   stacked: bool) -> History:
    """Per-epoch lists as arrays, epochs first (for a stack of models, models first, then
    epochs); each entry of `spec` the same shape and dtype at 0 epochs as filled."""
    out = {"epoch": np.asarray(history["epoch"], np.int64),
           "epoch_seconds": np.asarray(history["epoch_seconds"], np.float64)}
    for name in {**spec, **history}:
        if name in out:
            continue
        values = history.get(name, [])
        entry = spec.get(name)
        array = (np.stack([np.asarray(v) for v in values]) if values or entry is None
                 else np.zeros((0, *entry.shape), entry.dtype))
        out[name] = np.moveaxis(array, 0, 1) if stacked else array
    return out


def draw_epoch(board, epoch: int, losses: np.ndarray, val_means: Mapping | None) -> None:
    """Feed one epoch to a ProgressBoard as d2l does: train loss twice per epoch, val once.
    For a stack of models (losses (models, minibatches)) each point holds one value per model,
    drawn as their mean and range. A metric of another shape (one value per class) is not
    drawn."""
    losses = np.asarray(losses)
    num = losses.shape[-1]
    every = max(1, num // 2)
    for i in range(num):
        board.draw(epoch + (i + 1) / num, losses[..., i], "train_loss", every_n=every)
    for name, value in (val_means or {}).items():
        if np.ndim(value) == losses.ndim - 1:
            board.draw(epoch + 1, value, f"val_{name}")
