# %% [markdown]
# # 4.1 Softmax regression: loss function and information theory
# The cross-entropy loss of softmax regression measured in nats: surprisal -log p, entropy
# H(p), cross-entropy H(p, q) and the identity H(p, q) = H(p) + KL(p || q), checked
# numerically on random distributions. Plus the figure of surprisal against p.

# %%
from __future__ import annotations

import functools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.runner import run_as_script
from jaxhw.board import plot, save_figure
from jaxhw.nn import information, losses

SECTION = "4.1"
TITLE = "Softmax regression: loss and information theory"


# %% [markdown]
# ## Entropy of a uniform distribution over 10 classes is log 10
# A model that knows nothing about FashionMNIST's ten classes pays log 10 = 2.303 nats per
# example: the cross-entropy a freshly initialised classifier starts near.

# %%
def uniform_entropy(q: int = 10) -> float:
    """H of the uniform distribution over q outcomes, in nats (= log q)."""
    return float(jax.jit(information.entropy)(jnp.full((q,), 1.0 / q)))


# %% [markdown]
# ## Cross-entropy = entropy + KL divergence
# For distributions p (the truth) and q (the model): H(p, q) = H(p) + D_KL(p || q). With
# one-hot p, H(p) = 0 and the cross-entropy is the classification loss of the book.

# %%
@functools.partial(jax.jit, static_argnames=("num", "q"))
def identity_gap(key: jax.Array, num: int, q: int) -> dict[str, jax.Array]:
    """Max |H(p, q) - H(p) - KL(p || q)| over `num` random pairs, and the smallest KL."""
    kp, kq = jax.random.split(key)
    p = jax.nn.softmax(2 * jax.random.normal(kp, (num, q)))
    r = jax.nn.softmax(2 * jax.random.normal(kq, (num, q)))
    gap = information.cross_entropy(p, r) - information.entropy(p) - \
        information.kl_divergence(p, r)
    return {"max_gap": jnp.max(jnp.abs(gap)),
            "min_kl": jnp.min(information.kl_divergence(p, r))}


@jax.jit
def one_hot_cross_entropy(y_hat: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean H(one_hot(y), y_hat) by information.cross_entropy, and by the book's loss."""
    by_information = information.cross_entropy(jax.nn.one_hot(y, y_hat.shape[1]), y_hat).mean()
    return by_information, losses.book_cross_entropy(y_hat, y)


@jax.jit
def curves(p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Surprisal -log p and the entropy of a coin with P(heads) = p, for p (n,)."""
    return information.surprisal(p), information.entropy(jnp.stack([p, 1 - p], axis=-1))


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    entropy_10 = uniform_entropy(10)
    print(f"H(uniform over 10) = {entropy_10:.6f} nats, log 10 = {math.log(10):.6f}")

    # %% The identity, on random distributions (fewer in quick mode).
    check = {k: float(v) for k, v in
             identity_gap(jax.random.key(seed), num=64 if quick else 1024, q=10).items()}
    print(f"max |H(p,q) - H(p) - KL(p||q)| = {check['max_gap']:.2e}; "
          f"min KL = {check['min_kl']:.4f} >= 0")
    by_information, by_loss = map(float, one_hot_cross_entropy(
        jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]), jnp.array([0, 2])))

    # %% Surprisal against p, and the binary entropy H(p, 1 - p) beside it.
    p = np.linspace(0.001, 1.0, 500, dtype=np.float32)
    surprisal, coin_entropy = jax.device_get(curves(jnp.asarray(p)))
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.5))
    plot(p, surprisal, "p", "-log p (nats)", axes=axes[0], title="surprisal")
    plot(p, coin_entropy, "p", "H (nats)", axes=axes[1],
         title="entropy of a coin with P(heads) = p")
    save_figure(fig, out_dir / "surprisal.png")

    return {
        "entropy_uniform_10": entropy_10,
        "log_10": math.log(10),
        "cross_entropy_identity_max_gap": check["max_gap"],
        "min_kl_divergence": check["min_kl"],
        "book_example_cross_entropy": by_loss,
        "book_example_one_hot_cross_entropy": by_information,
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
