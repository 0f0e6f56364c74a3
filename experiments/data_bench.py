"""One pass over FashionMNIST's train set: device-resident batches vs `tfds.data_source` reads.

`python -m experiments.data_bench [--batch-size 256] [--source-batches N]` prints both times and
their ratio; `data_pass_benchmark()` returns them for the benchmark report.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw.data import batches, fashion_mnist


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
    rows = images.reshape(n, -1)  # gathering whole rows is ~5x faster than (H, W, C) blocks
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

    With `max_batches`, only that many batches are read and the full pass is extrapolated.
    """
    n = len(source)
    order = np.random.default_rng(seed).permutation(n)
    num_batches = -(-n // batch_size)
    timed = num_batches if max_batches is None else min(max_batches, num_batches)
    start = time.perf_counter()
    for b in range(timed):
        records = source.__getitems__(order[b * batch_size:(b + 1) * batch_size].tolist())
        np.stack([r["image"] for r in records])
        np.fromiter((r["label"] for r in records), np.int32, count=len(records))
    seconds = time.perf_counter() - start
    return {"pass_s": seconds * num_batches / timed, "batches_timed": timed,
            "batches": num_batches, "extrapolated": timed < num_batches}


def data_pass_benchmark(data_dir: str | Path | None = None, batch_size: int = 256,
                        seed: int = 0, source_batches: int | None = None) -> dict[str, Any]:
    """One train pass in batches of `batch_size`: device-resident vs `tfds.data_source` times."""
    images, labels = fashion_mnist.load("train", data_dir)
    device = time_device_pass(images, labels, batch_size, seed)
    source = time_source_pass(fashion_mnist.data_source("train", data_dir), batch_size, seed,
                              source_batches)
    return {
        "batch_size": batch_size,
        "num_examples": int(len(labels)),
        "device_pass_s": device["pass_s"],
        "device_shuffle_s": device["shuffle_s"],
        "device_compile_and_run_s": device["compile_and_run_s"],
        "tfds_pass_s": source["pass_s"],
        "tfds_batches_timed": source["batches_timed"],
        "tfds_pass_extrapolated": source["extrapolated"],
        "tfds_over_device": source["pass_s"] / device["pass_s"],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: run the benchmark and print the two times and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m experiments.data_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--source-batches", type=int, default=None,
                        help="time only this many data_source batches and extrapolate")
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default: TFDS's)")
    args = parser.parse_args(argv)
    result = data_pass_benchmark(args.data_dir, args.batch_size,
                                 source_batches=args.source_batches)
    note = " (extrapolated)" if result["tfds_pass_extrapolated"] else ""
    print(f"train pass, batches of {result['batch_size']}: device-resident "
          f"{result['device_pass_s']:.4f} s (of which shuffling "
          f"{result['device_shuffle_s']:.4f} s; first call incl. compile "
          f"{result['device_compile_and_run_s']:.2f} s); tfds.data_source "
          f"{result['tfds_pass_s']:.2f} s{note}; ratio {result['tfds_over_device']:.0f}x")
    return result


if __name__ == "__main__":
    main()
