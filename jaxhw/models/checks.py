"""Checks for models and their data, so bad input fails with a message naming the argument.

`check_classification_data` runs on the host before `fit` or `evaluate`; the others run in a
model's `init` or `apply`, while tracing, so a compiled step pays nothing for them.
`check_params` compares params with the shapes a model's `apply` wants, written with named
sizes (`{"W": ("num_inputs", "num_outputs"), "b": ("num_outputs",)}`), and names the parameter
that is missing, extra or of another shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


def check_classification_data(data: Any, *, num_classes: int, input_shape: Sequence[int],
                              name: str = "data") -> tuple[int, ...]:
    """Validate a split `(X (n, *input_shape), y (n,) int)` with labels in [0, num_classes).

    Accepts X of shape (n, *input_shape) or (n, prod(input_shape)) (already flattened).
    Returns X's shape; raises ValueError naming `name` (e.g. "train") and X or y otherwise.
    """
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (X, y), got {type(data).__name__}")
    X, y = data
    x_shape, y_shape = tuple(np.shape(X)), tuple(np.shape(y))
    input_shape = tuple(int(d) for d in input_shape)
    if len(x_shape) < 1 or x_shape[0] == 0:
        raise ValueError(f"{name}: X is an empty batch (shape {x_shape}); need at least one "
                         "example")
    if x_shape[1:] not in (input_shape, (math.prod(input_shape),)):
        raise ValueError(f"{name}: X must have shape (n, {', '.join(map(str, input_shape))}) "
                         f"or (n, {math.prod(input_shape)}), got {x_shape}")
    x_dtype = np.dtype(getattr(X, "dtype", np.asarray(X).dtype))
    if not (x_dtype == np.uint8 or np.issubdtype(x_dtype, np.floating)):
        raise ValueError(f"{name}: X must hold uint8 pixels or floats, got dtype {x_dtype}")
    if y_shape != (x_shape[0],):
        raise ValueError(f"{name}: y must have shape ({x_shape[0]},) to match X, got {y_shape}"
                         f"{label_fix(np.asarray(y), x_shape[0])}")
    labels = np.asarray(y)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: y must hold integer class labels, got dtype {labels.dtype}"
                         f"{label_fix(labels, x_shape[0])}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{name}: y must hold labels in [0, {num_classes}), got values in "
                         f"[{low}, {high}]")
    return x_shape


def label_fix(y: np.ndarray, n: int) -> str:
    """The fix for labels that are not (n,) integers, as a clause for a message (or "")."""
    if y.ndim == 2 and y.shape[0] == n and y.size and np.all((y == 0) | (y == 1)) and np.all(
            y.sum(axis=1) == 1):
        return "; these look one-hot (one 1 per row): pass y.argmax(-1), the class indices"
    if y.ndim == 1 and np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        return "; these are whole numbers stored as floats: pass y.astype(int)"
    return ""


def check_sizes(**sizes: Any) -> None:
    """ValueError naming each layer size that is not an integer >= 1 (for a model's `init`)."""
    bad = {name: v for name, v in sizes.items()
           if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1}
    if bad:
        names = list(bad)
        named = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        what = "an integer" if len(names) == 1 else "integers"
        raise ValueError(f"{named} must be {what} >= 1, got {', '.join(map(repr, bad.values()))}")


def hidden_widths(num_hiddens: int | Sequence[int]) -> tuple[int, ...]:
    """`num_hiddens` (one width, or a sequence of them) as a tuple; ValueError naming bad ones."""
    if not isinstance(num_hiddens, Sequence):
        check_sizes(num_hiddens=num_hiddens)
        return (num_hiddens,)
    if not num_hiddens:
        raise ValueError("num_hiddens must be a width or a non-empty sequence of widths, got "
                         f"{num_hiddens!r}")
    check_sizes(**{f"num_hiddens[{i}]": h for i, h in enumerate(num_hiddens)})
    return tuple(num_hiddens)


def check_key(key: Any) -> None:
    """ValueError unless `key` is a single PRNG key (from `jax.random.key(seed)`)."""
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    legacy = getattr(key, "shape", None) == (2,) and getattr(key, "dtype", None) == jnp.uint32
    if not (typed and key.shape == () or legacy):
        raise ValueError("key must be a PRNG key from jax.random.key(seed), got "
                         f"{type(key).__name__} {np.shape(key)}")


def check_features(X: Array, num_inputs: int) -> None:
    """ValueError unless X is (n, num_inputs): the shape a linear layer's weights expect."""
    if X.ndim != 2 or X.shape[1] != num_inputs:
        raise ValueError(f"X must have shape (n, {num_inputs}) for these weights, got {X.shape}")


class ParamsError(ValueError):
    """Params that do not fit a model's `apply`; the message names the parameter."""


Shapes = Mapping[str, tuple[int | str, ...]]  # "hidden/kernel" -> ("num_inputs", "num_hiddens")


def check_params(model: str, params: Any, want: Shapes) -> dict[str, int]:
    """The sizes named in `want`, read from `params`; ParamsError naming each parameter that
    is missing, extra, or of another shape than `want` says.

    want: parameter name ("W", or "hidden/kernel" for nested dicts and nnx.State) -> shape, a
    tuple of ints and size names; a name takes its value from the first parameter that has it.
    """
    if not isinstance(params, Mapping):
        raise ParamsError(f"{model}.apply needs params holding {_wanted(want)}; got "
                          f"{type(params).__name__}")
    got = _shapes(params)
    missing, extra = [k for k in want if k not in got], [k for k in got if k not in want]
    if missing:
        raise ParamsError(f"{model}.apply needs params {_wanted(want)}; params has no "
                          f"{', '.join(missing)}: it holds {_listed(got)} (the params of "
                          "another model?)")
    if extra:
        raise ParamsError(f"{model}.apply needs params {_wanted(want)}; params also holds "
                          f"{_listed({k: got[k] for k in extra})}, which it does not use")
    sizes: dict[str, int] = {}
    source: dict[str, str] = {}
    for name, spec in want.items():
        shape = got[name]
        for dim in (d for d in spec if isinstance(d, str) and d not in sizes):
            if len(shape) == len(spec):
                sizes[dim], source[dim] = shape[spec.index(dim)], name
        expected = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in spec)
        if shape != expected:
            named = ", ".join(f"{d} = {sizes[d]} from {_path(source[d])}" for d in spec
                              if isinstance(d, str) and d in sizes and source[d] != name)
            resolved = "" if len(shape) != len(spec) else f" = {expected}"
            raise ParamsError(f"{model}.apply: {_path(name)} has shape {shape}, but the model "
                              f"wants {_spec(spec)}{resolved}" + (f" ({named})" if named else ""))
    return sizes


def _shapes(params: Mapping, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Every array in nested mappings (dicts, nnx.State), by its path "a/b", with its shape."""
    out: dict[str, tuple[int, ...]] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_shapes(value, f"{name}/"))
        else:
            out[name] = tuple(np.shape(value))
    return out


def _path(name: str) -> str:
    """A parameter's name as the indexing that reaches it: "hidden/kernel" -> params['hidden']
    ['kernel']."""
    return "params" + "".join(f"[{part!r}]" for part in name.split("/"))


def _spec(spec: tuple[int | str, ...]) -> str:
    """("num_outputs",) -> "(num_outputs,)", as Python writes a shape."""
    return f"({', '.join(map(str, spec))}{',' if len(spec) == 1 else ''})"


def _wanted(want: Shapes) -> str:
    return ", ".join(f"{name} {_spec(spec)}" for name, spec in want.items())


def _listed(got: Mapping[str, tuple[int, ...]], limit: int = 8) -> str:
    items = [f"{name} {shape}" for name, shape in got.items()]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit
                                       else "")
