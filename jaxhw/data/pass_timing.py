"""One pass over a split, timed two ways (4.2): device-resident batches and data-source reads.

`time_device_pass` times what a training epoch does with the data: the split sits on the device
as one array and each shuffled batch is a gather inside one compiled program. `time_source_pass`
times reading the same batches record by record from a `tfds.data_source`, as a per-epoch data
loader (the book's `DataLoader`) does.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw.data import batches


@functools.partial(jax.jit, static_argnames="batch_size")
def device_pass(images: jax.Array, labels: jax.Array, seed: int | jax.Array, batch_size: int
                ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Visit every example once in shuffled batches gathered on device, as a training epoch does.

    images (n, H, W, C) uint8, labels (n,) int32. The last partial batch is padded and masked.
    Returns (sum of pixels scaled to [0, 1], examples seen, sum of labels) so that nothing is
    optimised away and a test can check each example was seen exactly once.
    """
    n = images.shape[0]
    num_batches = -(-n // batch_size)
    rows = images.reshape(n, -1)  # XLA gathers whole rows faster than (H, W, C) blocks
    order = batches.epoch_permutation(jax.random.key(seed), n)  # as `fit` shuffles
    padded = jnp.zeros(num_batches * batch_size, order.dtype).at[:n].set(order)
    keep = (jnp.arange(num_batches * batch_size) < n).astype(jnp.float32)

    def step(carry, batch):
        index, mask = batch
        X = rows.at[index].get(mode="promise_in_bounds").astype(jnp.float32) / 255.0
        y = labels.at[index].get(mode="promise_in_bounds")
        total, seen, label_sum = carry
        return (total + X.sum(axis=1) @ mask, seen + mask.sum(),
                label_sum + y.astype(jnp.float32) @ mask), None

    zero = jnp.float32(0)
    (total, seen, label_sum), _ = jax.lax.scan(
        step, (zero, zero, zero), (padded.reshape(num_batches, batch_size),
                                   keep.reshape(num_batches, batch_size)))
    return total, seen.astype(jnp.int32), label_sum.astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=1)
def _shuffle(seed: int | jax.Array, n: int) -> jax.Array:
    return batches.epoch_permutation(jax.random.key(seed), n)


def time_device_pass(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0,
                     repeats: int = 5) -> dict[str, float]:
    """Best seconds of `device_pass` (device arrays), of its shuffle alone, and of the 1st call."""
    images, labels = jax.device_put(images), jax.device_put(labels)

    def best_of(run) -> float:
        best = float("inf")
        for r in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(run(seed + 1 + r))
            best = min(best, time.perf_counter() - start)
        return best

    start = time.perf_counter()
    jax.block_until_ready(device_pass(images, labels, seed, batch_size))
    first = time.perf_counter() - start
    jax.block_until_ready(_shuffle(seed, len(labels)))
    return {"compile_and_run_s": first,
            "pass_s": best_of(lambda s: device_pass(images, labels, s, batch_size)),
            "shuffle_s": best_of(lambda s: _shuffle(s, len(labels)))}


def time_source_pass(source: Any, batch_size: int, seed: int = 0,
                     max_batches: int | None = None) -> dict[str, Any]:
    """Seconds for shuffled batches read (batched `__getitems__`) and stacked from a data source.

    With `max_batches`, only that many batches are read and the full pass is extrapolated. One
    record is read before the clock starts: the first read opens the files, a one-off cost
    that would otherwise be multiplied by the extrapolation.
    """
    n = len(source)
    order = np.random.default_rng(seed).permutation(n)
    num_batches = -(-n // batch_size)
    timed = num_batches if max_batches is None else min(max_batches, num_batches)
    source.__getitems__([int(order[-1])])
    start = time.perf_counter()
    for b in range(timed):
        records = source.__getitems__(order[b * batch_size:(b + 1) * batch_size].tolist())
        np.stack([r["image"] for r in records])
        np.fromiter((r["label"] for r in records), np.int32, count=len(records))
    seconds = time.perf_counter() - start
    return {"pass_s": seconds * num_batches / timed, "batches_timed": timed,
            "batches": num_batches, "extrapolated": timed < num_batches}
