"""Information theory for classification (4.1): surprisal, entropy, cross-entropy, KL.

Distributions are probability vectors along the last axis, p: (..., q). Terms with p_j = 0
contribute 0 (0 log 0 = 0), which `xlogy` implements without producing nan.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.scipy.special import xlogy


def surprisal(p: Array) -> Array:
    """-log p in nats, elementwise: how surprised we are to see an event of probability p."""
    return -jnp.log(p)


def entropy(p: Array) -> Array:
    """H(p) = -sum_j p_j log p_j in nats; p: (..., q) -> (...)."""
    return -xlogy(p, p).sum(axis=-1)


def cross_entropy(p: Array, q: Array) -> Array:
    """H(p, q) = -sum_j p_j log q_j: expected surprisal under q of events drawn from p."""
    return -xlogy(p, q).sum(axis=-1)


def kl_divergence(p: Array, q: Array) -> Array:
    """D_KL(p || q) = sum_j p_j log(p_j / q_j) >= 0; H(p, q) = H(p) + D_KL(p || q)."""
    return (xlogy(p, p) - xlogy(p, q)).sum(axis=-1)
