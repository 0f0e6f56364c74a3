# %% [markdown]
# # 4.1 Exercises: Softmax Regression
#
# The exercises at the end of d2l section 4.1, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Almost all of them are derivations; each derivation that a computation can check is checked
# in the cell right after it (Hessians by `jax.hessian`, limits by letting the parameter grow,
# float32 overflow by trying it), and the measured values go into `answers`.

# %% tags=["parameters"]
quick = False  # smoke run: 64 random logit vectors instead of 512, 20,000 samples not 200,000
seed = 0  # PRNG seed of the random logits, points and samples
out_dir = "results/4.1-exercises"  # where the figures and metrics.json go

# %%
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook
from jaxhw.board import plot
from jaxhw.nn import information, losses
from jaxhw.nn.softmax import log_softmax, softmax

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
num_points = 64 if run.quick else 512  # random logit vectors (points) per numerical check
num_samples = 20_000 if run.quick else 200_000  # draws for the Monte Carlo variance
q = 10  # classes, as in FashionMNIST
rng = np.random.default_rng(run.seed)  # the random test points (numpy: no compile per shape)
EPS32 = float(np.finfo(np.float32).eps)

# %% [markdown]
# ### Exercise 1.1 — the second derivative of the softmax cross-entropy loss
#
# For logits $\mathbf{o}$ and $\hat{\mathbf{y}} = \mathrm{softmax}(\mathbf{o})$, find the
# second derivative of $l(\mathbf{y}, \hat{\mathbf{y}}) = -\sum_j y_j \log \hat{y}_j$ with
# respect to $\mathbf{o}$.

# %% [markdown]
# <details><summary>Answer</summary>
#
# Write $p_j = \mathrm{softmax}(\mathbf{o})_j$, so $\log p_j = o_j - \log \sum_k \exp(o_k)$.
# Since the label vector sums to one,
#
# $$l = -\sum_j y_j \log p_j = \log \sum_k \exp(o_k) - \sum_j y_j o_j .$$
#
# The first derivative is the book's "predicted minus observed":
# $\partial l / \partial o_j = p_j - y_j$. Differentiating $p_j = \exp(o_j) / \sum_k \exp(o_k)$
# once more by the quotient rule gives
#
# $$\frac{\partial^2 l}{\partial o_i \partial o_j} = p_i (\delta_{ij} - p_j),$$
#
# that is, the Hessian $H = \mathrm{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^\top$: on the
# diagonal $p_i(1 - p_i)$, off it $-p_i p_j$. The label $\mathbf{y}$ has dropped out: the
# curvature of the loss depends only on the model's own prediction.
#
# </details>

# %% [markdown]
# The check: `jax.hessian` of the library's stable `losses.cross_entropy` (on one example, with
# a random label) at random logits, against
# $\mathrm{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^\top$. Each check below is one function
# compiled with `jax.jit`: it is the many small eager operations that would cost the time.

# %%
logits = (3 * rng.standard_normal((num_points, q))).astype(np.float32)
labels = rng.integers(0, q, num_points).astype(np.int32)


def example_loss(o, label):
    """The cross-entropy of one example: o (q,) logits, label an integer."""
    return losses.cross_entropy(o[None, :], label[None])


@jax.jit
def hessian_and_formula(logits, labels):
    """jax.hessian of each example's loss and diag(p) - p p^T: both (n, q, q)."""
    p = softmax(logits)
    formula = jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :]
    return jax.vmap(jax.hessian(example_loss))(logits, labels), formula


hessians, formula = hessian_and_formula(logits, labels)
hessian_error = float(np.abs(np.asarray(hessians) - np.asarray(formula)).max())
print(f"{num_points} random logit vectors, q = {q}: max |jax.hessian - (diag(p) - p p^T)| = "
      f"{hessian_error:.2e} (float32 eps = {EPS32:.1e})")
answers["1.1"] = {"num_points": num_points, "max_abs_error": hessian_error,
                  "hessian_shape": list(hessians.shape[1:])}

# %% [markdown]
# ### Exercise 1.2 — the variance of the softmax distribution equals that second derivative
#
# Compute the variance of the distribution $\mathrm{softmax}(\mathbf{o})$ and show that it
# matches the second derivative of Exercise 1.1.

# %% [markdown]
# <details><summary>Answer</summary>
#
# The distribution $\mathbf{p} = \mathrm{softmax}(\mathbf{o})$ is over classes, so its
# "variance" is that of its natural random variable, the one-hot vector
# $\mathbf{e}_Y$ of a class $Y \sim \mathbf{p}$ (the sufficient statistic of this exponential
# family, whose natural parameters are the logits). Its mean is
# $\mathbb{E}[\mathbf{e}_Y] = \sum_k p_k \mathbf{e}_k = \mathbf{p}$, and since
# $\mathbf{e}_Y \mathbf{e}_Y^\top = \mathrm{diag}(\mathbf{e}_Y)$, its covariance matrix is
#
# $$\Sigma = \mathbb{E}[\mathbf{e}_Y \mathbf{e}_Y^\top] - \mathbf{p}\mathbf{p}^\top$$
#
# $$= \mathrm{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^\top ,$$
#
# the Hessian of Exercise 1.1 entry by entry. Each diagonal entry $p_i(1 - p_i)$ is the
# variance of the coin "is $Y = i$?". This is the exponential-family rule: the log-partition
# function $\log \sum_k \exp(o_k)$ has the mean of the sufficient statistic as its gradient and
# its covariance as its Hessian; the cross-entropy is that function minus a term linear in
# $\mathbf{o}$, which does not change the Hessian.
#
# </details>

# %% [markdown]
# Two checks against the float32 `jax.hessian`, at a new random logit vector with no tiny
# probabilities (so that every class is drawn often), computed in float64 numpy: the
# covariance from its definition,
# $\sum_k p_k (\mathbf{e}_k - \mathbf{p})(\mathbf{e}_k - \mathbf{p})^\top$; and the sample
# covariance of one-hot vectors drawn from $\mathbf{p}$, whose distance to the Hessian is
# measured in standard errors (z-scores; each entry's standard error is that of a mean of
# `num_samples` products, computed exactly from $\mathbf{p}$).

# %%
o_mc = rng.standard_normal(q).astype(np.float32)
hessian_mc = np.asarray(jax.jit(jax.hessian(example_loss))(o_mc, np.int32(0)))
p_mc = np.exp(o_mc - o_mc.max(), dtype=np.float64)
p_mc /= p_mc.sum()
centred = np.eye(q) - p_mc  # row k: e_k - p
by_definition = np.einsum("k,ki,kj->ij", p_mc, centred, centred)  # sum_k p_k (e_k - p)(e_k - p)^T
definition_error = float(np.abs(by_definition - hessian_mc).max())
draws = rng.choice(q, size=num_samples, p=p_mc)
dev = np.eye(q)[draws] - p_mc
sample_cov = dev.T @ dev / num_samples
second_moment = np.einsum("k,ki,kj->ij", p_mc, centred**2, centred**2)
standard_error = np.sqrt(second_moment - by_definition**2) / math.sqrt(num_samples)
max_z = float(np.abs((sample_cov - hessian_mc) / standard_error).max())
print(f"p = {np.round(p_mc, 3)}")
print(f"max |definition - Hessian| = {definition_error:.2e}")
print(f"{num_samples} draws: max |sample covariance - Hessian| = "
      f"{np.abs(sample_cov - hessian_mc).max():.2e}, largest |z| = {max_z:.2f}")
print("diagonal of the Hessian:", np.round(np.diag(hessian_mc), 4))
print("p (1 - p):              ", np.round(p_mc * (1 - p_mc), 4))
answers["1.2"] = {"definition_max_abs_error": definition_error, "num_samples": num_samples,
                  "sample_max_abs_z": max_z}

# %% [markdown]
# ### Exercise 2.1 — a binary code for three equally likely classes
#
# Three classes, each with probability 1/3: what goes wrong with a binary code?

# %% [markdown]
# <details><summary>Answer</summary>
#
# The entropy is $\log_2 3 \approx 1.585$ bits per symbol, but a binary code spends whole bits.
# One bit tells two things apart, so a fixed-length code needs 2 bits for three symbols and
# leaves the fourth code word unused: 0.415 of every 2 bits (21 %) carry no information.
# A variable-length prefix code does better but still not well enough: the best one (Huffman:
# 0, 10, 11) spends $\tfrac{1}{3} \cdot 1 + \tfrac{2}{3} \cdot 2 = \tfrac{5}{3} \approx 1.667$
# bits. No binary code can reach the entropy symbol by symbol, because that needs code words of
# $\log_2 3$ bits, which is not a whole number (probabilities of the form $2^{-k}$ would be).
#
# </details>

# %%
entropy_bits = float(information.entropy(np.full(3, 1 / 3))) / math.log(2)
huffman_bits = (1 * 1 + 2 * 2) / 3
print(f"entropy: {entropy_bits:.4f} bits; fixed-length code: 2 bits "
      f"(wastes {2 - entropy_bits:.4f}); best prefix code: {huffman_bits:.4f} bits")
answers["2.1"] = {"entropy_bits": entropy_bits, "fixed_length_bits": 2,
                  "huffman_bits": huffman_bits}

# %% [markdown]
# ### Exercise 2.2 — a better code: encode n observations jointly
#
# What if we encode two independent observations together? And $n$ of them?

# %% [markdown]
# <details><summary>Answer</summary>
#
# Two observations have $3^2 = 9$ equally likely outcomes and need $\lceil \log_2 9 \rceil = 4$
# bits: 2 per symbol, no gain yet. In general $n$ observations have $3^n$ outcomes; write the
# block as one base-3 number and send it in $\lceil n \log_2 3 \rceil$ bits, so the cost per
# symbol is
#
# $$\frac{\lceil n \log_2 3 \rceil}{n} < \log_2 3 + \frac{1}{n} \to \log_2 3 .$$
#
# The waste, under one bit per block, is spread over $n$ symbols: already $n = 5$ fits
# $3^5 = 243 \le 256$ outcomes in 8 bits, 1.6 bits per symbol. The table below shows the rate
# for each block length up to 20 (it does not fall monotonically: the rounding up depends on
# how close $n \log_2 3$ lies below a whole number) and checks the base-3 code for $n = 5$
# decodes every one of the 243 blocks back.
#
# </details>

# %%
block_lengths = np.arange(1, 21)
bits_per_block = np.ceil(block_lengths * np.log2(3)).astype(int)
rates = bits_per_block / block_lengths
for n_block in (1, 2, 3, 5, 10, 17, 20):
    print(f"n = {n_block:2d}: {bits_per_block[n_block - 1]:2d} bits, "
          f"{rates[n_block - 1]:.4f} bits per symbol")

# every block of 5 symbols -> a base-3 number < 243 -> 8 bits -> back
blocks = np.array(np.meshgrid(*[np.arange(3)] * 5, indexing="ij")).reshape(5, -1).T  # (243, 5)
codes = blocks @ 3 ** np.arange(5)
bits = (codes[:, None] >> np.arange(8)) & 1  # (243, 8): 8 bits per block
decoded_codes = bits @ (1 << np.arange(8))
decoded = (decoded_codes[:, None] // 3 ** np.arange(5)) % 3
round_trip = bool((decoded == blocks).all() and codes.max() < 2**8)
print(f"all {len(blocks)} blocks of 5 round-trip through 8 bits: {round_trip}")
answers["2.2"] = {"block_lengths": block_lengths, "rates": rates,
                  "rate_n5": float(rates[4]), "best_rate_up_to_20": float(rates.min()),
                  "best_n_up_to_20": int(block_lengths[rates.argmin()]),
                  "round_trip_n5": round_trip, "log2_3": math.log2(3)}

# %% [markdown]
# ### Exercise 3 — ternary signalling (PAM-3): how many ternary units for 0, …, 7?
#
# How many three-level symbols does it take to send an integer in $\{0, \ldots, 7\}$, and why
# might three levels be better on a wire than two?

# %% [markdown]
# <details><summary>Answer</summary>
#
# Eight values need $k$ symbols with $3^k \ge 8$: $k = 2$ ternary symbols (9 combinations, one
# spare) instead of 3 bits. Each symbol carries $\log_2 3 \approx 1.585$ bits of information, so
# the same data rate needs about $1/1.585 \approx 63\%$ as many symbols per second. On a wire
# that means a lower signalling frequency: less attenuation, less crosstalk and
# electromagnetic emission, cheaper cables. The levels $\{-1, 0, 1\}$ are symmetric about zero,
# so codes can keep the line's average voltage at zero (no DC component), and the zero level
# draws almost no power. The price: within the same voltage swing the levels are half as far
# apart, so noise flips a symbol more easily, and the receiver must tell three levels apart.
# The table below is one such code, $v - 4$ written in balanced ternary.
#
# </details>

# %%
trits_needed = math.ceil(math.log(8, 3))
balanced = {v: [v // 3 - 1, v % 3 - 1] for v in range(8)}  # v - 4 = 3 t1 + t0, t in {-1, 0, 1}
decodes = all(3 * t1 + t0 + 4 == v for v, (t1, t0) in balanced.items())
for v, levels in balanced.items():
    print(f"{v} -> levels {levels}")
print(f"each decodes back (3 t1 + t0 + 4): {decodes}")
print(f"trits needed for 8 values: {trits_needed} (bits: {math.ceil(math.log2(8))})")
answers["3"] = {"trits_needed": trits_needed, "bits_needed": math.ceil(math.log2(8)),
                "codes": [balanced[v] for v in range(8)], "decodes": decodes}

# %% [markdown]
# ### Exercise 4.1 — Bradley–Terry: softmax over two items satisfies the requirements
#
# Scores $o_\textrm{apple}$ and $o_\textrm{orange}$; prove that with softmax a larger score
# means a higher chance of being chosen, and the item with the larger score is the more likely.

# %% [markdown]
# <details><summary>Answer</summary>
#
# With two items the softmax is the logistic function of the score difference:
#
# $$P(\textrm{apple}) = \frac{\exp(o_a)}{\exp(o_a) + \exp(o_o)} = \frac{1}{1 + \exp(-(o_a - o_o))}$$
#
# $$= \sigma(o_a - o_o).$$
#
# Its derivatives are $\partial P / \partial o_a = P(1 - P) > 0$ and
# $\partial P / \partial o_o = -P(1 - P) < 0$: raising an item's score raises its probability
# and lowers the other's. And $P(\textrm{apple}) > \tfrac{1}{2}$ exactly when
# $\exp(o_a) > \exp(o_o)$, that is when $o_a > o_o$, because exp is increasing. This is the
# Bradley–Terry model with strengths $\exp(o)$.
#
# </details>

# %%
def prob_first(o):
    """P(first item) under the softmax of scores o (k,)."""
    return softmax(o[None])[0, 0]


@jax.jit
def two_items(pair):
    """pair (n, 2) scores: P(apple), the logistic of the difference, and dP / d(scores)."""
    return (softmax(pair)[:, 0], jax.nn.sigmoid(pair[:, 0] - pair[:, 1]),
            jax.vmap(jax.grad(prob_first))(pair))


pair = (4 * rng.standard_normal((num_points, 2))).astype(np.float32)
prob_apple, logistic, grads = map(np.asarray, two_items(pair))
logistic_gap = float(np.abs(prob_apple - logistic).max())
larger_wins = bool(((prob_apple > 0.5) == (pair[:, 0] > pair[:, 1])).all())
print(f"max |softmax - sigmoid(o_a - o_o)| = {logistic_gap:.2e}")
print(f"dP/do_a >= 0 at all {num_points} points: {bool((grads[:, 0] >= 0).all())}; "
      f"dP/do_o <= 0: {bool((grads[:, 1] <= 0).all())}; "
      f"P(apple) > 1/2 exactly where o_a > o_o: {larger_wins}")
answers["4.1"] = {"max_abs_softmax_minus_sigmoid": logistic_gap,
                  "own_gradient_nonnegative": bool((grads[:, 0] >= 0).all()),
                  "other_gradient_nonpositive": bool((grads[:, 1] <= 0).all()),
                  "larger_score_more_likely": larger_wins}

# %% [markdown]
# ### Exercise 4.2 — a default option: choosing neither
#
# Allow the user to choose neither apples nor oranges: three choices.

# %% [markdown]
# <details><summary>Answer</summary>
#
# Give "neither" a score $o_n$ too and take the softmax over three items. The argument of
# Exercise 4.1 carries over: $\partial P_i / \partial o_i = P_i(1 - P_i) > 0$,
# $\partial P_i / \partial o_j = -P_i P_j < 0$, and the ordering of the probabilities is the
# ordering of the scores. Since softmax does not change when the same constant is added to all
# scores, one score can be fixed: $o_n = 0$ makes "neither" the reference, and
# $P(\textrm{apple}) / P(\textrm{neither}) = \exp(o_a)$. Adding the option does not change the
# odds between the two fruits, $P(\textrm{apple}) / P(\textrm{orange}) = \exp(o_a - o_o)$ with
# or without it (the "independence of irrelevant alternatives" of this model); it takes
# probability from both in proportion.
#
# </details>

# %%
three = np.concatenate([pair, np.zeros((num_points, 1), np.float32)], axis=1)  # o_neither = 0
log_p2, log_p3 = np.asarray(jax.jit(log_softmax)(pair)), np.asarray(jax.jit(log_softmax)(three))
log_odds_change = float(np.abs((log_p3[:, 0] - log_p3[:, 1]) - (log_p2[:, 0] - log_p2[:, 1])).max())
order_kept = bool((np.argsort(log_p3, axis=1) == np.argsort(three, axis=1)).all())
print(f"max change of log(P(apple) / P(orange)) when 'neither' is added: {log_odds_change:.2e} "
      f"(scores up to {np.abs(pair).max():.1f})")
print(f"probabilities ordered as the scores at all points: {order_kept}")
answers["4.2"] = {"log_odds_max_change": log_odds_change,
                  "max_abs_score": float(np.abs(pair).max()), "order_kept": order_kept}

# %% [markdown]
# ### Exercise 5.1 — RealSoftMax(a, b) > max(a, b)

# %% [markdown]
# <details><summary>Answer</summary>
#
# Say $a \ge b$. Then $\exp(a) + \exp(b) > \exp(a)$ because $\exp(b) > 0$, and log is strictly
# increasing, so $\textrm{RealSoftMax}(a, b) = \log(\exp(a) + \exp(b)) > a = \max(a, b)$.
#
# In float32 the strict inequality is lost once $a - b$ exceeds about 17: the true difference
# $\log(1 + e^{-(a - b)}) \approx e^{-(a - b)}$ is then below half a unit in the last place of
# $a$, and the sum rounds to $a$ exactly (below, for $a = 1$ and $b = -20$).
#
# </details>

# %%
a_values = np.array([1.0, 1.0, 1.0, 1.0], np.float32)
b_values = np.array([1.0, -4.0, -15.0, -20.0], np.float32)
rsm_minus_max = np.logaddexp(a_values, b_values) - np.maximum(a_values, b_values)  # float32
for a_, b_, d_ in zip(a_values, b_values, rsm_minus_max, strict=True):
    print(f"a = {a_:5.1f}, b = {b_:5.1f}: RealSoftMax - max = {d_:.3e}")
answers["5.1"] = {"b": b_values, "difference_float32": rsm_minus_max}

# %% [markdown]
# ### Exercise 5.2 — how small can the difference RealSoftMax(a, b) − max(a, b) be?

# %% [markdown]
# <details><summary>Answer</summary>
#
# Both functions move together when the same number is added to $a$ and $b$, so take $b = 0$
# and $a \ge 0$:
#
# $$\textrm{RealSoftMax}(a, 0) - a = \log(1 + e^{-a}) \in (0, \log 2].$$
#
# The difference is largest, $\log 2$, at $a = b$, falls monotonically as $a - b$ grows, and
# behaves like $e^{-(a - b)}$ for large gaps: it can be made as small as we like, but never
# zero. The figure draws the exact difference (computed as `log1p(exp(-a))`), its asymptote
# $e^{-a}$, and `logaddexp(a, 0) - a` in float32, which follows them until rounding takes over
# (where it is 0, the log scale cannot draw it).
#
# </details>

# %%
gap_a = np.linspace(0.0, 20.0, 201, dtype=np.float32)
exact_gap = np.log1p(np.exp(-gap_a))
float32_gap = np.logaddexp(gap_a, np.float32(0.0)) - gap_a
ax = plot(gap_a, [exact_gap, np.where(float32_gap > 0, float32_gap, np.nan), np.exp(-gap_a)],
          "a - b", "RealSoftMax(a, b) - max(a, b)",
          legend=["log(1 + exp(-(a - b)))", "logaddexp in float32", "exp(-(a - b))"],
          yscale="log", fmts=("-", "m--", "g:"), figsize=(4.5, 3),
          title="RealSoftMax(a, b) - max(a, b) against a - b")
run.show(ax.figure, "realsoftmax_gap.png")
gap_at = {int(v): float(np.log1p(np.exp(-np.float64(v)))) for v in (0, 1, 5, 10, 20)}
print("log(1 + exp(-a)) at a = 0, 1, 5, 10, 20:", {k: f"{v:.3e}" for k, v in gap_at.items()})
print(f"largest: {exact_gap.max():.6f} at a = {gap_a[exact_gap.argmax()]:g}; "
      f"log 2 = {math.log(2):.6f}")
answers["5.2"] = {"gap_at": gap_at, "log_2": math.log(2), "max_gap": float(exact_gap.max()),
                  "argmax_a": float(gap_a[exact_gap.argmax()]),
                  "monotone_decreasing": bool((np.diff(exact_gap) < 0).all())}

# %% [markdown]
# ### Exercise 5.3 — the same holds for λ⁻¹ RealSoftMax(λa, λb), λ > 0

# %% [markdown]
# <details><summary>Answer</summary>
#
# Apply Exercise 5.1 to $\lambda a$ and $\lambda b$:
# $\textrm{RealSoftMax}(\lambda a, \lambda b) > \max(\lambda a, \lambda b) = \lambda \max(a, b)$,
# where the equality needs $\lambda > 0$ (a negative factor would swap max and min). Dividing
# by $\lambda > 0$ keeps the inequality:
# $\lambda^{-1} \textrm{RealSoftMax}(\lambda a, \lambda b) > \max(a, b)$. Exercise 5.4's numbers
# check it: every gap printed there is positive, or exactly 0 where float32 rounds it away
# (Exercise 5.1); none is negative.
#
# </details>

# %% [markdown]
# ### Exercise 5.4 — as λ → ∞, λ⁻¹ RealSoftMax(λa, λb) → max(a, b)

# %% [markdown]
# <details><summary>Answer</summary>
#
# By Exercise 5.2 with $\lambda a$, $\lambda b$ in place of $a$, $b$:
#
# $$\lambda^{-1} \textrm{RealSoftMax}(\lambda a, \lambda b) - \max(a, b)$$
#
# $$= \lambda^{-1} \log\big(1 + e^{-\lambda |a - b|}\big) \in (0, \log 2 / \lambda] ,$$
#
# which tends to 0.
#
# So the scaled RealSoftMax tends to the max: like $\log 2 / \lambda$ when $a = b$ (the worst
# case, on the bound), exponentially fast when $a \ne b$ (in float32 the gap is then rounded to
# 0 once $\lambda |a - b|$ passes about 17). The check evaluates the gap in float32 with the
# stable `logaddexp` (the plain formula overflows once $\lambda a$ passes about 88).
#
# </details>

# %%
lambdas = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1000.0], np.float32)
ab_pairs = {"a = b = 0.3": (0.3, 0.3), "a = 1, b = 0.5": (1.0, 0.5), "a = -2, b = 1": (-2.0, 1.0)}
scaled_gaps = {}
for name, (a_, b_) in ab_pairs.items():
    a_, b_ = np.float32(a_), np.float32(b_)
    scaled_gaps[name] = np.logaddexp(lambdas * a_, lambdas * b_) / lambdas - max(a_, b_)
    print(f"{name:15s} gap:", np.array2string(scaled_gaps[name], precision=3))
print(f"{'log(2) / lambda':15s}     ", np.array2string(math.log(2) / lambdas, precision=3))
print("at lambda =", lambdas.tolist())
ax = plot(lambdas, [np.where(g > 0, g, np.nan) for g in scaled_gaps.values()]
          + [math.log(2) / lambdas], "lambda", "gap to max(a, b)",
          legend=[*scaled_gaps, "log(2) / lambda"], xscale="log", yscale="log",
          fmts=("o-", "s--", "^-.", "k:"), figsize=(4.5, 3),
          title="the scaled gap shrinks as lambda grows")
run.show(ax.figure, "scaled_realsoftmax.png")
# rounding: each gap is a float32 difference of numbers near max(a, b) <= 1 in size
within_bound = all(bool((g <= math.log(2) / lambdas + 4 * EPS32).all())
                   for g in scaled_gaps.values())
answers["5.4"] = {"lambdas": lambdas, "gaps": scaled_gaps, "within_log2_over_lambda":
                  within_bound, "gap_a_equals_b_times_lambda":
                  scaled_gaps["a = b = 0.3"] * lambdas}
answers["5.3"] = {"min_gap": float(min(g.min() for g in scaled_gaps.values()))}

# %% [markdown]
# ### Exercise 5.5 — an analogous softmin

# %% [markdown]
# <details><summary>Answer</summary>
#
# Since $\min(a, b) = -\max(-a, -b)$, define
#
# $$\textrm{RealSoftMin}(a, b) = -\textrm{RealSoftMax}(-a, -b) = -\log(\exp(-a) + \exp(-b)).$$
#
# Everything carries over with the signs flipped: $\textrm{RealSoftMin}(a, b) < \min(a, b)$, the
# gap is at most $\log 2$, and $-\lambda^{-1} \log(\exp(-\lambda a) + \exp(-\lambda b)) \to
# \min(a, b)$ from below as $\lambda \to \infty$. The probabilities that go with it are
# $\mathrm{softmax}(-\lambda \mathbf{x})$, which put their mass on the smallest entry. Below,
# $a = 1$, $b = 0.5$ at the same values of $\lambda$ as in Exercise 5.4.
#
# </details>

# %%
softmin_values = -np.logaddexp(-lambdas * np.float32(1.0), -lambdas * np.float32(0.5)) / lambdas
print("lambda^-1 RealSoftMin(lambda a, lambda b):", np.array2string(softmin_values, precision=4),
      "-> min(a, b) = 0.5")
answers["5.5"] = {"lambdas": lambdas, "softmin": softmin_values}

# %% [markdown]
# ### Exercise 5.6 — more than two numbers

# %% [markdown]
# <details><summary>Answer</summary>
#
# For $\mathbf{x} \in \mathbb{R}^n$ let $\textrm{RealSoftMax}(\mathbf{x}) = \log \sum_i \exp(x_i)$.
# With $m = \max_i x_i$, the sum holds the term $\exp(m)$ plus $n - 1$ positive terms no larger,
# so $\exp(m) < \sum_i \exp(x_i) \le n \exp(m)$ and
#
# $$\max_i x_i < \textrm{RealSoftMax}(\mathbf{x}) \le \max_i x_i + \log n ,$$
#
# with the upper bound reached when all entries are equal. Scaling as before, the gap
# $\lambda^{-1} \textrm{RealSoftMax}(\lambda \mathbf{x}) - \max_i x_i$ lies in
# $(0, \log n / \lambda]$ and tends to 0.
# This $n$-argument version is the log-sum-exp of Exercise 6 (`jax.nn.logsumexp`).
#
# </details>

# %%
@jax.jit
def excess_over_max(x, lam):
    """lam^-1 log sum exp(lam x) - max x for each row of x (m, n): (m,)."""
    return jax.nn.logsumexp(lam * x, axis=1) / lam - x.max(axis=1)


x_many = rng.standard_normal((num_points, q)).astype(np.float32)
excess = np.asarray(excess_over_max(x_many, 1.0))
lam_big = 100.0
excess_scaled = np.asarray(excess_over_max(x_many, lam_big))
print(f"{num_points} vectors of {q}: log-sum-exp - max in [{excess.min():.4f}, "
      f"{excess.max():.4f}], bound log {q} = {math.log(q):.4f}")
print(f"at lambda = {lam_big:g}: largest gap {excess_scaled.max():.2e}, "
      f"bound log {q} / lambda = {math.log(q) / lam_big:.2e}")
equal_excess = float(excess_over_max(np.zeros((1, q), np.float32), 1.0)[0])
print(f"all entries equal: {equal_excess:.4f}")
answers["5.6"] = {"excess_min": float(excess.min()), "excess_max": float(excess.max()),
                  "log_n": math.log(q), "lambda": lam_big,
                  "scaled_excess_min": float(excess_scaled.min()),
                  "scaled_excess_max": float(excess_scaled.max()),
                  "equal_entries_excess": equal_excess}

# %% [markdown]
# ### Exercise 6.1 — the log-partition function g(x) = log Σ exp(xᵢ) is convex

# %% [markdown]
# <details><summary>Answer</summary>
#
# Its gradient is the softmax, $\partial g / \partial x_i = \exp(x_i) / \sum_k \exp(x_k) = p_i$,
# and its Hessian is, as in Exercise 1, $\nabla^2 g = \mathrm{diag}(\mathbf{p}) -
# \mathbf{p}\mathbf{p}^\top$, the covariance of $\mathbf{e}_Y$ with $Y \sim \mathbf{p}$. For any
# direction $\mathbf{v}$,
#
# $$\mathbf{v}^\top \nabla^2 g \, \mathbf{v} = \sum_i p_i v_i^2 - \Big(\sum_i p_i v_i\Big)^2$$
#
# $$= \mathrm{Var}_{Y \sim \mathbf{p}}[v_Y] \ge 0 ,$$
#
# so the Hessian is positive semidefinite everywhere and $g$ is convex. It is not strictly
# convex: along $\mathbf{v} = \mathbf{1}$ the variance is zero ($v_Y = 1$ always), the direction
# in which $g$ is a straight line (Exercise 6.2). The check, at random points (standard normal
# coordinates): the Hessian's smallest eigenvalue is that zero, up to float32 rounding (about
# $10^{-7}$ for entries below 1/4), with eigenvector $\mathbf{1}$ ($H \mathbf{1} = 0$); the
# next smallest is clearly positive; and $g$ lies below its chords at the midpoints of random
# pairs.
#
# </details>

# %%
@jax.jit
def convexity(x, y):
    """At points x, y (m, n): eigenvalues of g's Hessian at x (m, n), |H 1| max, and the
    midpoint slack (g(x) + g(y)) / 2 - g((x + y) / 2) (m,)."""
    H = jax.vmap(jax.hessian(jax.nn.logsumexp))(x)
    g = functools.partial(jax.nn.logsumexp, axis=1)
    return (jnp.linalg.eigvalsh(H), jnp.abs(H @ jnp.ones(x.shape[1])).max(),
            (g(x) + g(y)) / 2 - g((x + y) / 2))


points = rng.standard_normal((2, num_points, q)).astype(np.float32)
eigenvalues, ones_direction, midpoint_slack = map(np.asarray, convexity(*points))
print(f"{num_points} random points: smallest Hessian eigenvalue {eigenvalues.min():.1e}, "
      f"next smallest at least {eigenvalues[:, 1].min():.1e}, largest {eigenvalues.max():.3f}; "
      f"max |H 1| = {ones_direction:.1e}")
print(f"(g(x) + g(y)) / 2 - g((x + y) / 2) >= 0 on all pairs: "
      f"{bool((midpoint_slack >= 0).all())} (smallest {midpoint_slack.min():.3f})")
answers["6.1"] = {"min_abs_smallest_eigenvalue": float(np.abs(eigenvalues[:, 0]).max()),
                  "second_smallest_eigenvalue_min": float(eigenvalues[:, 1].min()),
                  "max_eigenvalue": float(eigenvalues.max()),
                  "max_abs_hessian_times_ones": float(ones_direction),
                  "midpoint_slack_min": float(midpoint_slack.min())}

# %% [markdown]
# ### Exercise 6.2 — is g translation invariant?
#
# The book asks to show $g(\mathbf{x} + b) = g(\mathbf{x})$.

# %% [markdown]
# <details><summary>Answer</summary>
#
# That identity is false; the book means a neighbouring fact. Adding $b$ to every coordinate
# pulls a factor $\exp(b)$ out of the sum:
#
# $$g(\mathbf{x} + b) = \log\Big(\exp(b) \sum_i \exp(x_i)\Big) = g(\mathbf{x}) + b .$$
#
# So $g$ is translation *equivariant*: it moves with the shift. What is invariant is its
# gradient, the softmax: $\mathrm{softmax}(\mathbf{x} + b) = \mathrm{softmax}(\mathbf{x})$,
# because the factor $\exp(b)$ cancels between numerator and denominator. The cell shows both
# at a random point: $g(\mathbf{x} + b) - g(\mathbf{x})$ equals $b$, not 0, while the softmax
# stays put up to float32 rounding.
#
# </details>

# %%
@jax.jit
def shifted(x, shifts):
    """g(x + b) - g(x) and max |softmax(x + b) - softmax(x)| for each b in shifts: (k,), (k,)."""
    moved = x[None, :] + shifts[:, None]
    return (jax.nn.logsumexp(moved, axis=1) - jax.nn.logsumexp(x),
            jnp.abs(softmax(moved) - softmax(x[None])).max(axis=1))


shifts = np.array([-50.0, -1.0, 2.0, 30.0], np.float32)
g_differences, softmax_changes = map(np.asarray, shifted(points[0, 0], shifts))
for b, dg, ds in zip(shifts, g_differences, softmax_changes, strict=True):
    print(f"b = {b:6.1f}: g(x + b) - g(x) = {dg:8.4f};  "
          f"max |softmax(x + b) - softmax(x)| = {ds:.1e}")
answers["6.2"] = {"shifts": shifts, "g_differences": g_differences,
                  "softmax_max_changes": softmax_changes}

# %% [markdown]
# ### Exercise 6.3 — very large or very small coordinates
#
# What happens to $g$, computed as written, when some $x_i$ are very large, or all of them are
# very small (very negative)?

# %%
@jax.jit
def naive_logsumexp(x):
    """log(sum(exp(x))) exactly as written, for each row of x (m, n): (m,)."""
    return jnp.log(jnp.exp(x).sum(axis=-1))


def exact_logsumexp(x):
    """The reference in float64 (numpy), shifted by the max, for each row of x (m, n): (m,)."""
    x = np.asarray(x, np.float64)
    m = x.max(axis=-1)
    return m + np.log(np.exp(x - m[:, None]).sum(axis=-1))


case_names = ["moderate [1, 2, 3]", "large [100, 101, 102]", "one large [1000, 0, -1]",
              "all very negative [-200, -201, -202]"]
cases = np.array([[1.0, 2.0, 3.0], [100.0, 101.0, 102.0], [1000.0, 0.0, -1.0],
                  [-200.0, -201.0, -202.0]], np.float32)
naive, exact = np.asarray(naive_logsumexp(cases)), exact_logsumexp(cases)
with np.errstate(over="ignore"):  # numpy would warn where float32 overflows: that is the point
    exp_sums = np.exp(cases).sum(axis=1)
for name, v, s, e in zip(case_names, naive, exp_sums, exact, strict=True):
    print(f"{name:38s} sum exp = {s:.3e}, log of it = {v:9.4f}, exact = {e:9.4f}")
print(f"float32: largest finite {np.finfo(np.float32).max:.3e} = exp(88.72); "
      f"smallest positive (subnormal) {np.finfo(np.float32).smallest_subnormal:.1e} = "
      f"exp(-103.3)")
answers["6.3"] = {"cases": case_names, "naive": naive, "sum_of_exp": exp_sums, "exact": exact}

# %% [markdown]
# <details><summary>Answer</summary>
#
# As the printout shows: once any coordinate passes about 88.7, its exponential overflows
# float32 to `inf` and so does $g$, although the true value, about 102.4 or 1000, is an
# ordinary number. When all coordinates are very negative (below about −103.3), every
# exponential underflows to 0 and $g = \log 0 = -\infty$, although the true value is about
# −199.6. Only the moderate row survives the trip through exp, although $g$ itself never needs
# large numbers: it always lies within $\log n$ above the largest coordinate (Exercise 5.6).
#
# </details>

# %% [markdown]
# ### Exercise 6.4 — with b = maxᵢ xᵢ the computation is numerically stable

# %% [markdown]
# <details><summary>Answer</summary>
#
# Use the shift of Exercise 6.2 the other way round: with $b = \max_i x_i$,
#
# $$g(\mathbf{x}) = b + \log \sum_i \exp(x_i - b).$$
#
# Every exponent $x_i - b$ is at most 0, so every term lies in $(0, 1]$ and none overflows;
# the term of the largest coordinate is exactly $\exp(0) = 1$, so the sum lies in $[1, n]$ and
# its log in $[0, \log n]$: small terms may underflow to 0 harmlessly, but the logarithm never
# sees 0 and never returns $-\infty$. The result is $b$ plus a small correction, accurate to
# float32 rounding. The cell evaluates it on the inputs of Exercise 6.3, against the float64
# value and `jax.nn.logsumexp` (which does the same); it also shows the gradient, the softmax,
# which the naive form gets as `nan` once its sum is infinite.
#
# </details>

# %%
def stable_logsumexp(x):
    """b + log(sum(exp(x - b))) with b = max(x), for each row of x (m, n): (m,)."""
    b = x.max(axis=-1)
    return b + jnp.log(jnp.exp(x - b[..., None]).sum(axis=-1))


@jax.jit
def stable_check(x):
    """Stable and jax.nn.logsumexp values per row of x (m, n), and the gradients of the naive
    and the stable form at each row, (m, n) each."""
    def grad(f):
        return jax.vmap(jax.grad(lambda row: f(row[None])[0]))(x)

    return (stable_logsumexp(x), jax.nn.logsumexp(x, axis=1), grad(naive_logsumexp),
            grad(stable_logsumexp), softmax(x))


stable, by_jax, naive_grads, stable_grads, softmaxes = map(np.asarray, stable_check(cases))
relative_errors = np.abs(stable - exact) / np.abs(exact)
for name, s, j, r in zip(case_names, stable, by_jax, relative_errors, strict=True):
    print(f"{name:38s} stable = {s:9.4f}, jax.nn.logsumexp = {j:9.4f}, relative error {r:.1e}")
print("gradient at [100, 101, 102]:")
for name, gradient in (("naive", naive_grads[1]), ("stable", stable_grads[1]),
                       ("softmax", softmaxes[1])):
    print(f"  {name:8s}", gradient)
answers["6.4"] = {"stable": stable, "jax_logsumexp": by_jax, "relative_error": relative_errors,
                  "naive_gradient_large": naive_grads[1], "stable_gradient_large":
                  stable_grads[1], "softmax_large": softmaxes[1]}

# %% [markdown]
# ### Exercise 7.1 — Q(i) ∝ P(i)^α: which α doubles the temperature, which halves it?

# %% [markdown]
# <details><summary>Answer</summary>
#
# Write $P$ as a softmax at temperature $T$: $P(i) \propto \exp(o_i / T)$ (any $P$ with no zero
# entries can be written so, with $o_i = T \log P(i)$). Then
#
# $$Q(i) \propto \exp\Big(\frac{\alpha o_i}{T}\Big) = \exp\Big(\frac{o_i}{T / \alpha}\Big),$$
#
# the same scores at temperature $T / \alpha$. Doubling the temperature is $\alpha = 1/2$
# (a square root: flatter); halving it is $\alpha = 2$ (squaring: sharper). The check takes
# the first random logit vector of Exercise 1 as the scores $\mathbf{o}$ at $T = 1$.
#
# </details>

# %%
def power_normalised(P, alpha):
    """Q(i) = P(i)^alpha / sum_j P(j)^alpha for each alpha: P (q,), alpha (k,) -> (k, q)."""
    Q = P[None, :] ** np.asarray(alpha, np.float32)[:, None]
    return Q / Q.sum(axis=1, keepdims=True)


scores = np.asarray(logits[0], np.float64)
P = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
P = P.astype(np.float32)  # P = softmax(o) at T = 1
tempered = np.asarray(jax.jit(softmax)(np.stack([scores / 2.0, scores / 0.5]).astype(np.float32)))
temperature_error = {
    "alpha=0.5 vs T=2": float(np.abs(power_normalised(P, [0.5])[0] - tempered[0]).max()),
    "alpha=2 vs T=0.5": float(np.abs(power_normalised(P, [2.0])[0] - tempered[1]).max())}
print("max |Q - softmax(o / T')|:", {k: f"{v:.1e}" for k, v in temperature_error.items()})
answers["7.1"] = temperature_error

# %% [markdown]
# ### Exercise 7.2 — the temperature approaches 0

# %% [markdown]
# <details><summary>Answer</summary>
#
# Temperature $T / \alpha \to 0$ means $\alpha \to \infty$. Divide by the largest probability
# $P_{\max}$:
#
# $$Q(i) = \frac{(P(i) / P_{\max})^\alpha}{\sum_j (P(j) / P_{\max})^\alpha} .$$
#
# Every ratio below 1 goes to 0 when raised to $\alpha \to \infty$; the ratios equal to 1
# stay 1. So $Q$ tends to the uniform distribution over the most likely classes: the one-hot vector
# of the argmax when it is unique ("hardmax", greedy decoding). The check computes $Q$ in this
# divided form (so nothing underflows before the division) and measures its total-variation
# distance to the one-hot argmax as $\alpha$ grows.
#
# </details>

# %%
alphas_cold = np.array([1.0, 2.0, 5.0, 10.0, 100.0, 1000.0], np.float32)
Q_cold = power_normalised(P / P.max(), alphas_cold)
hardmax = np.eye(q, dtype=np.float32)[P.argmax()]
tv_cold = 0.5 * np.abs(Q_cold - hardmax).sum(axis=1)
print("P:", np.round(P, 3))
print("alpha:", alphas_cold.tolist())
print("total variation to one-hot argmax:", np.array2string(tv_cold, precision=3))
answers["7.2"] = {"alphas": alphas_cold, "tv_to_argmax": tv_cold, "argmax": int(P.argmax())}

# %% [markdown]
# ### Exercise 7.3 — the temperature approaches ∞

# %% [markdown]
# <details><summary>Answer</summary>
#
# Temperature $T / \alpha \to \infty$ means $\alpha \to 0$. For every class with $P(i) > 0$,
# $P(i)^\alpha = \exp(\alpha \log P(i)) \to 1$, while $0^\alpha = 0$ for all $\alpha > 0$. So $Q$
# tends to the uniform distribution over the support of $P$: all information about which
# classes are likelier is lost, only which are possible stays. For a softmax (no zero entries)
# that is uniform over all $q$ classes, $Q \to 1/q$. The check uses the same $P$ and, for the
# support, a copy with classes 0 and 1 set to probability 0.
#
# </details>

# %%
alphas_hot = np.array([1.0, 0.5, 0.1, 0.01, 0.001], np.float32)
Q_hot = power_normalised(P, alphas_hot)
max_from_uniform = np.abs(Q_hot - 1 / q).max(axis=1)
P_support = np.concatenate([np.zeros(2, np.float32), P[2:] / P[2:].sum()])
Q_support = power_normalised(P_support, alphas_hot)
print("alpha:", [f"{a:g}" for a in alphas_hot])
print("max |Q - 1/q|:", np.array2string(max_from_uniform, precision=4))
print(f"with P(0) = P(1) = 0, at alpha = {alphas_hot[-1]:g}: Q =", np.round(Q_support[-1], 4))
ax = plot(np.arange(q), [P, Q_cold[3], Q_hot[2]], "class", "probability",
          legend=["P (alpha = 1)", f"alpha = {alphas_cold[3]:g} (T / 10)",
                  f"alpha = {alphas_hot[2]:g} (10 T)"],
          fmts=("o-", "s--", "^:"), figsize=(4.5, 3),
          title="Q(i) proportional to P(i)^alpha")
run.show(ax.figure, "temperature.png")
answers["7.3"] = {"alphas": alphas_hot, "max_abs_from_uniform": max_from_uniform,
                  "support_q_last": Q_support[-1]}

# %%
run.save_metrics({"answers": answers,
                  "settings": {"num_points": num_points, "num_samples": num_samples, "q": q}})
