"""Section 3.1's speed comparison: adding two vectors by a Python loop, vectorized, and jitted."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


@functools.partial(jax.jit, donate_argnums=0)
def _set_sum(c: Array, a: Array, b: Array, i: Array) -> Array:
    """c with c[i] = a[i] + b[i]; `c` is donated, so XLA writes into its buffer in place."""
    return c.at[i].set(a[i] + b[i])


def loop_add(a: Array, b: Array) -> Array:
    """c[i] = a[i] + b[i] one element at a time with `.at[i].set` (JAX arrays are immutable).

    Each step is one small compiled call that updates the donated `c` in place, so what the
    loop costs is Python and dispatch, as in the book's PyTorch loop.
    """
    c = jnp.zeros_like(a)
    for i in range(a.shape[0]):
        c = _set_sum(c, a, b, i)
    return c


def vector_add(a: Array, b: Array) -> Array:
    """c = a + b in one vectorized operation."""
    return a + b


jit_add = jax.jit(vector_add)


def best_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 0) -> float:
    """Fastest of `repeat` timed calls of `fn` (seconds), waiting for the device each time,
    after `warmup` untimed ones (e.g. the call that compiles)."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def normal_pdf(x: Array, mu: float, sigma: float) -> Array:
    """Density of N(mu, sigma^2) at x (3.1.3)."""
    return jnp.exp(-0.5 * ((x - mu) / sigma) ** 2) / math.sqrt(2 * math.pi * sigma**2)


def time_additions(n: int = 10000) -> dict[str, float]:
    """Seconds for loop, vectorized and jitted addition of two ones(n) vectors; results checked.

    The loop is timed once (it is slow: three dispatches per element); the others are the
    fastest of many calls.
    """
    a, b = jnp.ones(n), jnp.ones(n)
    expected = np.full(n, 2.0, np.float32)
    start = time.perf_counter()
    looped = jax.block_until_ready(loop_add(a, b))
    loop_s = time.perf_counter() - start
    for c in (looped, vector_add(a, b), jit_add(a, b)):
        np.testing.assert_array_equal(np.asarray(c), expected)
    return {
        "loop_s": loop_s,
        "vectorized_s": best_time(lambda: vector_add(a, b), 20),
        "jit_s": best_time(lambda: jit_add(a, b), 20),
    }
