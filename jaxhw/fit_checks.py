"""What `fit` checks: its arguments before anything is traced, its training loss every epoch.

Each check names the argument, what was expected and what was given. Before compiling, `fit`
looks for nan and inf in the data (`check_finite`, one pass on the host) and traces the loss
on one abstract minibatch of each pass (`check_pass`), so that a fault met while tracing names
`train`, `val` or the parameter. After each epoch, `fit` asks `diverged` whether a training
loss turned non-finite or rose above `RISE` times the run's first minibatch loss, and
`check_labels` whether a non-finite loss comes from the labels.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.sharding import AxisType, Mesh

from jaxhw.data import batches
from jaxhw.fingerprint import describe
from jaxhw.models.checks import ParamsError

DATA_AXIS = "data"
RISE = 10.0


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
                         f"every leaf (e.g. jax.vmap(init)(keys)); got leading sizes {sizes}")
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
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


# ----------------------------------------------------------------------------- the data
def check_finite(data: Any, name: str) -> None:
    """ValueError naming the first array of `data` that holds nan or inf: how many values, in
    how many examples, and the first such example. Integer arrays (uint8 images) are skipped."""
    for array_name, a in zip(batches.array_names(data, name), jax.tree.leaves(data),
                             strict=True):
        if not jnp.issubdtype(a.dtype, jnp.inexact):
            continue
        finite = np.isfinite(a).all() if isinstance(a, np.ndarray) else jnp.isfinite(a).all()
        if finite:
            continue
        bad = ~np.isfinite(np.asarray(jax.device_get(a))).reshape(len(a), -1)
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"{array_name} holds {int(bad.sum())} non-finite value(s) (nan or inf) "
                         f"in {len(rows)} example(s), the first at index {rows[0]}; fix or drop "
                         "those examples before training")


def abstract_minibatch(data: Any, batch_size: int) -> Any:
    """The shapes and dtypes of one minibatch of `data`, as `jax.eval_shape` takes them."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(
        (batch_size, *np.shape(a)[1:]), jax.dtypes.canonicalize_dtype(a.dtype)), data)


def check_pass(where: str, fns: list[Callable], params: Any, data: Any, batch_size: int,
               stacked: bool = False) -> None:
    """Trace each `fn(params, batch)` (the loss, the metrics) on one minibatch of `data`,
    abstractly (`jax.eval_shape`: nothing is computed), before any compiling. An error met
    while tracing is raised again naming `where` ("train", "val"), with the shapes involved; a
    model's ParamsError as it is. (eval_shape remembers a function's trace for the same shapes,
    so a second fit with the same loss traces nothing here.)"""
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(
        np.shape(a)[1:] if stacked else np.shape(a), jax.dtypes.canonicalize_dtype(a.dtype)),
        params)
    batch = abstract_minibatch(data, batch_size)
    with named_pass(where, one, batch):
        for fn in fns:
            jax.eval_shape(fn, one, batch)


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
def diverged(history: Mapping[str, list]) -> np.ndarray:
    """Per model (or one bool): has the training loss been non-finite, or above RISE times the
    run's first minibatch loss, in any epoch so far?"""
    if not history["train_loss"]:
        return np.zeros((), bool)
    first = np.abs(np.asarray(history["batch_loss"][0])[..., 0])
    losses = np.stack([np.asarray(v) for v in history["train_loss"]])
    return np.any(~np.isfinite(losses) | (losses > RISE * first), axis=0)


def divergence_message(epoch: int, history: Mapping[str, list], new: np.ndarray,
                       rates: np.ndarray | None) -> str:
    """The warning for the models that diverged in `epoch` (1-based): losses, learning rates."""
    def listed(values: Any) -> str:
        return ", ".join(f"{v:.4g}" for v in np.ravel(values))

    first = np.asarray(history["batch_loss"][0])[..., 0]
    loss = np.asarray(history["train_loss"][-1])
    which = ""
    if new.ndim:
        which = f"model(s) {np.flatnonzero(new).tolist()}: "
        first, loss = first[new], loss[new]
        rates = None if rates is None else np.broadcast_to(rates, new.shape)[new]
    rate = "" if rates is None else f" at learning rate {listed(rates)}"
    return (f"{which}training diverged in epoch {epoch}{rate}: train loss {listed(loss)}, first "
            f"minibatch loss {listed(first)} (non-finite, or more than {RISE:g}x); lower the "
            "learning rate, or check the loss and the data")


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
    """Looks at the training loss after each epoch: warns once per model when it diverges, says
    when to stop, and reports bad labels when a loss turns non-finite."""

    def __init__(self, loss: Any, params: Any, train: Any,
                 optimizer: optax.GradientTransformation, opt_state: Any, on_divergence: str,
                 stacked: bool) -> None:
        self.loss, self.train, self.mode = loss, train, on_divergence
        self.optimizer, self.opt_state = optimizer, opt_state  # for the rates, if ever warned
        self.start = jax.tree.map(lambda a: a[0], params) if stacked else params  # model 0
        self.warned: np.ndarray | None = None

    def stop_after(self, index: int, history: Mapping[str, list]) -> bool:
        """Check epoch `index`'s training loss (recorded in `history`); True to stop now."""
        if self.warned is None:  # a resumed run warned about its earlier epochs already
            self.warned = diverged({k: v[:-1] for k, v in history.items()})
        train_loss = np.asarray(history["train_loss"][-1])
        if not np.all(np.isfinite(train_loss)):  # bad labels are an error, not divergence
            check_labels(self.loss, self.start, self.train)
        now = diverged(history)
        if np.any(now & ~self.warned):
            rates = learning_rates(self.optimizer, self.opt_state)
            warnings.warn(divergence_message(index + 1, history, now & ~self.warned, rates),
                          RuntimeWarning, stacklevel=3)
        self.warned = now
        # With "warn", training goes on while some model's loss is finite.
        return bool(now.any() and self.mode == "stop") or not np.isfinite(train_loss).any()


def check_labels(loss: Any, params: Any, train: Any) -> None:
    """After a non-finite training loss: ValueError if some integer labels give a non-finite
    loss at the starting params where label 0 gives a finite one, on an all-zero input (so
    that only the label can be at fault): a class outside [0, q), a data error."""
    if not (isinstance(train, tuple | list) and len(train) == 2):
        return
    X, y = train
    labels = np.asarray(jax.device_get(y))
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        return
    values = np.union1d(labels, [0]).astype(labels.dtype)  # 0: a class of every classifier
    zeros = jnp.zeros((len(values), 1, *X.shape[1:]), X.dtype)
    per_label = jax.vmap(lambda x, t: loss(params, (x, t[None])))
    finite = np.isfinite(np.asarray(per_label(zeros, jnp.asarray(values))))
    if finite[values == 0].all() and not finite.all():
        raise ValueError(f"train: label(s) {values[~finite].tolist()} give a non-finite loss even "
                         "at the starting parameters (on an all-zero input, where label 0 gives "
                         "a finite one); for a classifier, labels must lie in [0, "
                         f"number of classes) (train y holds values in [{labels.min()}, "
                         f"{labels.max()}]). Fix the labels; the learning rate is not the cause")
