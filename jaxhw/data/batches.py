"""Device-resident datasets: validation, keyed per-epoch permutations, batch indices.

A dataset is any pytree of arrays sharing the leading (example) axis, e.g. `(X, y)`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

Dataset = Any  # a pytree of arrays with a common leading axis


def num_examples(data: Dataset, name: str = "data") -> int:
    """Length of the common leading axis; ValueError naming `name` when leaves disagree."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError(f"{name} holds no arrays; expected e.g. a pair (X, y)")
    shapes = [np.shape(leaf) for leaf in leaves]
    if any(len(s) == 0 for s in shapes):
        raise ValueError(f"{name}: every array needs a leading example axis, got shapes {shapes}")
    lengths = {s[0] for s in shapes}
    if len(lengths) != 1:
        raise ValueError(f"{name}: arrays have different lengths {[s[0] for s in shapes]} "
                         "along the example axis (e.g. X and y must have the same length)")
    return lengths.pop()


def to_device(data: Dataset, name: str = "data", sharding: Any = None) -> Dataset:
    """Validate `data` and put every array on the device (or `sharding`) once, keeping dtypes."""
    num_examples(data, name)
    return jax.device_put(jax.tree.map(jnp.asarray, data), sharding)


def epoch_permutation(key: Array, n: int) -> Array:
    """A uniformly random order of `n` examples drawn from `key`: argsort of random bits.

    One sort instead of `jax.random.permutation`'s several rounds (~3x faster on CPU); ties
    among 32-bit draws are rare and broken by index, which leaves the order unbiased enough
    for shuffling minibatches.
    """
    return jnp.argsort(jax.random.bits(key, (n,), dtype=jnp.uint32)).astype(jnp.int32)


def split_batches(order: Array, batch_size: int) -> tuple[Array, Array]:
    """Full batches `(n // b, b)` of indices from `order`, and the last partial batch `(n % b,)`."""
    full = order.shape[0] // batch_size
    return order[: full * batch_size].reshape(full, batch_size), order[full * batch_size:]


def take(data: Dataset, idx: Array) -> Dataset:
    """The examples at `idx` from every array of `data` (a gather on the device)."""
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)


def reshape_batches(data: Dataset, batch_size: int) -> tuple[Dataset, Dataset]:
    """In-order full batches `(n // b, b, ...)` of `data` and the remainder `(n % b, ...)`."""
    n = num_examples(data)
    full = n // batch_size

    def head(a):
        return a[: full * batch_size].reshape(full, batch_size, *a.shape[1:])

    return jax.tree.map(head, data), jax.tree.map(lambda a: a[full * batch_size:], data)
