"""Automatic differentiation (2.5): the book's control-flow f, a jittable twin, and the VJP.

The book's `f` doubles `a` until its norm reaches 1000 and then branches on the sign. That is
Python control flow over array values: `jax.grad` can follow it (the values are concrete while
differentiating), `jax.jit` cannot (the values are abstract tracers). `control_flow_f_jit`
computes the same function with `lax.while_loop` and `jnp.where`, so it jits and differentiates.

Why not differentiate through the `lax.while_loop` directly: reverse mode (`jax.grad`, `vjp`)
does not support `while_loop` with a data-dependent trip count, because it would have to store
an unknown number of iterates. The trip count itself has zero derivative, so we count the
doublings under `stop_gradient` and then apply the (linear, differentiable) map `a -> 2**n a`.

One deliberate difference from the book: at `a == 0` the norm never reaches 1000 and the book's
loop spins forever. Both versions here stop doubling once the norm is 0, so `f(0) == 0`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array, lax

_NORM_TARGET = 1000.0


def control_flow_f(a: Array) -> Array:
    """The book's f (Python `while`/`if`, stops at a == 0): a (any shape) -> same. Not jittable."""
    b = a * 2
    while 0 < jnp.linalg.norm(b) < _NORM_TARGET:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def _doubling_scales(a: Array) -> tuple[Array, Array]:
    """Two powers of two whose product is the book's doubling factor 2**n: scalars, a's dtype.

    The factor is kept as two balanced halves, each built by exact doublings, so that neither
    overflows for tiny `a` (2**n reaches ~2**136 for the smallest normal float32) and
    `a * s1 * s2` is exactly the book's `b`. (`jnp.exp2` of an integer is not exact on
    XLA:CPU, so it won't do.)
    """
    a = lax.stop_gradient(a)
    one = jnp.ones((), a.dtype)

    def keep_doubling(state: tuple[Array, Array, Array]) -> Array:
        norm = jnp.linalg.norm(state[0])
        return (norm > 0) & (norm < _NORM_TARGET)

    def double(state: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
        b, s1, s2 = state
        return b * 2, s2, s1 * 2

    _, s1, s2 = lax.while_loop(keep_doubling, double, (a * 2, one, 2 * one))
    return s1, s2


def control_flow_f_jit(a: Array) -> Array:
    """The book's f as a jittable, reverse-differentiable function: a (any shape) -> same shape.

    The trip count is found under `stop_gradient`; the map `a -> 2**n a` that it defines is
    then applied to `a` itself, so `grad` sees a product. Equal to `control_flow_f` bit for bit.
    """
    s1, s2 = _doubling_scales(a)
    b = a * s1 * s2
    return jnp.where(lax.stop_gradient(b).sum() > 0, b, 100 * b)


def vjp_with_ones(fn: Callable[[Array], Array], x: Array) -> Array:
    """`v^T J` of `fn` at `x` with v = ones: x (n,) -> (n,); equals `grad(sum(fn(x)))`.

    This is JAX's spelling of PyTorch's `y.backward(gradient=torch.ones(len(y)))` for a
    non-scalar `y`.
    """
    y, pullback = jax.vjp(fn, x)
    (grad_x,) = pullback(jnp.ones_like(y))
    return grad_x
