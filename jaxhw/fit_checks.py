"""What `fit` checks: its arguments before anything is traced, its training loss every epoch.

Each check names the argument, what was expected and what was given. Before compiling, `fit`
looks for nan and inf in the data (`check_finite`, one pass on the host) and traces the loss
on one abstract minibatch of each pass (`check_pass`), so that a fault met while tracing names
`train`, `val` or the parameter. After each epoch, `LossWatch` judges the epoch's mean training
loss against the run's stable levels (`diverged`) and, for a non-finite loss, asks
`check_labels` whether the labels are at fault.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxhw.data import batches
from jaxhw.fingerprint import describe
from jaxhw.models.checks import ParamsError

DATA_AXIS = batches.DATA_AXIS
_FIGURE = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")  # a number in a message
RISE = 10.0  # an epoch's mean training loss this many times its run's level is divergence
START_EXAMPLES = 32  # the first minibatch's loss is a level only if it averages this many


# ----------------------------------------------------------------------------- arguments
def check_int(name: str, value: Any, minimum: int) -> int:
    """`value` as an int; ValueError naming `name` unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_initial_epoch(initial_epoch: Any, epochs: int, resume: bool | str) -> int:
    """`initial_epoch` as an int in [0, epochs]; ValueError naming it otherwise, or when it
    comes with `resume` (a checkpoint says where a resumed run starts)."""
    initial_epoch = check_int("initial_epoch", initial_epoch, 0)
    if initial_epoch > epochs:
        raise ValueError(f"initial_epoch ({initial_epoch}) is past epochs ({epochs}); epochs is "
                         "the epoch to stop at, as in Keras: to train 3 more epochs after "
                         f"{initial_epoch}, pass epochs={initial_epoch + 3}")
    if initial_epoch and resume is not False:
        raise ValueError(f"pass initial_epoch or resume, not both: resume={resume!r} continues "
                         "from the checkpoint's epoch, initial_epoch from a FitResult "
                         "(fit(..., initial_epoch=result.next_epoch))")
    return initial_epoch


def check_optimizer(optimizer: Any) -> None:
    """ValueError unless `optimizer` is an optax GradientTransformation."""
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError("optimizer must be an optax.GradientTransformation (e.g. optax.sgd(0.1) "
                         f"or jaxhw.optim.sgd(0.1)), got {type(optimizer).__name__}")


def check_key(key: Any, num_models: int | None = None) -> Array:
    """A typed PRNG key; for a stack of `num_models` models, one key or one per model."""
    name = "key" if num_models is None else "key (one key, or one per model)"
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        allowed = [()] if num_models is None else [(), (num_models,)]
        if key.shape not in allowed:
            what = ("a single PRNG key" if num_models is None
                    else f"one key or {num_models} keys (one per model)")
            raise ValueError(f"{name} must be {what}, got keys of shape {key.shape}")
        return key
    if (num_models is None and isinstance(key, np.ndarray | jax.Array) and key.shape == (2,)
            and key.dtype == np.uint32):
        return jax.random.wrap_key_data(jnp.asarray(key))
    raise ValueError(f"{name} must be a PRNG key from jax.random.key(seed) (or a legacy "
                     f"uint32[2] key), got {type(key).__name__} {np.shape(key)}")


def num_models(params: Any) -> int:
    """The common leading (model) axis of every leaf of a stack of models."""
    sizes = {np.shape(a)[0] if np.ndim(a) else None for a in jax.tree.leaves(params)}
    if not sizes or None in sizes or len(sizes) != 1:
        raise ValueError("params must be stacked along a leading model axis of the same size in "
                         "every leaf: M copies of one start are sweep.replicate(params, M) (for "
                         "a learning-rate grid), M seeds jax.vmap(init)(jax.random.split(key, "
                         f"M)); got leading sizes {sorted(sizes, key=str)}")
    return sizes.pop()


def check_opt_state(opt_state: Any, optimizer: optax.GradientTransformation, params: Any,
                    stacked: bool) -> Any:
    """`opt_state`, or `optimizer.init(params)` when None; ValueError unless it has the
    structure and shapes that `optimizer.init(params)` gives."""
    init = jax.vmap(optimizer.init) if stacked else optimizer.init
    if opt_state is None:
        return init(params)
    want = jax.eval_shape(init, params)
    same = jax.tree.structure(want) == jax.tree.structure(opt_state) and all(
        np.shape(a) == b.shape
        for a, b in zip(jax.tree.leaves(opt_state), jax.tree.leaves(want), strict=True))
    if not same:
        raise ValueError("opt_state does not match this optimizer and params: expected what "
                         f"optimizer.init(params) gives, {_shapes(want)}; got {_shapes(opt_state)}")
    return opt_state


def _shapes(tree: Any, limit: int = 300) -> str:
    text = str(jax.tree.map(lambda a: f"{np.dtype(a.dtype).name}{list(np.shape(a))}"
                            if hasattr(a, "dtype") else repr(a), tree))
    return text if len(text) <= limit else text[:limit] + "..."


def data_mesh(mesh: Any, batch_size: int) -> Mesh:
    """`mesh` checked for data parallelism (a "data" axis dividing `batch_size`), axes Auto."""
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
    return batches.auto_mesh(mesh)


# ----------------------------------------------------------------------------- the data
def data_shards(data: Any, mesh: Mesh | None, name: str = "train") -> int | None:
    """The number D of shards `data` is split into over `mesh`'s "data" axis (every array a
    `jax.Array` placed as `batches.from_process_shares` places it), or None for data whole on
    every device (numpy arrays, arrays on one device or replicated). ValueError naming the
    array for anything between: split without a mesh, over another mesh or along another
    axis, or only some arrays split."""
    names, leaves = batches.array_names(data, name), jax.tree.leaves(data)
    split = [n for n, a in zip(names, leaves, strict=True) if _is_split(a)]
    if not split:
        return None
    how = (f"as batches.from_process_shares(share, mesh) places it, "
           f"NamedSharding(mesh, PartitionSpec({DATA_AXIS!r}))")
    if mesh is None:
        raise ValueError(f"{split[0]} is split over several devices; pass the mesh it is split "
                         f"over as mesh= ({name} split over a mesh must be split {how})")
    for array_name, a in zip(names, leaves, strict=True):
        sharding = getattr(a, "sharding", None)
        if not (isinstance(sharding, NamedSharding)
                and sharding.mesh.axis_names == mesh.axis_names
                and np.array_equal(sharding.mesh.device_ids, mesh.device_ids)
                and _split_over_data(sharding.spec)):
            got = (f"is placed as {sharding}" if array_name in split else
                   "is whole on every device while others are split")
            raise ValueError(f"{array_name} {got}; fit takes {name} either whole (the same in "
                             f"every process) or split over the mesh given as mesh=, {how}")
    return mesh.shape[DATA_AXIS]


def _is_split(a: Any) -> bool:
    """Is `a` a JAX array split over several devices (not whole on each)?"""
    return isinstance(a, jax.Array) and not a.sharding.is_fully_replicated


def _split_over_data(spec: PartitionSpec) -> bool:
    """Is `spec` the examples split over the "data" axis alone, nothing else split?"""
    first = spec[0] if len(spec) else None
    return first in (DATA_AXIS, (DATA_AXIS,)) and all(s is None for s in spec[1:])


def local_blocks(a: Any) -> list[tuple[int, Any]]:
    """The examples of array `a` that this process holds, as (index of the first, array)
    pairs: the whole of a numpy array or of a JAX array whole on each device; for one split
    over devices, each distinct block of rows of this process's shards (`addressable_shards`:
    nothing is gathered from other processes)."""
    if not isinstance(a, jax.Array) or (a.is_fully_addressable and not _is_split(a)):
        return [(0, a)]
    blocks: dict[int, Any] = {}
    for shard in a.addressable_shards:
        blocks.setdefault(shard.index[0].start or 0, shard.data)
    return sorted(blocks.items(), key=lambda item: item[0])


def spread_over_processes(data: Any) -> bool:
    """Does some array of `data` lie partly on other processes' devices?"""
    return any(isinstance(a, jax.Array) and not a.is_fully_addressable
               for a in jax.tree.leaves(data))


def raise_together(error: str | None, data: Any, what: str) -> None:
    """Raise ValueError(`error`) when there is one; for `data` spread over several processes,
    in every process when any process found one (one collective), the others saying which
    process found `what`: a process left alone would wait for the others forever."""
    if spread_over_processes(data) and jax.process_count() > 1:
        found = batches.per_process(np.int32(error is not None))
        if error is None and found.any():
            error = (f"{what} in the share of process(es) {np.flatnonzero(found).tolist()} "
                     "(the error there names it)")
    if error is not None:
        raise ValueError(error)


def share_of(data: Any) -> str:
    """Words naming this process's share, for data spread over several processes; else ""."""
    return (f" (in process {jax.process_index()}'s share)" if spread_over_processes(data)
            else "")


def check_same_in_every_process(data: Any, name: str) -> None:
    """For data passed whole (not split over a mesh) to a run of several processes: ValueError
    in every process unless all of them hold the same examples (compared by their number and
    a CRC-32 of every array's bytes; one collective). A share passed as it is would otherwise
    be taken for the whole set, each process training on its own share."""
    if jax.process_count() == 1:
        return
    crc = 0
    for a in jax.tree.leaves(data):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            continue  # a global array: one value for every process by construction
        crc = zlib.crc32(np.ascontiguousarray(jax.device_get(a)).view(np.uint8), crc)
    mine = np.array([batches.num_examples(data, name), crc], np.uint32).view(np.int32)
    held = batches.per_process(mine).view(np.uint32)
    if (held == held[0]).all():
        return
    takes = (f"{name} either the same in every process or split over the mesh: each process's "
             "share placed by batches.from_process_shares(share, mesh)" if name == "train"
             else f"{name} whole, the same in every process")
    raise ValueError(f"{name} differs between the processes (examples and CRC-32 in each: "
                     f"{[tuple(int(v) for v in row) for row in held]}); fit over a mesh of "
                     f"several processes takes {takes}")


def check_finite(data: Any, name: str) -> None:
    """ValueError naming the first array of `data` that holds nan or inf: how many values, in
    how many examples, and the first such example. Integer arrays (uint8 images) are skipped.
    Data spread over several processes: each checks its own share, and all raise together."""
    error = None
    for array_name, a in zip(batches.array_names(data, name), jax.tree.leaves(data),
                             strict=True):
        if error is not None or not jnp.issubdtype(a.dtype, jnp.inexact):
            continue
        for start, block in local_blocks(a):
            finite = (np.isfinite(block).all() if isinstance(block, np.ndarray)
                      else jnp.isfinite(block).all())
            if finite:
                continue
            bad = ~np.isfinite(np.asarray(jax.device_get(block))).reshape(len(block), -1)
            rows = np.flatnonzero(bad.any(axis=1))
            error = (f"{array_name} holds {int(bad.sum())} non-finite value(s) (nan or inf) in "
                     f"{len(rows)} example(s){share_of(data)}, the first at index "
                     f"{start + rows[0]}; fix or drop those examples before training")
            break
    raise_together(error, data, f"{name} holds non-finite values")


def canonical_dtype(a: Any) -> np.dtype:
    """The dtype JAX gives `a` (an array, or a Python number: float32 for 1.0 unless x64)."""
    return jax.dtypes.canonicalize_dtype(a.dtype if hasattr(a, "dtype") else np.result_type(a))


def abstract_minibatch(data: Any, batch_size: int) -> Any:
    """The shapes and dtypes of one minibatch of `data`, as `jax.eval_shape` takes them."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(
        (batch_size, *np.shape(a)[1:]), canonical_dtype(a)), data)


def check_pass(where: str, fns: list[Callable], params: Any, data: Any, batch_size: int,
               stacked: bool = False) -> list[Any]:
    """Trace each `fn(params, batch)` (the loss, the metrics) on one minibatch of `data`,
    abstractly (`jax.eval_shape`: nothing is computed), before any compiling, and return what
    each gives (shapes and dtypes, for one model). An error met while tracing is raised again
    naming `where` ("train", "val"), with the shapes involved; a model's ParamsError as it is.
    The loss must give a float scalar and the metrics a dict of float arrays: means over the
    batch. (eval_shape remembers a function's trace for the same shapes, so a second fit with
    the same loss traces nothing here.)"""
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(
        np.shape(a)[1:] if stacked else np.shape(a), canonical_dtype(a)), params)
    batch = abstract_minibatch(data, batch_size)
    with named_pass(where, one, batch):
        outputs = [jax.eval_shape(fn, one, batch) for fn in fns]
    check_means(where, outputs[0], outputs[1] if len(outputs) > 1 else None)
    return outputs


def check_means(where: str, loss: Any, metrics: Any) -> None:
    """ValueError unless the loss gave a float scalar and the metrics a dict of float arrays
    (any shape): fit averages them over the batches, weighted by the batches' sizes, which is
    right for a mean over each batch and wrong for a count or a maximum."""
    if not (isinstance(loss, jax.ShapeDtypeStruct) and loss.shape == ()
            and jnp.issubdtype(loss.dtype, jnp.floating)):
        got = (f"{np.dtype(loss.dtype).name}{list(loss.shape)}"
               if isinstance(loss, jax.ShapeDtypeStruct) else type(loss).__name__)
        raise ValueError(f"{where}: the loss must return a float scalar, the mean over the "
                         f"batch (e.g. jnp.mean of the per-example losses); got {got}")
    if metrics is None:
        return
    if not isinstance(metrics, Mapping) or not all(isinstance(k, str) for k in metrics):
        raise ValueError(f"{where}: metrics must return a dict of named values, e.g. "
                         f"{{'acc': ...}}; got {type(metrics).__name__}")
    for name, value in metrics.items():
        if not (isinstance(value, jax.ShapeDtypeStruct)
                and jnp.issubdtype(value.dtype, jnp.floating)):
            got = (np.dtype(value.dtype).name if isinstance(value, jax.ShapeDtypeStruct)
                   else type(value).__name__)
            raise ValueError(f"{where}: metrics[{name!r}] is {got}; each metric must be a float "
                             "mean over the batch (e.g. jnp.mean(preds == y)): fit averages it "
                             "over the batches weighted by their sizes, so a count or a maximum "
                             "would come out wrong")


@contextlib.contextmanager
def named_pass(where: str, params: Any, batch: Any) -> Iterator[None]:
    """Raise an error from the block again as a ValueError that starts with `where`."""
    try:
        yield
    except ParamsError:
        raise
    except KeyError as err:
        raise ValueError(f"{where}: the loss looked up {err.args[0]!r}, which is not there; "
                         f"params hold {_listed(params)}; a {where} minibatch holds "
                         f"{_listed(batch, where)} (params from another model's init?)"
                         ) from err
    except (TypeError, IndexError) as err:
        raise ValueError(f"{where}: {err} (tracing the loss on a {where} minibatch of "
                         f"{_listed(batch, where)}, with params {_listed(params)})"
                         ) from err
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def _listed(tree: Any, data_name: str | None = None, limit: int = 6) -> str:
    """Each array of a batch of `data_name` ("train X ...") or of params ("params['W'] ...")
    with its dtype and shape, the first `limit` of them."""
    names = (batches.array_names(tree, data_name) if data_name else
             [f"params{jax.tree_util.keystr(p)}" for p, _ in
              jax.tree_util.tree_flatten_with_path(tree)[0]])
    items = [f"{n} {np.dtype(a.dtype).name}{list(a.shape)}"
             for n, a in zip(names, jax.tree.leaves(tree), strict=True)]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit
                                       else "")


# ----------------------------------------------------------------------------- the training loss
def levels(history: Mapping[str, list], batch_size: int) -> np.ndarray:
    """Per model, the stable levels of a run that its newest epoch's mean training loss is
    judged against: the mean of each earlier epoch and, for a run recorded from its epoch 0
    whose first minibatch averaged at least START_EXAMPLES examples, that minibatch's loss (the
    loss at the starting params, before any step). Shape (levels, ...); non-finite ones nan."""
    found = [np.asarray(v, np.float64) for v in history["train_loss"][:-1]]
    if history["epoch"] and history["epoch"][0] == 0 and batch_size >= START_EXAMPLES:
        found.append(np.asarray(history["batch_loss"][0], np.float64)[..., 0])
    shape = np.shape(history["train_loss"][-1])
    stacked = np.stack(found) if found else np.zeros((0, *shape))
    return np.where(np.isfinite(stacked), stacked, np.nan)


def threshold(history: Mapping[str, list], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per model, (the run's lowest level, the value above which the newest epoch's mean
    training loss counts as diverged): RISE times that level for a loss that stayed >= 0; for
    a level below 0, where ratios mean nothing, the level plus (RISE - 1) times the larger of
    its size and the run's range of levels. Both nan when there is no level yet (the first
    epoch of a continued run)."""
    found = levels(history, batch_size)
    if not len(found):
        nan = np.full(found.shape[1:], np.nan)
        return nan, nan
    low, high = np.fmin.reduce(found, axis=0), np.fmax.reduce(found, axis=0)  # nan passed over
    scale = np.where(low >= 0, low, np.fmax(-low, high - low))
    return low, low + (RISE - 1) * scale


def diverged(history: Mapping[str, list], batch_size: int) -> np.ndarray:
    """Per model (or one bool): is the newest epoch's mean training loss non-finite, or above
    its run's `threshold` (10x the lowest of the earlier epochs' means and the loss at the
    start)? With no level yet, only a non-finite loss counts."""
    loss = np.asarray(history["train_loss"][-1], np.float64)
    _, high = threshold(history, batch_size)
    with np.errstate(invalid="ignore"):  # nan compares False
        return ~np.isfinite(loss) | (loss > high)


def likely_causes(history: Mapping[str, list], batch_size: int, model: int | None = None
                  ) -> str:
    """The causes of a divergence of `model` (its index in a stack; None for one model), most
    likely first, from what the losses show: a loss that was non-finite before any step, a few
    minibatches far above the others (bad examples), or a rise of the whole epoch (the
    learning rate)."""
    def of_model(values: Any) -> np.ndarray:
        values = np.asarray(values, np.float64)
        return values if model is None else values[model]

    first = of_model(history["batch_loss"][0])[0]
    if history["epoch"][0] == 0 and not np.isfinite(first):
        return ("the loss is not finite at the starting params, before any step: look at the "
                "params (nan or inf from init?) and the loss (a log of 0?); the learning rate "
                "is not the cause")
    losses = of_model(history["batch_loss"][-1])
    high = of_model(threshold(history, batch_size)[1])
    if not np.isfinite(high) and np.isfinite(losses).any():  # no level yet: this epoch's median
        median = np.median(losses[np.isfinite(losses)])
        high = median + (RISE - 1) * abs(median)
    finite = np.where(np.isfinite(losses), losses, np.inf)
    spikes = finite > high
    if spikes.any() and np.median(finite) <= high:
        worst = int(np.argmax(finite))
        return (f"{int(spikes.sum())} of the epoch's {losses.size} minibatches carry it (the "
                f"worst, minibatch {worst}, has loss {losses[worst]:.4g}; the median is "
                f"{np.median(finite):.4g}): look first for bad examples (an outlier target, a "
                "corrupted label), then lower the learning rate")
    return "lower the learning rate; if a lower one diverges too, check the loss and the data"


def divergence_message(epoch: int, history: Mapping[str, list], new: np.ndarray,
                       rates: np.ndarray | None, batch_size: int) -> str:
    """The warning for the models that diverged in `epoch` (1-based): their losses, the level
    they rose from, the learning rates and the likely causes."""
    def listed(values: Any) -> str:
        return ", ".join(f"{v:.4g}" for v in np.ravel(values))

    low, high = threshold(history, batch_size)
    loss = np.asarray(history["train_loss"][-1])
    which, models = "", [None]
    if new.ndim:
        models = [int(i) for i in np.flatnonzero(new)]
        which = f"model(s) {models}: "
        low, high, loss = low[new], high[new], loss[new]
        rates = None if rates is None else np.broadcast_to(rates, new.shape)[new]
    rate = "" if rates is None else f" at learning rate {listed(rates)}"
    rise = (" (non-finite)" if not np.isfinite(loss).all() else
            f", above {listed(high)} (the run's lowest level so far is {listed(low)}: the lowest "
            "earlier epoch mean, or the loss at the start)")
    return (f"{which}training diverged in epoch {epoch}{rate}: train loss {listed(loss)}{rise}. "
            f"Likely causes, most likely first: {grouped_causes(history, batch_size, models)}")


def grouped_causes(history: Mapping[str, list], batch_size: int, models: list) -> str:
    """`likely_causes` of each model, the models whose causes differ only in their figures
    said once (with the first one's figures): 16 diverging models give a line, not 16."""
    if len(models) == 1:
        return likely_causes(history, batch_size, models[0])
    groups: dict[str, list] = {}
    for m in models:
        text = likely_causes(history, batch_size, m)
        groups.setdefault(re.sub(_FIGURE, "#", text), []).append((m, text))
    said = []
    for members in groups.values():
        (first, text), others = members[0], [m for m, _ in members[1:]]
        alike = f"; model(s) {others} alike" if others else ""
        said.append(f"model(s) {[first] + others}: {text}" if len(groups) > 1 else
                    f"{text} (model {first}'s figures{alike})")
    return "; or ".join(said)


def warn_each_time(message: str, category: type[Warning] = RuntimeWarning) -> None:
    """`warnings.warn(message, category)` from the first caller outside jaxhw, shown every time:
    Python's warning registry shows a repeated message from one line once only, and every run
    that diverges must say so."""
    frame = inspect.currentframe()
    while frame is not None and frame.f_globals.get("__name__", "").startswith("jaxhw"):
        frame = frame.f_back
    if frame is None:
        warnings.warn(message, category, stacklevel=2)
        return
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry={})


def learning_rates(optimizer: optax.GradientTransformation, opt_state: Any) -> np.ndarray | None:
    """The learning rate(s) of a run, where they can be read: from the state of an
    `optax.inject_hyperparams` optimizer, else from the optimizer's own settings; or None."""
    held = _injected_learning_rate(opt_state)
    if held is not None:
        return held
    rate = _setting(describe(optimizer), "learning_rate")
    if rate is None:
        step = _setting(describe(optimizer), "step_size")  # optax's sgd scales by -lr
        rate = None if step is None else -step
    return None if rate is None else np.asarray(rate)


def _injected_learning_rate(opt_state: Any) -> np.ndarray | None:
    hyper = getattr(opt_state, "hyperparams", None)
    if isinstance(hyper, Mapping) and "learning_rate" in hyper:
        return np.asarray(jax.device_get(hyper["learning_rate"]))
    if isinstance(opt_state, tuple | list):  # e.g. the states of an optax.chain
        for inner in opt_state:
            found = _injected_learning_rate(inner)
            if found is not None:
                return found
    return None


def _setting(description: Any, name: str) -> float | None:
    """The first number recorded under `name` in a `describe` result."""
    if isinstance(description, Mapping):
        if isinstance(description.get(name), int | float):
            return description[name]
        items = description.values()
    elif isinstance(description, list):
        items = description
    else:
        return None
    for item in items:
        found = _setting(item, name)
        if found is not None:
            return found
    return None


class LossWatch:
    """Looks at the training loss after each epoch: warns once per model when it diverges (see
    `diverged`), says when to stop, and reports bad labels when a loss turns non-finite."""

    def __init__(self, loss: Any, params: Any, train: Any,
                 optimizer: optax.GradientTransformation, opt_state: Any, on_divergence: str,
                 stacked: bool, batch_size: int) -> None:
        self.loss, self.train, self.mode, self.batch_size = loss, train, on_divergence, batch_size
        self.optimizer, self.opt_state = optimizer, opt_state  # for the rates, if ever warned
        self.start = jax.tree.map(lambda a: a[0], params) if stacked else params  # model 0
        self.warned: np.ndarray | None = None

    def stop_after(self, index: int, history: Mapping[str, list]) -> bool:
        """Check epoch `index`'s training loss (recorded in `history`); True to stop now."""
        if self.warned is None:  # a resumed run warned about its earlier epochs already
            self.warned = np.zeros(np.shape(history["train_loss"][-1]), bool)
            for end in range(1, len(history["train_loss"])):
                self.warned |= diverged({k: v[:end] for k, v in history.items()},
                                        self.batch_size)
        train_loss = np.asarray(history["train_loss"][-1])
        if not np.all(np.isfinite(train_loss)):  # bad labels are an error, not divergence
            check_labels(self.loss, self.start, self.train)
        now = self.warned | diverged(history, self.batch_size)
        if np.any(now & ~self.warned):
            rates = learning_rates(self.optimizer, self.opt_state)
            warn_each_time(divergence_message(index + 1, history, now & ~self.warned, rates,
                                              self.batch_size))
        self.warned = now
        # With "warn", training goes on while some model's loss is finite.
        return bool(now.any() and self.mode == "stop") or not np.isfinite(train_loss).any()


def check_labels(loss: Any, params: Any, train: Any) -> None:
    """After a non-finite training loss: ValueError if some integer labels give a non-finite
    loss at the starting params where label 0 gives a finite one, on an all-zero input (so
    that only the label can be at fault): a class outside [0, q), a data error. Labels spread
    over several processes: each checks its own share, and all raise together."""
    if not (isinstance(train, tuple | list) and len(train) == 2):
        return
    X, y = train
    if len(np.shape(y)) != 1 or not jnp.issubdtype(y.dtype, jnp.integer):
        return
    labels = np.concatenate([np.asarray(jax.device_get(b)) for _, b in local_blocks(y)])
    values = np.union1d(labels, [0]).astype(labels.dtype)  # 0: a class of every classifier
    zeros = jnp.zeros((len(values), 1, *X.shape[1:]), X.dtype)
    per_label = jax.vmap(lambda x, t: loss(params, (x, t[None])))
    finite = np.isfinite(np.asarray(per_label(zeros, jnp.asarray(values))))
    error = None
    if finite[values == 0].all() and not finite.all():
        error = (f"train: label(s) {values[~finite].tolist()} give a non-finite loss even "
                 "at the starting parameters (on an all-zero input, where label 0 gives a "
                 "finite one); for a classifier, labels must lie in [0, number of classes) "
                 f"(train y{share_of(train)} holds values in [{labels.min()}, "
                 f"{labels.max()}]). Fix the labels; the learning rate is not the cause")
    raise_together(error, train, "train: labels that give a non-finite loss")
