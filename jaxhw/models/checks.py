"""Checks for models and their data, so bad input fails with a message naming the argument.

`check_classification_data` runs on the host before `fit` or `evaluate`; the others run in a
model's `init` or `apply`, while tracing, so a compiled step pays nothing for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
        raise ValueError(f"{name}: y must have shape ({x_shape[0]},) to match X, got {y_shape}")
    y_dtype = np.dtype(getattr(y, "dtype", np.asarray(y).dtype))
    if not np.issubdtype(y_dtype, np.integer):
        raise ValueError(f"{name}: y must hold integer class labels, got dtype {y_dtype}")
    labels = np.asarray(y)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{name}: y must hold labels in [0, {num_classes}), got values in "
                         f"[{low}, {high}]")
    return x_shape


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
