"""Concentric rings (4.3): 2-D points whose class is the ring they lie on.

No line separates a ring from the rings inside it, so a linear classifier (softmax
regression) cannot learn them, while an MLP with one hidden layer can: a small data set that
shows the difference between the two in a picture.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import Array

from jaxhw.models.checks import check_key, check_sizes


def rings(key: Array, n: int, num_classes: int = 3, noise: float = 0.3) -> tuple[Array, Array]:
    """X (n, 2) float32 points on `num_classes` noisy rings; y (n,) int32 ring index.

    Ring k has radius k + 1; each point takes a uniform class and angle, and its radius gets
    N(0, noise^2) added. Every class is centred on the origin.
    """
    check_key(key)
    check_sizes(n=n, num_classes=num_classes)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    return _rings(key, n, num_classes, float(noise))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _rings(key: Array, n: int, num_classes: int, noise: float) -> tuple[Array, Array]:
    k_label, k_angle, k_noise = jax.random.split(key, 3)
    y = jax.random.randint(k_label, (n,), 0, num_classes)
    angle = jax.random.uniform(k_angle, (n,), maxval=2 * jnp.pi)
    radius = (y + 1) + noise * jax.random.normal(k_noise, (n,))
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], axis=1), y
