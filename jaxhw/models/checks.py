"""Input checks and preparation for classifiers.

`check_classification_data` runs on the host before `fit` or `evaluate`, so bad data fails with
a message naming the argument before anything is traced or compiled. `flatten_images` runs
inside a model's `apply` (inside the compiled step): uint8 pixels become floats in [0, 1] there,
so images stay uint8 (a quarter of the memory) on the device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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


def check_sizes(**sizes: int) -> None:
    """ValueError naming every layer size given unless all are >= 1 (for a model's `init`)."""
    if min(sizes.values()) < 1:
        names = list(sizes)
        named = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        raise ValueError(f"{named} must be >= 1, got {', '.join(map(str, sizes.values()))}")


def flatten_images(X: Array, num_inputs: int) -> Array:
    """X (n, ...) uint8 pixels or floats -> (n, num_inputs) float32; uint8 is scaled by 1/255."""
    if X.ndim < 2 or math.prod(X.shape[1:]) != num_inputs:
        raise ValueError(f"X must have shape (n, ...) with {num_inputs} values per example, "
                         f"got {X.shape}")
    if X.dtype == jnp.uint8:
        return X.reshape(X.shape[0], num_inputs).astype(jnp.float32) / 255
    if not jnp.issubdtype(X.dtype, jnp.floating):  # an int64 image would skip the 1/255
        raise ValueError(f"X must hold uint8 pixels (scaled by 1/255) or floats, got dtype "
                         f"{X.dtype}; convert pixels with X.astype(np.uint8)")
    return X.reshape(X.shape[0], num_inputs).astype(jnp.float32)
