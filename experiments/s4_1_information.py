# %% [markdown]
# # 4.1 Softmax Regression
#
# *Dive into Deep Learning*, section 4.1, in JAX: softmax regression turns a linear layer's
# scores into class probabilities with the softmax, and trains on the cross-entropy loss, the
# expected surprisal of the true labels under the model. Measured in nats (natural logarithm),
# surprisal, entropy, cross-entropy and the KL divergence are each one function of
# `jaxhw.nn.information`.
#
# The reference notebook states these formulas (its sections 15.2-15.4) and computes no
# values of its own for 4.1; the only numbers it prints for them are in its 4.4, on a two-example
# batch (cells [196], [197]). We evaluate every formula on that batch, so the cells that reuse
# it start with `# reference:` and what it printed; the output under the cell is this
# notebook's.

# %% tags=["parameters"]
quick = False  # smoke run: 64 random distribution pairs instead of 1024 in the identity check
seed = 0  # PRNG seed of the random distributions
out_dir = "results/4.1"  # where surprisal.png and metrics.json go

# %%
import math

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxhw import notebook
from jaxhw.board import plot
from jaxhw.nn import information, losses
from jaxhw.nn.softmax import softmax

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names

# %% [markdown]
# ## The softmax
# ŷ_j = exp(o_j) / Σ_k exp(o_k): every entry positive, each row summing to 1, and the largest
# score keeps the largest probability. Adding a constant to every score of a row changes
# nothing, which is how `softmax` stays finite for the second row: exp(103) overflows float32,
# so it subtracts each row's largest score first (the book's plain version, 4.4, gives nan).

# %%
o = jnp.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0 + 100.0]])
y_hat_o = softmax(o)
metrics.update(softmax_example=y_hat_o[0], softmax_row_sums=y_hat_o.sum(axis=1),
               softmax_shifted=softmax(o[:1] + 10.0)[0])
y_hat_o, y_hat_o.sum(axis=1), softmax(o[:1] + 10.0)

# %% [markdown]
# ## Loss function: cross-entropy
# With y one-hot (1 for the true class, 0 elsewhere), the loss of one example is
# L(ŷ, y) = −Σ_j y_j log ŷ_j = −log ŷ_label: only the probability given to the true class
# counts. The reference's batch: two examples over three classes, labels 0 and 2.

# %%
# reference: tensor([0.1000, 0.5000])
y = jnp.array([0, 2])
y_hat = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
metrics["book_example_picked"] = y_hat[jnp.arange(2), y]
y_hat[jnp.arange(2), y]

# %% [markdown]
# The book's `cross_entropy` (`losses.book_cross_entropy`) picks those entries; the formula
# above with one-hot y (`information.cross_entropy`) sums over all classes. Both give the
# mean over the batch, (−log 0.1 − log 0.5) / 2.

# %%
# reference: tensor(1.4979)
by_loss = losses.book_cross_entropy(y_hat, y)
by_information = information.cross_entropy(jax.nn.one_hot(y, 3), y_hat).mean()
metrics.update(book_example_cross_entropy=by_loss,
               book_example_one_hot_cross_entropy=by_information)
print(f"reference: 1.4979; here: {by_loss:.4f} (book_cross_entropy), "
      f"{by_information:.4f} (one-hot formula)")

# %% [markdown]
# The derivative that makes this loss convenient: for scores o and ŷ = softmax(o), the
# gradient of −log ŷ_label with respect to o is ŷ − one_hot(label), the predicted minus the
# observed probabilities. `jax.grad` of the stable `losses.cross_entropy` on logits agrees
# (it averages over the batch, hence the factor 2).

# %%
logits = jnp.log(y_hat)  # scores whose softmax is y_hat
grad = jax.grad(losses.cross_entropy)(logits, y)
metrics["grad_minus_softmax_minus_one_hot"] = jnp.abs(
    2 * grad - (softmax(logits) - jax.nn.one_hot(y, 3))).max()
2 * grad, softmax(logits) - jax.nn.one_hot(y, 3)

# %% [markdown]
# ## Entropy and surprisal
# The surprisal of an event of probability p is −log p: 0 for a certain event, growing without
# bound as p → 0. The loss of each example above is the surprisal of its true label.

# %%
# reference: -log of tensor([0.1000, 0.5000]); their mean is 1.4979
surprisal = information.surprisal(y_hat[jnp.arange(2), y])
metrics["book_example_surprisal"] = surprisal
surprisal

# %% [markdown]
# The entropy H(p) = −Σ_j p_j log p_j is the expected surprisal of a distribution's own
# outcomes: how uncertain it is. Each row of ŷ:

# %%
entropy_rows = information.entropy(y_hat)
metrics["book_example_entropy"] = entropy_rows
entropy_rows

# %% [markdown]
# Over q outcomes the entropy is largest, log q, for the uniform distribution: a classifier
# that knows nothing about FashionMNIST's ten classes pays log 10 ≈ 2.303 nats per example,
# where the training of 4.4 starts.

# %%
entropy_10 = float(information.entropy(jnp.full((10,), 0.1)))
print(f"H(uniform over 10) = {entropy_10:.6f} nats, log 10 = {math.log(10):.6f}")

# %% [markdown]
# Cross-entropy and KL divergence: for a true distribution p and a model q,
# H(p, q) = H(p) + D_KL(p ‖ q) with D_KL ≥ 0, zero only when q = p. So H(p, q) ≥ H(p): the
# model pays the data's own uncertainty plus the price of its mistakes. With one-hot p, H(p) = 0
# and the cross-entropy is all mistake. Checked on random pairs of distributions:

# %%
num_pairs = 64 if run.quick else 1024
kp, kq = jax.random.split(jax.random.key(run.seed))
p = jax.nn.softmax(2 * jax.random.normal(kp, (num_pairs, 10)))
q = jax.nn.softmax(2 * jax.random.normal(kq, (num_pairs, 10)))
gap = information.cross_entropy(p, q) - information.entropy(p) - information.kl_divergence(p, q)
max_gap = float(jnp.abs(gap).max())
min_kl = float(information.kl_divergence(p, q).min())
print(f"{num_pairs} pairs: max |H(p,q) - H(p) - KL(p||q)| = {max_gap:.2e}; "
      f"min KL = {min_kl:.4f} >= 0; KL(p||p) max = "
      f"{float(jnp.abs(information.kl_divergence(p, p)).max()):.1e}")

# %% [markdown]
# Surprisal against p, and the entropy of a coin with P(heads) = p: largest, log 2 ≈ 0.693
# nats, for a fair coin.

# %%
p_grid = np.linspace(0.001, 1.0, 500, dtype=np.float32)
coin = jnp.stack([p_grid, 1 - p_grid], axis=-1)
fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
plot(p_grid, information.surprisal(p_grid), "p", "-log p (nats)", axes=axes[0],
     title="surprisal")
plot(p_grid, information.entropy(coin), "p", "H(p, 1 - p) (nats)", axes=axes[1],
     title="entropy of a coin with P(heads) = p")
run.show(fig, "surprisal.png")

# %%
run.save_metrics({
    **metrics,
    "entropy_uniform_10": entropy_10,
    "log_10": math.log(10),
    "cross_entropy_identity_max_gap": max_gap,
    "min_kl_divergence": min_kl,
    "num_pairs": num_pairs,
})
