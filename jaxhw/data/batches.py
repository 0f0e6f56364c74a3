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


_FEISTEL_ROUNDS = 8
_FEISTEL_MIN_N = 4096  # below this the halves are too narrow to mix well: sort instead


def _mix32(x: Array) -> Array:
    """A 32-bit integer hash (lowbias32): every input bit flips about half the output bits."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _feistel_permutation(key: Array, n: int) -> Array:
    """A keyed pseudo-random permutation of range(n): a balanced Feistel network over 2^(2h)
    indices with cycle-walking back into [0, n). Elementwise work only, no sort."""
    half = -(-(n - 1).bit_length() // 2)
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (_FEISTEL_ROUNDS,), dtype=jnp.uint32)

    def encrypt(x):
        def feistel_round(r, halves):
            left, right = halves
            return right, left ^ (_mix32(right ^ round_keys[r]) & mask)

        left, right = jax.lax.fori_loop(0, _FEISTEL_ROUNDS, feistel_round, (x >> half, x & mask))
        return (left << half) | right

    def walk(state):  # encrypt what is not yet placed inside [0, n): cycle-walking
        x, done = state
        x = jnp.where(done, x, encrypt(x))
        return x, done | (x < n)

    start = (jnp.arange(n, dtype=jnp.uint32), jnp.zeros(n, bool))
    x, _ = jax.lax.while_loop(lambda state: ~jnp.all(state[1]), walk, start)
    return x.astype(jnp.int32)


def epoch_permutation(key: Array, n: int) -> Array:
    """A random order of `n` examples drawn from `key` (int32, (n,)).

    For n >= 4096 a keyed Feistel permutation: O(n) elementwise work, ~10x cheaper on CPU than
    `jax.random.permutation`'s sorts (which cost ~25-40 ms per epoch of FashionMNIST), with
    positions uniform in our chi-square tests. Smaller n: argsort of random bits.
    """
    if n >= _FEISTEL_MIN_N:
        return _feistel_permutation(key, n)
    return jnp.argsort(jax.random.bits(key, (n,), dtype=jnp.uint32)).astype(jnp.int32)


def split_batches(order: Array, batch_size: int) -> tuple[Array, Array]:
    """Full batches `(n // b, b)` of indices from `order`, and the last partial batch `(n % b,)`."""
    full = order.shape[0] // batch_size
    return order[: full * batch_size].reshape(full, batch_size), order[full * batch_size:]


def take(data: Dataset, idx: Array) -> Dataset:
    """The examples at `idx` from every array of `data` (a gather on the device).

    Each array is gathered as rows of a 2-D view: XLA's CPU gather of whole rows is several
    times faster than of (28, 28, 1) blocks.
    """

    def rows(a):
        flat = a.reshape(a.shape[0], -1) if a.ndim > 2 else a
        return jnp.take(flat, idx, axis=0).reshape(idx.shape + a.shape[1:])

    return jax.tree.map(rows, data)


def reshape_batches(data: Dataset, batch_size: int) -> tuple[Dataset, Dataset]:
    """In-order full batches `(n // b, b, ...)` of `data` and the remainder `(n % b, ...)`."""
    n = num_examples(data)
    full = n // batch_size

    def head(a):
        return a[: full * batch_size].reshape(full, batch_size, *a.shape[1:])

    return jax.tree.map(head, data), jax.tree.map(lambda a: a[full * batch_size:], data)
