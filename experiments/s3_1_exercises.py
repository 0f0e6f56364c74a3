# %% [markdown]
# # 3.1 Exercises: Linear Regression
#
# The exercises at the end of d2l section 3.1, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Most items are derivations; where a cell can check a step (a minimiser, a gradient against
# `jax.grad`, an expectation by Monte Carlo, a fit that recovers known weights) it does so right
# below the derivation.

# %% tags=["parameters"]
quick = False  # smoke run: 400 instead of 4000 noise draws in 4.3 (the training runs are small)
seed = 0  # PRNG seed of every random draw
out_dir = "results/3.1-exercises"  # where the figures and metrics.json go

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from jax.scipy.special import gammaln
from jax.scipy.stats import laplace, poisson

from jaxhw import notebook, sweep, train
from jaxhw.board import plot
from jaxhw.models import linear
from jaxhw.nn.losses import absolute_loss, squared_loss

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)  # data for the checks done in numpy (float64)
sgd_key, l1_init_key, l1_fit_key, poisson_init_key, poisson_fit_key = jax.random.split(
    jax.random.key(run.seed), 5)  # the training runs' initial parameters and minibatch orders

# %% [markdown]
# ## Exercises 1.1–1.3 — the best constant b for data x₁, …, xₙ
#
# ### Exercise 1.1 — the b that minimises Σᵢ (xᵢ − b)²

# %% [markdown]
# <details><summary>Answer</summary>
#
# The loss $L(b) = \sum_i (x_i - b)^2$ is a parabola in $b$. Its derivative is
# $$L'(b) = -2 \sum_i (x_i - b) = 2 n b - 2 \sum_i x_i,$$
# which is zero at exactly one point, and $L''(b) = 2n > 0$, so that point is the minimum:
# $$b^* = \frac{1}{n} \sum_i x_i = \bar{x},$$
# the sample mean.
#
# </details>
#
# The check: on 101 random numbers, a grid search over b (step 10⁻⁴, in float64) lands next to
# the mean, and `jax.grad` of the loss is zero there up to float32 rounding.

# %%
x = 3.0 + 2.0 * rng.standard_normal(101)
grid = np.arange(x.min(), x.max(), 1e-4)
sq_on_grid = ((x[:, None] - grid[None, :]) ** 2).sum(axis=0)
grad_at_mean = jax.jit(jax.grad(lambda b, x: jnp.sum((x - b) ** 2)))(x.mean(), x)  # float32
answers["1.1"] = {"mean": float(x.mean()), "grid_argmin": float(grid[sq_on_grid.argmin()]),
                  "grid_step": 1e-4, "grad_at_mean": float(grad_at_mean),
                  "grad_scale": float(2 * np.abs(x).sum())}
print(f"mean {x.mean():.5f}, grid argmin {grid[sq_on_grid.argmin()]:.5f}, "
      f"dL/db at the mean {float(grad_at_mean):.2e} (each term is up to {2 * np.abs(x).max():.1f})")

# %% [markdown]
# ### Exercise 1.2 — how this relates to the normal distribution

# %% [markdown]
# <details><summary>Answer</summary>
#
# Suppose the data are one value $b$ plus Gaussian noise: $x_i = b + \epsilon_i$ with
# $\epsilon_i \sim \mathcal{N}(0, \sigma^2)$ independent. The likelihood of the data is
# $$P(x_1, \ldots, x_n \mid b) = \prod_i \frac{1}{\sqrt{2 \pi \sigma^2}}
# \exp\left(-\frac{(x_i - b)^2}{2 \sigma^2}\right),$$
# and its negative logarithm is
# $$-\log P = \frac{n}{2} \log(2 \pi \sigma^2) + \frac{1}{2 \sigma^2} \sum_i (x_i - b)^2 .$$
# The first term does not depend on $b$ and the second is the loss of 1.1 times a positive
# constant, so minimising the squared loss *is* maximum likelihood for the mean of a normal
# distribution, and the answer of 1.1, the sample mean, is that maximum-likelihood estimate.
# This is the argument the section makes for linear regression with $b$ replaced by
# $\mathbf{w}^\top \mathbf{x} + b$.
#
# </details>

# %% [markdown]
# ### Exercise 1.3 — the b that minimises Σᵢ |xᵢ − b|

# %% [markdown]
# <details><summary>Answer</summary>
#
# $L(b) = \sum_i |x_i - b|$ is piecewise linear with kinks at the data points. Away from the
# data points its derivative is
# $$L'(b) = \#\{i : x_i < b\} - \#\{i : x_i > b\},$$
# the number of points below $b$ minus the number above. It is negative while fewer than half
# the points lie below $b$ and positive once more than half do, so $L$ is smallest at a
# **median**. Sorted as $x_{(1)} \le \ldots \le x_{(n)}$: for odd $n$ the minimiser is unique,
# $b^* = x_{((n+1)/2)}$; for even $n$ the derivative is zero between the two middle values,
# and every $b$ in $[x_{(n/2)}, x_{(n/2+1)}]$ is optimal. (The squared loss's minimiser moves
# with every point; the median moves only when points cross it, which is why the absolute
# loss is robust to outliers, the subject of 3.4's exercise 8.)
#
# </details>
#
# The check: with 101 points (odd) the grid minimum sits on the median; with the first 100
# (even) the loss is flat between the two middle values and rises outside them.

# %%
abs_on_grid = np.abs(x[:, None] - grid[None, :]).sum(axis=0)
even = np.sort(x[:100])
lo, hi = even[49], even[50]
abs_even = np.abs(even[:, None] - grid[None, :]).sum(axis=0)
inside = (grid >= lo) & (grid <= hi)
outside = (grid < lo - 0.01) | (grid > hi + 0.01)
answers["1.3"] = {"median_odd": float(np.median(x)),
                  "grid_argmin_odd": float(grid[abs_on_grid.argmin()]),
                  "even_interval": [float(lo), float(hi)],
                  "even_loss_spread_inside": float(np.ptp(abs_even[inside])),
                  "even_loss_min_outside_minus_inside": float(abs_even[outside].min()
                                                              - abs_even[inside].max())}
print(f"odd n: median {np.median(x):.5f}, grid argmin {grid[abs_on_grid.argmin()]:.5f}")
print(f"even n: middle values [{lo:.5f}, {hi:.5f}]; loss varies by "
      f"{answers['1.3']['even_loss_spread_inside']:.1e} on them and is "
      f"{answers['1.3']['even_loss_min_outside_minus_inside']:.4f} higher 0.01 outside")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), layout="constrained")
plot(grid, sq_on_grid, "b", "Σ (xᵢ − b)²", axes=axes[0], title="squared: minimum at the mean")
axes[0].axvline(x.mean(), color="k", ls=":", lw=1)
plot(grid, abs_even, "b", "Σ |xᵢ − b|", axes=axes[1], title="absolute (n = 100): flat middle")
axes[1].axvspan(lo, hi, color="tab:orange", alpha=0.3)
shown = (grid > lo - 0.5) & (grid < hi + 0.5)
axes[1].set_xlim(lo - 0.5, hi + 0.5)
axes[1].set_ylim(abs_even[shown].min() - 0.5, abs_even[shown].max() + 0.5)
run.show(fig, "ex1_minimisers.png")

# %% [markdown]
# ### Exercise 2 — affine functions of x are linear functions of (x, 1)

# %% [markdown]
# <details><summary>Answer</summary>
#
# Write $\tilde{\mathbf{x}} = (\mathbf{x}, 1) \in \mathbb{R}^{d+1}$. Given an affine function
# $f(\mathbf{x}) = \mathbf{x}^\top \mathbf{w} + b$, put $\tilde{\mathbf{w}} = (\mathbf{w}, b)$;
# then
# $\tilde{\mathbf{x}}^\top \tilde{\mathbf{w}} = \sum_{j \le d} x_j w_j + 1 \cdot b = f(\mathbf{x})$,
# a linear function of $\tilde{\mathbf{x}}$. Conversely a linear function
# $g(\tilde{\mathbf{x}}) = \tilde{\mathbf{x}}^\top \mathbf{v}$ evaluated at
# $\tilde{\mathbf{x}} = (\mathbf{x}, 1)$ is $\mathbf{x}^\top \mathbf{v}_{1:d} + v_{d+1}$,
# affine in $\mathbf{x}$ with $\mathbf{w} = \mathbf{v}_{1:d}$, $b = v_{d+1}$. The map
# $(\mathbf{w}, b) \mapsto \tilde{\mathbf{w}}$ is a bijection, so the two families are the same
# set of functions. In matrix form:
# $\mathbf{X}\mathbf{w} + b \mathbf{1} = [\mathbf{X}, \mathbf{1}]\,\tilde{\mathbf{w}}$, which is
# how the closed-form solution of the section absorbs the bias.
#
# </details>

# %%
X = rng.standard_normal((5, 3))
w_tilde = rng.standard_normal(4)
affine = X @ w_tilde[:3] + w_tilde[3]
linear_on_x1 = np.column_stack([X, np.ones(5)]) @ w_tilde
answers["2"] = {"max_abs_difference": float(np.max(np.abs(affine - linear_on_x1)))}
print(f"max |(Xw + b) - [X, 1] w~| = {answers['2']['max_abs_difference']:.1e}")

# %% [markdown]
# ### Exercise 3 — quadratic functions of x in a deep network

# %% [markdown]
# <details><summary>Answer</summary>
#
# $f(\mathbf{x}) = b + \sum_i w_i x_i + \sum_{j \le i} w_{ij} x_i x_j$ is linear in its
# parameters. Two ways to write it as a network:
#
# 1. **Fixed quadratic features, then a linear layer.** A first layer without parameters
#    maps $\mathbf{x} \in \mathbb{R}^d$ to
#    $\phi(\mathbf{x}) = (x_1, \ldots, x_d, x_i x_j \text{ for } j \le i)$, $d + d(d+1)/2$
#    features; a linear layer on $\phi(\mathbf{x})$ is exactly $f$, and it is
#    trained like linear regression (the loss is still quadratic in the weights).
# 2. **A hidden layer with the activation $z \mapsto z^2$.** The quadratic part is
#    $\mathbf{x}^\top A \mathbf{x}$ for the symmetric $A$ with $A_{ii} = w_{ii}$ and
#    $A_{ij} = A_{ji} = w_{ij}/2$. Diagonalise
#    $A = \sum_k \lambda_k \mathbf{q}_k \mathbf{q}_k^\top$: then
#    $\mathbf{x}^\top A \mathbf{x} = \sum_k \lambda_k (\mathbf{q}_k^\top \mathbf{x})^2$, a hidden
#    layer of $d$ units with weights $\mathbf{q}_k$ and a squaring activation, whose outputs a
#    linear layer sums with weights $\lambda_k$ (plus a skip connection for the
#    linear terms $b + \mathbf{w}^\top \mathbf{x}$). With learned hidden weights such a layer
#    represents any quadratic form once it has $d$ units.
#
# </details>
#
# Both checked with d = 3 in float64: least squares on the 9 features recovers the coefficients
# of a random quadratic from 200 noise-free samples, and the squaring hidden layer built from
# the eigendecomposition reproduces the quadratic part.

# %%
d = 3
rows, cols = np.tril_indices(d)  # the pairs j <= i


def quadratic_features(X):
    """phi(X): (n, d) -> (n, d + d(d+1)/2): the inputs and their products x_i x_j, j <= i."""
    return np.column_stack([X, X[:, rows] * X[:, cols]])


X = rng.standard_normal((200, d))
coef = rng.standard_normal(d + len(rows))  # w_i, then w_ij
f = 0.5 + quadratic_features(X) @ coef  # b = 0.5
design = np.column_stack([np.ones(200), quadratic_features(X)])
fitted = np.linalg.lstsq(design, f, rcond=None)[0]
A = np.zeros((d, d))
A[rows, cols] = coef[d:]
A = (A + A.T) / 2  # symmetric, with the same quadratic form x^T A x
lam, Q = np.linalg.eigh(A)
hidden_out = ((X @ Q) ** 2) @ lam  # a squaring hidden layer, then a linear layer
quad_part = f - 0.5 - X @ coef[:d]
answers["3"] = {"num_features": int(design.shape[1] - 1),
                "coef_max_error": float(np.max(np.abs(fitted - np.append(0.5, coef)))),
                "design_condition": float(np.linalg.cond(design)),
                "hidden_layer_max_error": float(np.max(np.abs(hidden_out - quad_part))),
                "quad_part_scale": float(np.max(np.abs(quad_part)))}
print(f"{answers['3']['num_features']} features; largest coefficient error "
      f"{answers['3']['coef_max_error']:.1e} (condition number of the design "
      f"{answers['3']['design_condition']:.1f})")
print(f"squaring hidden layer: largest error {answers['3']['hidden_layer_max_error']:.1e} on "
      f"values up to {answers['3']['quad_part_scale']:.1f}")

# %% [markdown]
# ## Exercises 4.1–4.4 — when XᵀX does not have full rank
#
# A design matrix for the next four items: n = 1000 examples of 3 features where the third is
# twice the first, so $\mathbf{X}\mathbf{v} = 0$ for $\mathbf{v} = (2, 0, -1)/\sqrt{5}$ and
# $\mathbf{X}^\top \mathbf{X}$ has rank 2. The labels are
# $y = \mathbf{X}\mathbf{w} + 4.2 + \epsilon$ with $\mathbf{w} = (1, -2, 0.5)$ and noise of
# standard deviation 0.01.
#
# ### Exercise 4.1 — what happens

# %% [markdown]
# <details><summary>Answer</summary>
#
# The normal equations $\mathbf{X}^\top \mathbf{X} \mathbf{w} = \mathbf{X}^\top \mathbf{y}$
# still have solutions (the right side lies in the column space of $\mathbf{X}^\top$, which is
# that of $\mathbf{X}^\top \mathbf{X}$), but no longer one: if $\mathbf{w}^*$ solves them, so
# does $\mathbf{w}^* + t \mathbf{v}$ for every $\mathbf{v}$ with $\mathbf{X}\mathbf{v} = 0$ and
# every $t$, since the predictions $\mathbf{X}\mathbf{w}$ do not change. The loss has a valley
# of minimisers instead of a single one, $(\mathbf{X}^\top \mathbf{X})^{-1}$ does not exist, and
# the section's closed form
# $\mathbf{w}^* = (\mathbf{X}^\top \mathbf{X})^{-1} \mathbf{X}^\top \mathbf{y}$ cannot be
# evaluated. Below: one eigenvalue of $\mathbf{X}^\top \mathbf{X}$ is zero up to
# rounding, and two parameter vectors 5 apart have the same loss. The data cannot tell how
# much of the effect to assign to $x_1$ and how much to $x_3 = 2 x_1$: only $w_1 + 2 w_3$ is
# determined (here $1 + 2 \cdot 0.5 = 2$).
#
# </details>

# %%
n = 1000
X1 = rng.standard_normal((n, 2)).astype(np.float32)  # float32, as the SGD of 4.4 will see it
X = np.column_stack([X1, 2 * X1[:, 0]]).astype(np.float64)  # x3 = 2 x1 (exact in floats)
v = np.array([2.0, 0.0, -1.0]) / np.sqrt(5.0)
y = X @ np.array([1.0, -2.0, 0.5]) + 4.2 + 0.01 * rng.standard_normal(n)
Xb = np.column_stack([X, np.ones(n)])  # the bias as a fourth column (exercise 2)
eig = np.linalg.eigvalsh(X.T @ X)
w_min = np.linalg.pinv(Xb) @ y  # the minimum-norm least-squares solution
w_other = w_min + 5.0 * np.append(v, 0.0)  # moved 5 along the null direction


def half_mse(w):
    """The squared loss of 3.1 on the full data, for (w, b) stacked as one vector (4,)."""
    return np.mean((Xb @ w - y) ** 2) / 2


answers["4.1"] = {"rank": int(np.linalg.matrix_rank(X.T @ X)),
                  "eigenvalues": eig, "Xv_max": float(np.max(np.abs(X @ v))),
                  "loss_min_norm": float(half_mse(w_min)), "loss_moved": float(half_mse(w_other)),
                  "w_min_norm": w_min, "w_moved": w_other}
print(f"rank of XᵀX: {answers['4.1']['rank']}; eigenvalues {eig}; max |Xv| = "
      f"{answers['4.1']['Xv_max']:.1e} (in float64)")
print(f"loss at the minimum-norm solution {np.round(w_min, 4)}: {half_mse(w_min):.4e}")
print(f"loss 5 further along v, at {np.round(w_other, 4)}: {half_mse(w_other):.4e}")

# %% [markdown]
# ### Exercise 4.2 — fixing it, and adding Gaussian noise to X

# %% [markdown]
# <details><summary>Answer</summary>
#
# Fixes: drop (or merge) the redundant features; pick one solution, e.g. the minimum-norm one
# $\mathbf{X}^{+} \mathbf{y}$ (the pseudo-inverse); or regularise,
# $$\mathbf{w}_\lambda = (\mathbf{X}^\top \mathbf{X} + \lambda \mathbf{I})^{-1}
# \mathbf{X}^\top \mathbf{y}$$
# (ridge regression, weight decay), which is invertible for every $\lambda > 0$ and tends to the
# minimum-norm solution as $\lambda \to 0$.
#
# Adding independent noise $\mathbf{X} + \sigma \mathbf{E}$, $E_{ij} \sim \mathcal{N}(0, 1)$,
# makes the matrix full rank with probability one (a random perturbation leaves no exact linear
# relation between columns), so the normal equations have a unique solution again. But the
# null direction is then decided by the noise alone: its eigenvalue is only of order
# $n \sigma^2$, and how far the solution moves along $\mathbf{v}$ depends on the draw. On
# average over draws the noise acts like ridge regression with $\lambda = n \sigma^2$
# (exercise 4.3), and that is the fix to prefer: it has the same effect without a random
# answer. The cell below prints, for two noise levels and five draws each, the rank and the
# smallest eigenvalue after the noise (against $n \sigma^2$), the solution's component along
# $\mathbf{v}$ next to ridge's, and the combination $w_1 + 2 w_3$ that the data determine.
#
# </details>

# %%
noisy = {}
for sigma in (0.01, 0.1):
    lam = n * sigma**2
    w_ridge = np.linalg.solve(Xb.T @ Xb + lam * np.diag([1.0, 1, 1, 0]), Xb.T @ y)
    ranks, smallest, along_v, identified = [], [], [], []
    for _ in range(5):  # five draws of the noise
        Xnb = np.column_stack([X + sigma * rng.standard_normal(X.shape), np.ones(n)])
        w_noisy = np.linalg.solve(Xnb.T @ Xnb, Xnb.T @ y)
        ranks.append(int(np.linalg.matrix_rank(Xnb[:, :3].T @ Xnb[:, :3])))
        smallest.append(float(np.linalg.eigvalsh(Xnb[:, :3].T @ Xnb[:, :3])[0]))
        along_v.append(float(w_noisy[:3] @ v))
        identified.append(float(w_noisy[0] + 2 * w_noisy[2]))
    noisy[str(sigma)] = {"ranks": ranks, "smallest_eigenvalues": smallest, "n_sigma2": lam,
                         "noisy_along_v": along_v, "ridge_along_v": float(w_ridge[:3] @ v),
                         "noisy_w1_plus_2w3": identified}
    print(f"σ = {sigma}: ranks {ranks}; smallest eigenvalues {np.round(smallest, 3)} "
          f"(nσ² = {lam:g})\n  along v, five draws: {np.round(along_v, 4)}; ridge with λ = nσ²: "
          f"{w_ridge[:3] @ v:+.4f}; min-norm: {w_min[:3] @ v:+.4f}\n"
          f"  w1 + 2 w3 (true 2): {np.round(identified, 4)}")
answers["4.2"] = noisy

# %% [markdown]
# ### Exercise 4.3 — the expected value of (X + σE)ᵀ(X + σE)

# %% [markdown]
# <details><summary>Answer</summary>
#
# Expand:
# $$(\mathbf{X} + \sigma\mathbf{E})^\top (\mathbf{X} + \sigma\mathbf{E})
# = \mathbf{X}^\top \mathbf{X} + \sigma (\mathbf{X}^\top \mathbf{E} + \mathbf{E}^\top \mathbf{X})
# + \sigma^2 \mathbf{E}^\top \mathbf{E} .$$
# The middle term has mean zero because $\mathbf{E}$ does. For the last,
# $(\mathbf{E}^\top \mathbf{E})_{jk} = \sum_{i=1}^n E_{ij} E_{ik}$ has mean $n$ when $j = k$
# and $0$ otherwise, so
# $$\mathbb{E}\left[(\mathbf{X} + \sigma\mathbf{E})^\top (\mathbf{X} + \sigma\mathbf{E})\right]
# = \mathbf{X}^\top \mathbf{X} + n \sigma^2 \mathbf{I},$$
# exactly the matrix of ridge regression with $\lambda = n \sigma^2$. (Only the features get
# noise: the column of ones for the bias stays, so the bias is not penalised.)
#
# </details>
#
# The check: the mean over many noise draws (σ = 0.1) against
# $\mathbf{X}^\top \mathbf{X} + n\sigma^2\mathbf{I}$, entry by entry, in units of each
# entry's Monte Carlo standard error (the standard deviation over the draws divided by
# √draws).

# %%
draws, sigma = (400 if run.quick else 4000), 0.1
mc_rng = np.random.default_rng(rng.integers(2**63))  # its own stream: quick mode draws fewer
grams = np.concatenate([  # (draws, 3, 3), 200 draws at a time
    (lambda Xn: np.einsum("kij,kil->kjl", Xn, Xn))(X + sigma * mc_rng.standard_normal((200, n, 3)))
    for _ in range(draws // 200)])
expected = X.T @ X + n * sigma**2 * np.eye(3)
z = (grams.mean(0) - expected) / (grams.std(0) / np.sqrt(draws))
answers["4.3"] = {"draws": draws, "sigma": sigma, "mean_gram": grams.mean(0),
                  "expected": expected, "max_abs_z": float(np.max(np.abs(z)))}
print(f"mean over {draws} draws:\n{np.round(grams.mean(0), 2)}\nXᵀX + nσ²I:\n"
      f"{np.round(expected, 2)}\nlargest |difference| / standard error: "
      f"{answers['4.3']['max_abs_z']:.2f}")

# %% [markdown]
# ### Exercise 4.4 — what SGD does when XᵀX is rank deficient
#
# Two linear models trained with `train.fit`'s minibatch SGD (one `fit_many` call, lr 0.05,
# batch 32) on these data: one from w = 0, one from a random w whose component along the null
# direction v is 3. Each gradient is $\mathbf{X}_B^\top \mathbf{r}_B / |B|$, a combination of
# rows of $\mathbf{X}$, and every row is orthogonal to $\mathbf{v}$.

# %%
r = rng.standard_normal(3)
w_start = r - (r @ v) * v + 3.0 * v  # a random start whose component along v is 3
init = {"w": jnp.asarray(np.stack([np.zeros((3, 1)), w_start[:, None]]), jnp.float32),
        "b": jnp.zeros((2, 1))}
sgd_result = sweep.fit_many(train.supervised_loss(linear.apply, squared_loss), init,
                            optax.sgd(0.05),
                            (X.astype(np.float32), y[:, None].astype(np.float32)),
                            key=sgd_key, epochs=40, batch_size=32, progress=False)
final_w = np.asarray(sgd_result.params["w"][..., 0])
along_v_start = np.asarray(init["w"][..., 0], np.float64) @ v
along_v_end = final_w @ v
row_part = final_w - along_v_end[:, None] * v[None, :]
row_min = w_min[:3]  # w_min has no component along v: the minimum norm
answers["4.4"] = {
    "along_v_start": along_v_start, "along_v_end": along_v_end, "final_w": final_w, "v": v,
    "row_space_distance_to_min_norm": np.linalg.norm(row_part - row_min, axis=1),
    "bias": np.asarray(sgd_result.params["b"][:, 0]), "min_norm_bias": float(w_min[3]),
    "steps": int(sgd_result.history["batch_loss"].shape[1] * sgd_result.history["batch_loss"]
                 .shape[2]),
    "final_train_loss": sgd_result.history["train_loss"][:, -1]}
for i, name in enumerate(("from w = 0", "from a random w")):
    print(f"{name:>16}: w {np.round(final_w[i], 4)}, b {answers['4.4']['bias'][i]:.4f}; "
          f"along v: {along_v_start[i]:+.6f} -> {along_v_end[i]:+.6f}; the rest is "
          f"{answers['4.4']['row_space_distance_to_min_norm'][i]:.1e} from the min-norm w")
print(f"minimum-norm solution: w {np.round(row_min, 4)}, b {float(w_min[3]):.4f}")

# %% [markdown]
# <details><summary>Answer</summary>
#
# SGD still converges, and the loss reaches the noise floor as in the full-rank case, but to
# the solution that depends on where it started: the component of $\mathbf{w}$ along the null
# direction is never changed by a gradient step,
# $\mathbf{v}^\top \mathbf{X}_B^\top \mathbf{r}_B = (\mathbf{X}_B \mathbf{v})^\top \mathbf{r}_B$
# $= 0$, so it keeps its initial value (up to float32 rounding of each update), while the rest
# converges as in a full-rank problem. Started at $\mathbf{w} = 0$ SGD therefore finds the
# minimum-norm solution $\mathbf{X}^{+}\mathbf{y}$; started elsewhere it finds that solution
# plus the start's null component, as printed above. Nothing diverges; the
# non-uniqueness only shows as an arbitrary, initialisation-dependent split of the weight
# between $x_1$ and $x_3$. (With weight decay the null component would decay to zero from any
# start, and SGD would find ridge's solution, close to the minimum-norm one for a small decay.)
#
# </details>

# %% [markdown]
# ## Exercises 5.1–5.3 — Laplace noise, p(ε) = ½ exp(−|ε|)
#
# ### Exercise 5.1 — the negative log-likelihood

# %% [markdown]
# <details><summary>Answer</summary>
#
# With $y_i = \mathbf{w}^\top \mathbf{x}_i + b + \epsilon_i$ and independent $\epsilon_i$
# of density $\frac{1}{2} e^{-|\epsilon|}$ (the book calls it exponential; it is the Laplace
# distribution with scale 1),
# $$P(\mathbf{y} \mid \mathbf{X}) = \prod_{i=1}^n \frac{1}{2}
# \exp\left(-|y_i - \mathbf{w}^\top \mathbf{x}_i - b|\right),$$
# $$-\log P(\mathbf{y} \mid \mathbf{X}) = n \log 2
# + \sum_{i=1}^n |y_i - \mathbf{w}^\top \mathbf{x}_i - b| .$$
# Up to the constant $n \log 2$ it is the absolute (L1) loss summed over the data.
#
# </details>
#
# The check against `jax.scipy.stats.laplace.logpdf` on random data and parameters:

# %%
@jax.jit
def laplace_nll(w, b, X, y):
    """-log P(y | X) under Laplace(0, 1) noise: by jax.scipy and by the formula above."""
    residual = y - X @ w - b
    return (-jnp.sum(laplace.logpdf(residual)),
            y.shape[0] * jnp.log(2.0) + jnp.sum(jnp.abs(residual)))


nll_scipy, nll_formula = laplace_nll(rng.standard_normal(2), 0.7, rng.standard_normal((50, 2)),
                                     3 * rng.standard_normal(50))
answers["5.1"] = {"nll_scipy": float(nll_scipy), "nll_formula": float(nll_formula)}
print(f"-Σ log p: {float(nll_scipy):.4f} (jax.scipy), {float(nll_formula):.4f} (formula)")

# %% [markdown]
# ### Exercise 5.2 — a closed-form solution?

# %% [markdown]
# <details><summary>Answer</summary>
#
# No, not in general. Minimising $\sum_i |y_i - \mathbf{w}^\top \mathbf{x}_i - b|$ (least
# absolute deviations) has no formula like the normal equations: the loss is piecewise linear,
# its gradient $-\sum_i \operatorname{sign}(r_i)\, (\mathbf{x}_i, 1)$ depends on $\mathbf{w}$
# only through the signs of the residuals $r_i$, so setting it to zero gives no equation to
# solve for $\mathbf{w}$. The minimiser is the solution of a linear program
# (minimise $\sum_i t_i$ subject to $-t_i \le r_i \le t_i$), and one optimum passes exactly
# through $d + 1$ of the data points, but which ones is found by search, not by a formula.
# The exception is exercise 1.3: with no features the answer is the median, which is a closed
# form (of order statistics, not of sums). Numerically the minimiser is found by linear
# programming, by iteratively reweighted least squares (the next cell uses it to get the
# minimiser for reference), or by subgradient methods such as SGD.
#
# </details>

# %% [markdown]
# ### Exercise 5.3 — minibatch SGD for it, what goes wrong near the optimum, and a fix
#
# The data: n = 1000, w = [2, −3.4], b = 4.2, Laplace noise of scale 1 (the model of 5.1).
# The minimiser of the L1 loss (by iteratively reweighted least squares, in float64) is the
# reference the runs are measured against. First the gradient itself: the derivative of
# |ŷ − y| with respect to ŷ, at residuals that shrink towards 0, against that of ½(ŷ − y)².

# %%
Xs = rng.standard_normal((2000, 2)).astype(np.float32)
ys = (Xs @ np.array([2.0, -3.4]) + 4.2 + rng.laplace(size=2000)).astype(np.float32)
lap_train, lap_val = (Xs[:1000], ys[:1000, None]), (Xs[1000:], ys[1000:, None])


def least_absolute_deviations(X, y, iterations=100):
    """argmin over (w, b) of sum |y - X w - b| by iteratively reweighted least squares."""
    A = np.column_stack([np.asarray(X, np.float64), np.ones(len(X))])
    y = np.asarray(y, np.float64).ravel()
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    for _ in range(iterations):
        weights = 1.0 / np.maximum(np.abs(y - A @ theta), 1e-9)
        theta = np.linalg.solve(A.T @ (weights[:, None] * A), A.T @ (weights * y))
    return theta


theta_lad = least_absolute_deviations(*lap_train)
residuals = np.array([1.0, 1e-2, 1e-4, 1e-6, 0.0, -1e-6, -1.0], np.float32)
l1_loss = train.supervised_loss(linear.apply, absolute_loss)
lad_point = theta_lad.astype(np.float32)
lad_params = {"w": lad_point[:2, None], "b": lad_point[2:]}


@jax.jit
def gradients_53(r, params, batch):
    """d|r|/dr and d(r^2/2)/dr at each residual; the L1 loss's gradient at params on batch."""
    return (jax.vmap(jax.grad(jnp.abs))(r), jax.vmap(jax.grad(lambda ri: ri**2 / 2))(r),
            jax.grad(l1_loss)(params, batch))


d_abs, d_sq, grad_l1 = jax.device_get(gradients_53(residuals, lad_params,
                                                   (lap_train[0][:32], lap_train[1][:32])))
for r, g1, g2 in zip(residuals.tolist(), d_abs.tolist(), d_sq.tolist(), strict=True):
    print(f"residual {r:+.0e}: d|r|/dŷ = {g1:+.0f}, d(r²/2)/dŷ = {g2:+.0e}")
answers["5.3"] = {"residuals": residuals, "d_abs": d_abs, "d_squared": d_sq,
                  "lad_minimiser": theta_lad,
                  "minibatch_grad_norm_at_minimiser": float(np.sqrt(
                      np.sum(np.square(grad_l1["w"])) + np.sum(np.square(grad_l1["b"]))))}
print(f"L1 minimiser (w1, w2, b): {np.round(theta_lad, 4)}; the gradient of one minibatch of "
      f"32 there has norm {answers['5.3']['minibatch_grad_norm_at_minimiser']:.3f}")

# %% [markdown]
# Now SGD on the mean absolute loss (batch 32) with three constant learning rates in one
# `fit_many` call (`optax.inject_hyperparams(optax.sgd)` with `learning_rates=`), and once with
# a learning rate that decays by a factor 0.85 per epoch from 0.3. After every epoch the
# metric is the distance of (w, b) to the L1 minimiser.

# %%
def distance_to_lad(params, batch):
    """|(w, b) - the L1 minimiser|: the same on every batch (it reads only the params)."""
    theta = jnp.concatenate([params["w"][:, 0], params["b"]])
    return {"dist": jnp.linalg.norm(theta - lad_point)}


epochs_53 = 40
constant_lrs = [0.3, 0.1, 0.03]
start = linear.init(l1_init_key, num_inputs=2)
fit_key = l1_fit_key
constant = sweep.fit_many(l1_loss, sweep.replicate(start, len(constant_lrs)),
                          optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), lap_train,
                          lap_val, key=fit_key, learning_rates=constant_lrs, epochs=epochs_53,
                          batch_size=32, metrics=distance_to_lad, progress=False)
steps_per_epoch = constant.history["batch_loss"].shape[-1]
decay = optax.exponential_decay(0.3, transition_steps=steps_per_epoch, decay_rate=0.85)
decayed = train.fit(l1_loss, start, optax.sgd(decay), lap_train, lap_val, key=fit_key,
                    epochs=epochs_53, batch_size=32, metrics=distance_to_lad, progress=False)
curves = {f"constant lr {lr}": constant.history["val_dist"][i]
          for i, lr in enumerate(constant_lrs)}
curves["lr 0.3 · 0.85^epoch"] = decayed.history["val_dist"]
epochs_axis = np.arange(1, epochs_53 + 1)
ax = plot(epochs_axis, list(curves.values()), "epoch", "distance of (w, b) to the L1 minimiser",
          legend=list(curves), yscale="log", figsize=(5, 3),
          title="SGD on the absolute loss, batch 32")
run.show(ax.figure, "ex5_l1_sgd.png")
tail = max(1, epochs_53 // 4)  # the last quarter of the epochs: the plateau
answers["5.3"].update({
    "epochs": epochs_53, "constant_lrs": constant_lrs,
    "constant_final_dist": constant.history["val_dist"][:, -1],
    "constant_plateau_dist": constant.history["val_dist"][:, -tail:].mean(axis=1),
    "decayed_final_dist": float(decayed.history["val_dist"][-1]),
    "decayed_plateau_dist": float(decayed.history["val_dist"][-tail:].mean())})
for name, values in curves.items():
    print(f"{name:>20}: distance after epoch 1 {values[0]:.4f}, mean of the last {tail} epochs "
          f"{values[-tail:].mean():.4f}, last {values[-1]:.4f}")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Minibatch SGD: pick a minibatch $B$, and step
# $$(\mathbf{w}, b) \leftarrow (\mathbf{w}, b)
# + \frac{\eta}{|B|} \sum_{i \in B} \operatorname{sign}(r_i)\,(\mathbf{x}_i, 1)$$
# with $r_i = y_i - \mathbf{w}^\top \mathbf{x}_i - b$: a subgradient step, which `jax.grad` of
# the absolute loss computes (at exactly $r = 0$, where no derivative exists, JAX returns
# $+1$, one of the subgradients, as the printout shows).
#
# What goes wrong: the gradient of $|r|$ is $\pm 1$ however small $r$ is, and jumps from $-1$
# to $+1$ as $r$ crosses zero (the first printout). The squared loss's gradient $r$ shrinks as
# the fit improves, so its steps shrink by themselves near the optimum; the absolute loss's
# steps do not. A minibatch gradient at the exact L1 minimiser still has the norm printed above,
# so with a constant learning rate the parameters never settle: they reach the neighbourhood
# of the minimiser and then jump around it at a distance that scales with $\eta$ (the three
# constant-rate curves level off at heights in the order of their learning rates).
#
# The fix: let the steps shrink. A learning rate that decays (here by 0.85 per epoch; in
# theory $\sum_t \eta_t = \infty$, $\sum_t \eta_t^2 < \infty$, e.g. $\eta_t \propto 1/t$)
# keeps the fast start of a large rate and ends closer than any of the constant rates: over the
# last quarter of the epochs its mean distance is the smallest of the four (printed above; a
# single epoch's distance fluctuates). Other fixes: larger minibatches (the sum of signs
# averages to a smaller gradient near the optimum), or smoothing the kink, e.g. the Huber loss
# that is quadratic for $|r| \le \delta$ and linear beyond (3.4's exercise 8.3 tries it).
#
# </details>

# %% [markdown]
# ### Exercise 6 — two linear layers composed

# %% [markdown]
# <details><summary>Answer</summary>
#
# A linear layer is $\mathbf{h} = \mathbf{W}_1 \mathbf{x} + \mathbf{b}_1$; a second one on top
# gives
# $$\mathbf{o} = \mathbf{W}_2 (\mathbf{W}_1 \mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2
# = (\mathbf{W}_2 \mathbf{W}_1) \mathbf{x} + (\mathbf{W}_2 \mathbf{b}_1 + \mathbf{b}_2),$$
# again one affine function $\mathbf{W}\mathbf{x} + \mathbf{b}$ with
# $\mathbf{W} = \mathbf{W}_2 \mathbf{W}_1$, $\mathbf{b} = \mathbf{W}_2 \mathbf{b}_1 + \mathbf{b}_2$.
# The composition can express nothing that one linear layer cannot (it can express less:
# $\operatorname{rank}(\mathbf{W}_2 \mathbf{W}_1)$ is at most the hidden width, so a narrow
# hidden layer is a bottleneck; the check below has a hidden width of 2), and it only
# adds parameters and a non-convex loss surface for the same set of functions. A
# nonlinearity between the layers (chapter 5) is what makes depth add expressive power.
#
# </details>

# %%
W1, b1 = rng.standard_normal((2, 5)), rng.standard_normal(2)  # 5 inputs -> 2 hidden units
W2, b2 = rng.standard_normal((3, 2)), rng.standard_normal(3)  # -> 3 outputs
xs = rng.standard_normal((100, 5))
two_layers = (xs @ W1.T + b1) @ W2.T + b2
one_layer = xs @ (W2 @ W1).T + (W2 @ b1 + b2)
answers["6"] = {"max_abs_difference": float(np.max(np.abs(two_layers - one_layer))),
                "output_scale": float(np.max(np.abs(one_layer))),
                "rank_W2W1": int(np.linalg.matrix_rank(W2 @ W1))}
print(f"max |two layers - one layer| = {answers['6']['max_abs_difference']:.1e} on outputs up "
      f"to {answers['6']['output_scale']:.1f} (float64); W2 W1 is 3 x 5 of rank "
      f"{answers['6']['rank_W2W1']}")

# %% [markdown]
# ## Exercises 7.1–7.3 — regression for prices of houses or stocks
#
# ### Exercise 7.1 — why additive Gaussian noise does not fit prices

# %% [markdown]
# <details><summary>Answer</summary>
#
# Two reasons. (a) Prices are positive, but $y = \mathbf{w}^\top\mathbf{x} + b + \epsilon$
# with Gaussian $\epsilon$ gives every price a positive probability of being negative, and a
# cheap house a large one: with a typical error of 50,000 on a house predicted at 80,000 the
# model assigns $\Phi(-1.6) \approx 5\,\%$ to a negative price. (b) Fluctuations are
# relative, not absolute: a 1 % move of a 1,000,000 house is 10,000, of a 100,000 house 1,000.
# Additive noise has the same spread at every price level, so it overstates the uncertainty of
# cheap items and understates that of expensive ones, and the squared loss lets the expensive
# items dominate the fit.
#
# </details>
#
# ### Exercise 7.2 — why regress on log(price)

# %% [markdown]
# <details><summary>Answer</summary>
#
# With $\log \textrm{price} = \mathbf{w}^\top\mathbf{x} + b + \epsilon$ the price is
# $e^{\mathbf{w}^\top\mathbf{x} + b} \cdot e^{\epsilon}$: always positive, and the noise
# multiplies, so a given $\epsilon$ is the same *relative* error at every price level (a
# log-normal model). The squared loss on logs measures relative errors, which is how prices
# are judged (being off by 10,000 matters for a 100,000 house, hardly for a 5,000,000 one),
# and features often act multiplicatively on prices (an extra room adds a percentage), which
# becomes additive, i.e. linear, in the log. Kaggle's house-price competition scores by the
# error of log prices for this reason (section 5.7 of the book).
#
# </details>
#
# ### Exercise 7.3 — penny stocks

# %% [markdown]
# <details><summary>Answer</summary>
#
# A log-normal model (and Black–Scholes, which models the price as geometric Brownian motion)
# assumes the price moves continuously and can take any positive value. Real prices move on a
# grid: the minimum tick is a cent (quotes below a dollar may use smaller ticks, but there is
# still a grid). For a 100-dollar stock a one-cent tick is 0.01 % of the price, negligible; for
# a 5-cent penny stock it is 20 %, so the smallest possible move is enormous, the price is
# visibly discrete, and a model of small continuous relative changes is wrong at exactly the
# scale it is meant for. Penny stocks are also thinly traded, with bid–ask spreads that are a
# large fraction of the price, so you cannot trade at the modelled price at all, and their
# prices jump rather than diffuse. Regression on log prices then needs to model the
# discreteness (e.g. a distribution over ticks) or the model's errors must be judged against
# the tick size.
#
# </details>
#
# ## Exercises 8.1–8.4 — counting apples sold
#
# ### Exercise 8.1 — what is wrong with Gaussian additive noise for counts

# %% [markdown]
# <details><summary>Answer</summary>
#
# Counts are non-negative integers; a Gaussian puts probability on fractional and negative
# values (−0.7 apples), which is most visible when the counts are small. Counts also have a
# spread that grows with their mean (a store selling 2 apples a day varies by about 1, one
# selling 1000 by about 30), while additive noise has one variance everywhere. A model for
# counts should be discrete, non-negative, with a variance tied to the mean: the Poisson
# distribution.
#
# </details>
#
# ### Exercise 8.2 — λ is the expected count

# %% [markdown]
# <details><summary>Answer</summary>
#
# $$\mathbb{E}[k] = \sum_{k=0}^\infty k \frac{\lambda^k e^{-\lambda}}{k!}
# = \sum_{k=1}^\infty \frac{\lambda^k e^{-\lambda}}{(k-1)!}
# = \lambda \sum_{m=0}^\infty \frac{\lambda^m e^{-\lambda}}{m!} = \lambda,$$
# dropping the $k = 0$ term, cancelling $k$ against $k!$, substituting $m = k - 1$, and using
# that the Poisson probabilities sum to one ($\sum_m \lambda^m / m! = e^\lambda$).
#
# </details>
#
# A check: the series summed to k = 200 (the terms beyond are below 10⁻⁸⁰ for these λ).

# %%
@jax.jit
def poisson_sums(lams):
    """(sum of p(k), sum of k p(k)) over k = 0..200 for each rate in lams (m,)."""
    ks = jnp.arange(201.0)[:, None]
    pmf = poisson.pmf(ks, lams[None, :])
    return pmf.sum(0), (ks * pmf).sum(0)


lams = np.array([0.5, 3.0, 20.0], np.float32)
sum_pmf, sum_k_pmf = poisson_sums(lams)
answers["8.2"] = {"lambda": lams, "sum_k_pmf": sum_k_pmf, "sum_pmf": sum_pmf}
print(f"λ {lams}: Σ k p(k) = {np.round(answers['8.2']['sum_k_pmf'], 5)}, "
      f"Σ p(k) = {np.round(answers['8.2']['sum_pmf'], 5)}")

# %% [markdown]
# ### Exercise 8.3 — a loss function from the Poisson distribution

# %% [markdown]
# <details><summary>Answer</summary>
#
# Maximum likelihood again: with a predicted rate $\lambda_i > 0$ for example $i$ and observed
# count $k_i$, the negative log-likelihood is
# $$-\log p(k_i \mid \lambda_i) = \lambda_i - k_i \log \lambda_i + \log k_i!,$$
# and $\log k_i!$ does not depend on the model, so the loss is
# $$l(\lambda_i, k_i) = \lambda_i - k_i \log \lambda_i .$$
# Its derivative in $\lambda$ is $1 - k/\lambda$, zero at $\lambda = k$, and its second
# derivative $k / \lambda^2 \ge 0$: for a single constant rate fitted to counts
# $k_1, \ldots, k_n$ the minimiser of $\sum_i (\lambda - k_i \log \lambda)$ is
# $\lambda = \bar{k}$, the mean count (as 8.2 says it should be). The model must output a
# positive $\lambda$, e.g. $\lambda = \textrm{softplus}(\mathbf{w}^\top\mathbf{x} + b)$, or
# better, as in 8.4, $\lambda = \exp(\mathbf{w}^\top\mathbf{x} + b)$.
#
# </details>

# %% [markdown]
# ### Exercise 8.4 — a loss for log λ, checked and trained

# %% [markdown]
# <details><summary>Answer</summary>
#
# Predict $\eta = \log \lambda = \mathbf{w}^\top \mathbf{x} + b$, any real number, so a linear
# model can output it. Substituting $\lambda = e^\eta$ in 8.3's loss:
# $$l(\eta, k) = e^\eta - k \eta,$$
# $$\frac{\partial l}{\partial \eta} = e^\eta - k = \lambda - k,$$
# $$\frac{\partial^2 l}{\partial \eta^2} = e^\eta > 0 .$$
# The loss is convex in $\eta$, hence in $(\mathbf{w}, b)$ (a convex function of an affine
# map), so gradient descent has a single minimum to find, and the gradient is
# "prediction minus observation", $(\lambda_i - k_i)\,(\mathbf{x}_i, 1)$, as for the squared
# loss. This is Poisson regression with the log link (a generalised linear model);
# `optax.losses` has no Poisson loss, so the cell below writes it, and no guard keeps the rate
# positive because $e^\eta$ always is.
#
# </details>
#
# The checks: the gradient and second derivative against `jax.grad`, the loss against
# `jax.scipy.stats.poisson.logpmf` (they differ by $\log k!$ only); then a Poisson regression
# on 1000 counts drawn from rates $\exp(0.5 x_1 - 0.3 x_2 + 1)$, trained with `train.fit`
# (SGD, batch 32, the learning rate decaying from 0.05 by 0.9 per epoch, as 5.3 suggests),
# against Newton's method with the gradient $\sum_i (\lambda_i - k_i)(\mathbf{x}_i, 1)$ and
# Hessian $\sum_i \lambda_i (\mathbf{x}_i, 1)(\mathbf{x}_i, 1)^\top$ derived above, which
# gives the exact maximum-likelihood estimate and its standard errors (the square roots of the
# diagonal of the inverse Hessian).

# %%
def poisson_log_rate_loss(eta, k):
    """Mean of exp(eta) - k * eta: the Poisson negative log-likelihood in eta = log rate,
    less the log k! that no parameter changes. eta: (n, 1), k: (n, 1) or (n,)."""
    k = jnp.reshape(k, jnp.shape(eta))
    return jnp.mean(jnp.exp(eta) - k * eta)


def poisson_log_rate_nll(e, k):
    """One example's loss exp(e) - k e (a scalar e = log rate, count k)."""
    return jnp.exp(e) - k * e


@jax.jit
def poisson_checks(eta, k):
    """Largest errors of jax.grad, the second derivative and the logpmf form against 8.4's."""
    loss = jax.vmap(poisson_log_rate_nll)(eta, k)
    grad = jax.vmap(jax.grad(poisson_log_rate_nll))(eta, k)
    second = jax.vmap(jax.grad(jax.grad(poisson_log_rate_nll)))(eta, k)
    from_logpmf = -poisson.logpmf(k, jnp.exp(eta)) - gammaln(k + 1)
    return {"grad_max_abs_error": jnp.max(jnp.abs(grad - (jnp.exp(eta) - k))),
            "second_max_abs_error": jnp.max(jnp.abs(second - jnp.exp(eta))),
            "logpmf_max_abs_error": jnp.max(jnp.abs(from_logpmf - loss)),
            "loss_scale": jnp.max(jnp.abs(loss))}


answers["8.4"] = {k: float(v) for k, v in poisson_checks(
    np.linspace(-2.0, 3.0, 11, dtype=np.float32), np.arange(11.0, dtype=np.float32)).items()}
print(f"d l / d eta: largest error against exp(eta) - k {answers['8.4']['grad_max_abs_error']:.1e};"
      f" second derivative against exp(eta) {answers['8.4']['second_max_abs_error']:.1e}")
print(f"-log p(k | e^eta) - log k! against the loss: {answers['8.4']['logpmf_max_abs_error']:.1e}"
      f" (values up to {answers['8.4']['loss_scale']:.1f})")

# %%
true_theta = np.array([0.5, -0.3, 1.0])  # w1, w2, b
Xp = rng.standard_normal((1000, 2)).astype(np.float32)
counts = rng.poisson(np.exp(Xp @ true_theta[:2] + true_theta[2])).astype(np.float32)[:, None]
poisson_fit = train.fit(train.supervised_loss(linear.apply, poisson_log_rate_loss),
                        linear.init(poisson_init_key, num_inputs=2),
                        optax.sgd(optax.exponential_decay(0.05, 32, 0.9)), (Xp, counts),
                        key=poisson_fit_key, epochs=40, batch_size=32, progress=False)
theta_sgd = np.append(poisson_fit.params["w"][:, 0], poisson_fit.params["b"])

# Newton's method with the derivatives above, in float64: the exact maximum-likelihood fit
A = np.column_stack([Xp, np.ones(len(Xp))]).astype(np.float64)
theta_mle = np.zeros(3)
for _ in range(30):
    rate = np.exp(A @ theta_mle)
    hessian = A.T @ (rate[:, None] * A)  # sum of exp(eta_i) x_i x_i^T
    theta_mle -= np.linalg.solve(hessian, A.T @ (rate - counts[:, 0]))  # sum (lambda_i - k_i) x_i
standard_errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
answers["8.4"].update({"true": true_theta, "sgd": theta_sgd, "mle": theta_mle,
                       "standard_errors": standard_errors, "mean_count": float(counts.mean()),
                       "sgd_minus_mle": float(np.max(np.abs(theta_sgd - theta_mle))),
                       "mle_minus_true_in_se": np.abs(theta_mle - true_theta) / standard_errors})
for name, theta in {"SGD through fit": theta_sgd, "Newton (MLE)": theta_mle,
                    "true": true_theta}.items():
    print(f"{name:>15}: w1, w2, b = {np.round(theta, 4)}")
print(f"standard errors {np.round(standard_errors, 4)}; |MLE - true| / se = "
      f"{np.round(answers['8.4']['mle_minus_true_in_se'], 2)}; mean count {counts.mean():.2f}")
sgd_in_se = answers["8.4"]["sgd_minus_mle"] / standard_errors.min()
print(f"largest |SGD - MLE| = {answers['8.4']['sgd_minus_mle']:.4f}, "
      f"{sgd_in_se:.2f} of the smallest standard error")

# %% [markdown]
# <details><summary>Answer</summary>
#
# The derivatives above are exact (the printed errors are at float32 rounding), and the loss
# trains like any other: SGD through `fit` lands on the maximum-likelihood fit to well within
# one standard error (the printed fraction), and that fit lies within a few standard errors of
# the true parameters, as the noise of 1000 Poisson counts allows.
#
# </details>

# %%
run.save_metrics({"answers": answers})
