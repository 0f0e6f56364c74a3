"""Images as a model's input: uint8 pixels scaled to [0, 1] inside the model (4.2, 4.4).

Images stay uint8 on the device (a quarter of float32's memory) and become floats only inside
the compiled step, where a model's `apply` calls `flatten_images` first. A custom model on
FashionMNIST does the same.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array


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
