# %% [markdown]
# # 5.1 Exercises: Multilayer Perceptrons
#
# The exercises at the end of d2l section 5.1, answered in JAX. Try each one first: every
# written answer is folded under "Answer", and what a check's output shows under "What the
# check shows" (click to unfold); code and outputs stay visible.
# Most are derivations; each is checked right below it, with `jax.grad` against the derived
# formula or with the identity evaluated on random inputs. The activations are those of
# `jaxhw.nn.activations` (the section's notebook plots them) and the networks are
# `jaxhw.models.mlp`.

# %% tags=["parameters"]
quick = False  # smoke run (nothing here is heavy: the same sizes in both modes)
seed = 0  # seed of the random networks and inputs (numpy's generator)
out_dir = "results/5.1-exercises"  # where the figures and metrics.json go

# %%
import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxhw import notebook
from jaxhw.models import mlp
from jaxhw.nn.activations import derivative, prelu, relu, sigmoid, swish, tanh

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)  # numpy draws: nothing to compile for small networks
EPS32 = float(np.finfo(np.float32).eps)  # 2^-23, the spacing of float32 numbers in [1, 2)


def random_mlp(widths: tuple[int, ...], sigma: float, bias_sigma: float) -> dict:
    """Parameters in `mlp`'s layout (W1 (d, h1), b1 (h1,), ...) for layer widths d, h1, ..., q,
    weights N(0, sigma^2) and biases N(0, bias_sigma^2) in float64 (mlp.init's biases are 0)."""
    params = {}
    for i in range(1, len(widths)):
        params[f"W{i}"] = sigma * rng.standard_normal((widths[i - 1], widths[i]))
        params[f"b{i}"] = bias_sigma * rng.standard_normal(widths[i])
    return params


# %% [markdown]
# ### Exercise 1 — depth adds no expressive power to a linear network, and can take some away
#
# <details><summary>Answer</summary>
#
# With rows as examples, a linear (affine) layer maps $\mathbf{H} \mapsto \mathbf{H}\mathbf{W} +
# \mathbf{b}$. Two of them in a row give
# $$(\mathbf{X}\mathbf{W}_1 + \mathbf{b}_1)\mathbf{W}_2 + \mathbf{b}_2 =
# \mathbf{X}(\mathbf{W}_1\mathbf{W}_2) + (\mathbf{b}_1\mathbf{W}_2 + \mathbf{b}_2),$$
# again one affine layer, with weights $\mathbf{W}_1\mathbf{W}_2$ and bias
# $\mathbf{b}_1\mathbf{W}_2 + \mathbf{b}_2$. By induction any stack of $L$ affine layers equals
# one affine layer $\mathbf{X}\mathbf{W} + \mathbf{b}$ with $\mathbf{W} = \mathbf{W}_1 \cdots
# \mathbf{W}_L$. So a deep linear network can represent only affine maps, which a single layer
# already represents: depth adds nothing. It can take something away: $\mathbf{W}_1 \cdots
# \mathbf{W}_L$ has rank at most the smallest width on the way. With $d$ inputs, $d$ outputs and
# a hidden layer of width $k < d$, the network can only represent maps of rank $\le k$; for
# example a $2 \to 1 \to 2$ network cannot represent the identity of $\mathbb{R}^2$, which a
# single $2 \to 2$ layer does. The best it can do is the best rank-1 approximation of
# $\mathbf{I}_2$, which by the Eckart–Young theorem is off by the discarded singular value, 1 in
# the Frobenius norm.
#
# </details>

# %% [markdown]
# A check: a random linear network (widths 4 → 8 → 8 → 8 → 3, random biases) against the
# single affine layer collapsed from its weights, in float64 (numpy; the library's `mlp.apply`
# computes in float32) so that only rounding of order $10^{-16}$ separates them; and the
# library's float32 network (`mlp.apply` with the identity as its activation) against it.

# %%
def affine_chain(params: dict, X: np.ndarray, activation=lambda h: h) -> np.ndarray:
    """An mlp's layers in float64 numpy: X (n, d) -> (n, q), `activation` between layers."""
    num_layers = len(params) // 2
    H = np.asarray(X, np.float64)
    for i in range(1, num_layers + 1):
        H = H @ np.asarray(params[f"W{i}"], np.float64) + np.asarray(params[f"b{i}"], np.float64)
        if i < num_layers:
            H = activation(H)
    return H


def collapse(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """The single affine layer (W (d, q), b (q,)) equal to a linear mlp's layers, in float64."""
    W = np.eye(params["W1"].shape[0])
    b = np.zeros(params["W1"].shape[0])
    for i in range(1, len(params) // 2 + 1):
        Wi, bi = (np.asarray(params[k], np.float64) for k in (f"W{i}", f"b{i}"))
        W, b = W @ Wi, b @ Wi + bi
    return W, b


# %%
linear_params = random_mlp((4, 8, 8, 8, 3), sigma=0.5, bias_sigma=0.5)
X = rng.standard_normal((100, 4))
W_eff, b_eff = collapse(linear_params)
deep = affine_chain(linear_params, X)
gap64 = float(np.abs(deep - (X @ W_eff + b_eff)).max() / np.abs(deep).max())
library32 = np.asarray(jax.jit(functools.partial(mlp.apply, activation=lambda h: h))(
    jax.tree.map(jnp.float32, linear_params), jnp.asarray(X, jnp.float32)))
gap32 = float(np.abs(library32 - deep).max() / np.abs(deep).max())
print(f"4 linear layers vs one affine layer (float64): max gap {gap64:.1e} of the largest output")
print(f"the library's float32 network vs the same: {gap32:.1e} (float32 eps {EPS32:.1e})")
answers["1"] = {"collapsed_gap_float64": gap64, "library_float32_gap": gap32,
                "W_eff_shape": list(W_eff.shape)}

# %% [markdown]
# The bottleneck: random $2 \to 1 \to 2$ linear networks have rank-1 weights, and no choice of
# weights gets closer to the identity than the Eckart–Young bound. The best rank-1 map is the
# projection on one direction: `np.linalg.svd` gives it, and a random network does worse.

# %%
ranks, errors = [], []
for _ in range(5):
    W, _ = collapse(random_mlp((2, 1, 2), sigma=1.0, bias_sigma=1.0))
    ranks.append(int(np.linalg.matrix_rank(W)))
    errors.append(float(np.linalg.norm(W - np.eye(2))))
U, S, Vt = np.linalg.svd(np.eye(2))
best_rank1 = S[0] * np.outer(U[:, 0], Vt[0])
best_error = float(np.linalg.norm(best_rank1 - np.eye(2)))
print(f"ranks of 5 random 2 -> 1 -> 2 networks: {ranks}; ||W - I||_F: {np.round(errors, 3)}")
print(f"best rank-1 map: ||W - I||_F = {best_error:.6f} (Eckart-Young: the discarded singular "
      f"value, {S[1]:.1f}); a 2 -> 2 layer reaches 0")
answers["1"].update({"bottleneck_ranks": ranks, "bottleneck_errors": errors,
                     "best_rank1_error": best_error})


# %% [markdown]
# ### Exercise 2 — the derivative of pReLU
#
# <details><summary>Answer</summary>
#
# $\mathrm{pReLU}(x) = \max(0, x) + \alpha \min(0, x)$, i.e. $x$ for $x > 0$ and $\alpha x$
# for $x < 0$. On each side it is linear, so
# $$\frac{d}{dx}\mathrm{pReLU}(x) = 1 \text{ for } x > 0, \quad \alpha \text{ for } x < 0.$$
# At $x = 0$ the one-sided derivatives are $\alpha$ and 1, so unless $\alpha = 1$ there is no
# derivative; any value in $[\alpha, 1]$ is a subgradient, and frameworks pick one side
# (`jaxhw.nn.activations.prelu` is `where(x > 0, x, alpha x)`, so autodiff gives $\alpha$). In
# pReLU $\alpha$ is a learned parameter, so training also needs
# $$\frac{\partial}{\partial \alpha}\mathrm{pReLU}(x) = \min(0, x).$$
#
# </details>

# %%
@jax.jit
def prelu_gaps(x: jax.Array, alpha: jax.Array) -> dict[str, jax.Array]:
    """jax.grad of pReLU in x and in alpha against the derived formulas, at x (n,)."""
    by_x = derivative(lambda v: prelu(v, alpha))(x)
    by_alpha = jax.vmap(jax.grad(prelu, argnums=1), in_axes=(0, None))(x, alpha)
    return {"max_gap_dx": jnp.abs(by_x - jnp.where(x > 0, 1.0, alpha)).max(),
            "max_gap_dalpha": jnp.abs(by_alpha - jnp.minimum(x, 0.0)).max(),
            "grad_at_0": jax.grad(prelu)(0.0, alpha)}


x = jnp.linspace(-4.0, 4.0, 801)  # includes x = 0
prelu_check = {str(alpha): {k: float(v) for k, v in prelu_gaps(x, alpha).items()}
               for alpha in (0.1, 0.25)}
for alpha, c in prelu_check.items():
    print(f"alpha {alpha}: max |autodiff - derived| in x {c['max_gap_dx']}, in alpha "
          f"{c['max_gap_dalpha']}; autodiff at x = 0: {c['grad_at_0']:.7g}")
answers["2"] = prelu_check


# %% [markdown]
# <details><summary>What the check shows</summary>
#
# Both derivatives match the derived formulas exactly (gap 0: `where` passes 1 or α through
# without rounding), and at 0 autodiff takes the left-hand value α.
#
# </details>

# %% [markdown]
# ### Exercise 3 — the derivative of Swish, x sigmoid(βx)
#
# <details><summary>Answer</summary>
#
# Write $s = \sigma(\beta x)$ and use $\sigma'(z) = \sigma(z)(1 - \sigma(z))$. By the product
# and chain rules
# $$\frac{d}{dx}\, x\,\sigma(\beta x) = \sigma(\beta x)
# + \beta x\, \sigma(\beta x)(1 - \sigma(\beta x)) = s\,(1 + \beta x (1 - s)).$$
# At $x = 0$ it is $1/2$ for every $\beta$. For $\beta = 0$ Swish is $x/2$ (derivative $1/2$);
# as $\beta \to \infty$, $s$ tends to the step function and $\beta x\, s (1 - s) \to 0$ for
# $x \ne 0$, so the derivative tends to ReLU's. If $\beta$ is learned,
# $$\frac{\partial}{\partial \beta}\, x\,\sigma(\beta x) =
# x^2\, \sigma(\beta x)(1 - \sigma(\beta x)).$$
#
# </details>

# %%
def swish_beta(x: jax.Array, beta: float) -> jax.Array:
    """x * sigmoid(beta x), elementwise; beta = 1 is `jaxhw.nn.activations.swish`."""
    return x * sigmoid(beta * x)


# %%
@jax.jit
def swish_gaps(x: jax.Array, beta: jax.Array) -> dict[str, jax.Array]:
    """jax.grad of x sigmoid(beta x) in x and in beta against the derived formulas, at x (n,)."""
    s = sigmoid(beta * x)
    by_x = derivative(lambda v: swish_beta(v, beta))(x)
    by_beta = jax.vmap(jax.grad(swish_beta, argnums=1), in_axes=(0, None))(x, beta)
    # Both sides are sums of terms of size <= 1.22 rounded a few times, and 1 - s loses up to
    # eps absolutely where s ~ 1 (multiplied by |beta x|): a gap within 4 eps (2 + |beta x|).
    tol_x = 4 * EPS32 * (2 + jnp.abs(beta * x))
    return {"by_x": by_x,
            "max_gap_over_tol_dx": (jnp.abs(by_x - s * (1 + beta * x * (1 - s))) / tol_x).max(),
            "max_gap_dbeta": jnp.abs(by_beta - x**2 * s * (1 - s)).max(),
            "grad_at_0": jax.grad(swish_beta)(0.0, beta),
            "library_beta_1_gap": jnp.abs(swish_beta(x, 1.0) - swish(x)).max(),
            "relu_derivative": derivative(relu)(x)}


x = jnp.linspace(-8.0, 8.0, 1601)
swish_check = {}
fig, ax = plt.subplots(figsize=(5, 3))
for beta in (0.5, 1.0, 2.0, 10.0):
    out = jax.device_get(swish_gaps(x, beta))
    swish_check[str(beta)] = {k: float(out[k])
                              for k in ("max_gap_over_tol_dx", "max_gap_dbeta", "grad_at_0")}
    ax.plot(x, out["by_x"], label=f"beta = {beta:g}")
swish_check["library_beta_1_gap"] = float(out["library_beta_1_gap"])
ax.plot(x, out["relu_derivative"], "k:", label="ReLU'")
ax.set(xlabel="x", ylabel="d/dx x sigmoid(beta x)", title="Swish derivative, by jax.grad")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
ax.grid(alpha=0.3)
run.show(fig, "swish_derivative.png")
for beta in ("0.5", "1.0", "2.0", "10.0"):
    c = swish_check[beta]
    print(f"beta {beta:>4s}: max gap in x {c['max_gap_over_tol_dx']:.2f} of the allowance, in "
          f"beta {c['max_gap_dbeta']:.1e}; derivative at 0: {c['grad_at_0']}")
print(f"swish_beta(x, 1) vs the library's swish: max gap {swish_check['library_beta_1_gap']}")
answers["3"] = swish_check

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# `jax.grad` agrees with the derived derivative within the rounding allowance at every point
# (ratios below 1), the value at 0 is 1/2 for every β, and the curves approach ReLU's step as β
# grows. (The check of ∂/∂β is printed as an absolute gap; its terms are of size up to
# $x^2/4 = 16$.)
#
# </details>

# %% [markdown]
# ### Exercise 4 — an MLP with ReLU (or pReLU) computes a continuous piecewise linear function
#
# <details><summary>Answer</summary>
#
# A function is continuous piecewise linear (CPWL) if it is continuous and its domain splits
# into finitely many polyhedral pieces on each of which it is affine. Affine maps are CPWL (one
# piece); ReLU and pReLU are CPWL in each coordinate (two pieces, split at 0). Sums,
# compositions and vectors of CPWL functions are CPWL: continuity is preserved by both, and
# the pieces of a composition are the intersections of the inner function's pieces with the
# preimages of the outer one's, which are again finitely many polyhedra (preimages of
# polyhedra under an affine map are polyhedra). An MLP alternates affine maps and
# coordinatewise (p)ReLU, so by induction over the layers it is CPWL. Consequences one can
# check: on every piece the second derivative is 0, and along a line a network with one hidden
# layer of width $h$ has at most $h + 1$ pieces (each unit switches on or off at most once
# along the line).
#
# </details>

# %% [markdown]
# A check along the line $\mathbf{x}(t) = \mathbf{a} + t\mathbf{v}$, $t \in [-3, 3]$, in the
# 2-D input space of random networks (2 inputs, 1 output): the second derivative in $t$ by
# `jax.grad(jax.grad(...))` at 24,577 points $t = k/4096$ (exact in float32), the number of
# linear pieces (runs of equal slope; a piece shorter than the spacing can be missed, so this
# is a lower bound), and continuity: the largest change between neighbouring points, in
# float64, must shrink in proportion to the spacing (a jump would not shrink at all).

# %%
@functools.partial(jax.jit, static_argnames="activation")
def along_line(params: dict, t: jax.Array, a: jax.Array, v: jax.Array, activation):
    """Slope and second derivative in t of the mlp's scalar output at a + t v, for t (m,)."""
    def f(s):
        return mlp.apply(params, (a + s * v)[None, :], activation=activation)[0, 0]
    return jax.vmap(jax.grad(f))(t), jax.vmap(jax.grad(jax.grad(f)))(t)


t = np.arange(-3 * 4096, 3 * 4096 + 1) / 4096
a, v = np.array([0.3, -0.2]), np.array([0.8, 0.6])
leaky = functools.partial(prelu, alpha=0.2)
networks = {  # name: (widths, activation in JAX, the same in numpy)
    "ReLU, 1 hidden layer of 16": ((2, 16, 1), relu, lambda h: np.maximum(h, 0)),
    "pReLU (0.2), 3 hidden layers of 16": ((2, 16, 16, 16, 1), leaky,
                                           lambda h: np.where(h > 0, h, 0.2 * h)),
}
cpwl = {}
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(10, 3.4))
for name, (widths, activation, activation64) in networks.items():
    params = random_mlp(widths, sigma=1.0, bias_sigma=0.5)
    slopes, second = jax.device_get(along_line(
        jax.tree.map(jnp.float32, params), jnp.asarray(t, jnp.float32), jnp.asarray(a, jnp.float32),
        jnp.asarray(v, jnp.float32), activation))
    values = affine_chain(params, a + t[:, None] * v, activation64)[:, 0]
    largest_change = {f"2^-{k}": float(np.abs(np.diff(values[:: 2 ** (12 - k)])).max())
                      for k in (8, 10, 12)}
    cpwl[name] = {"max_abs_second_derivative": float(np.abs(second).max()),
                  "pieces": 1 + int(np.count_nonzero(slopes[1:] != slopes[:-1])),
                  "hidden_units": sum(widths[1:-1]), "largest_change_by_spacing": largest_change}
    ax_f.plot(t, values, label=name)
    ax_d.plot(t, slopes, label=name)
ax_f.set(xlabel="t", ylabel="f(a + t v)", title="network output along a line")
ax_d.set(xlabel="t", ylabel="df/dt (jax.grad)", title="its slope: piecewise constant")
for ax in (ax_f, ax_d):
    ax.grid(alpha=0.3)
ax_d.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
fig.tight_layout()
run.show(fig, "piecewise_linear.png")
for name, c in cpwl.items():
    changes = ", ".join(f"{k}: {d:.2e}" for k, d in c["largest_change_by_spacing"].items())
    print(f"{name}: max |f''| = {c['max_abs_second_derivative']}, {c['pieces']} pieces;\n"
          f"    largest change between neighbours at spacing {changes}")
answers["4"] = cpwl

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# Along the line the second derivative is exactly 0 at every sampled point and the slope is
# piecewise constant (right): the output is linear between the kinks. The largest change
# between neighbouring points shrinks by about 4 each time the spacing does: no jumps, so the
# function is continuous. The one-hidden-layer network has at most $16 + 1 = 17$ pieces, as
# derived; the deeper pReLU network, with 48 units, has the printed number of pieces.
#
# </details>

# %% [markdown]
# ### Exercise 5.1 — show that tanh(x) + 1 = 2 sigmoid(2x)
#
# <details><summary>Answer</summary>
#
# $$\tanh(x) + 1 = \frac{1 - e^{-2x}}{1 + e^{-2x}} + \frac{1 + e^{-2x}}{1 + e^{-2x}}
# = \frac{2}{1 + e^{-2x}} = 2\,\sigma(2x).$$
#
# </details>

# %%
x = jnp.linspace(-10.0, 10.0, 20001)
gap = float(jax.jit(lambda x: jnp.abs(tanh(x) + 1 - 2 * sigmoid(2 * x)).max())(x))
print(f"max |tanh(x) + 1 - 2 sigmoid(2x)| over [-10, 10]: {gap:.1e} ({gap / EPS32:.1f} eps)")
answers["5.1"] = {"max_gap": gap, "max_gap_in_eps": gap / EPS32}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The two sides agree to a few float32 rounding units (XLA's float32 `tanh` and `logistic` are
# approximations accurate to a few units in the last place, and both sides are at most 2).
#
# </details>

# %% [markdown]
# ### Exercise 5.2 — the function classes of tanh and sigmoid networks are the same
#
# <details><summary>Answer</summary>
#
# By 5.1, $\tanh(z) = 2\sigma(2z) - 1$. Take a tanh network and a hidden layer
# $\mathbf{h} = \tanh(\mathbf{z})$, $\mathbf{z} = \mathbf{x}\mathbf{W} + \mathbf{b}$, feeding an
# affine layer $\mathbf{h}\mathbf{V} + \mathbf{c}$. Then
# $$\mathbf{h}\mathbf{V} + \mathbf{c} = (2\sigma(2\mathbf{z}) - \mathbf{1})\mathbf{V} + \mathbf{c}
# = \sigma(\mathbf{x}(2\mathbf{W}) + 2\mathbf{b})\,(2\mathbf{V})
# + (\mathbf{c} - \mathbf{1}\mathbf{V}),$$
# a sigmoid layer with weights $2\mathbf{W}$, bias $2\mathbf{b}$, followed by an affine layer
# with weights $2\mathbf{V}$ and bias $\mathbf{c} - \mathbf{1}\mathbf{V}$ ($\mathbf{1}\mathbf{V}$
# is the column sums of $\mathbf{V}$). When that next layer is itself hidden, its
# pre-activation must also be doubled for its own sigmoid: weights $4\mathbf{V}$, bias
# $2(\mathbf{c} - \mathbf{1}\mathbf{V})$. Going layer by layer, every tanh network equals a
# sigmoid network of the same shape. Conversely $\sigma(z) = (\tanh(z/2) + 1)/2$ turns every
# sigmoid network into a tanh network the same way (halve the pre-activations, halve the next
# weights and add half their column sums to the next bias). Because affine layers have biases,
# the constant shifts are always absorbed: the two parametrised families are the same set of
# functions (not the same parameters, so training can behave differently).
#
# </details>

# %%
def tanh_to_sigmoid(params: dict) -> dict:
    """The parameters of the sigmoid mlp that computes the same function as the tanh mlp."""
    num_layers = len(params) // 2
    out = {"W1": 2 * params["W1"], "b1": 2 * params["b1"]}
    for i in range(2, num_layers + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        scale = 2.0 if i == num_layers else 4.0  # hidden layers: doubled again for sigmoid(2z)
        out[f"W{i}"] = scale * W
        out[f"b{i}"] = (scale / 2) * (b - W.sum(axis=0))
    return out


tanh_params = random_mlp((5, 8, 8, 3), sigma=0.7, bias_sigma=0.5)
X = rng.standard_normal((200, 5))
by_tanh = affine_chain(tanh_params, X, np.tanh)
by_sigmoid = affine_chain(tanh_to_sigmoid(tanh_params), X, lambda z: 1 / (1 + np.exp(-z)))
conversion_gap = float(np.abs(by_tanh - by_sigmoid).max() / np.abs(by_tanh).max())
print(f"tanh network vs the converted sigmoid network (float64): max gap {conversion_gap:.1e} "
      f"of the largest output")
answers["5.2"] = {"conversion_gap_float64": conversion_gap}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# A random two-hidden-layer tanh network and the sigmoid network converted from it by the
# formulas above give the same outputs, up to float64 rounding.
#
# </details>

# %% [markdown]
# ### Exercise 6 — a nonlinearity that acts on a whole minibatch, such as batch normalization
#
# <details><summary>Answer</summary>
#
# The output for one example then depends on the other examples in its minibatch: the model is
# no longer a function of its input. Problems that follow:
# - Predictions change with the batch an example happens to be in, and with the batch size; a
#   batch of one example has zero variance, so normalising it gives 0 (or divides by 0):
#   prediction one example at a time breaks. Batch normalization therefore keeps running
#   averages of the mean and variance for inference, so training and inference compute
#   different functions.
# - Small batches give noisy statistics, so the noise depends on the batch size; batches that
#   are not random samples (sorted by class, one user's data) shift the statistics, and the
#   output leaks information between examples.
# - The loss is no longer a sum of per-example terms: the gradient for one example flows
#   through the others (the Jacobian below is not block-diagonal), so per-example gradients
#   (as in differential privacy) and gradient accumulation over micro-batches are not what one
#   expects, and with data parallelism each device sees different statistics unless they are
#   synchronised.
#
# </details>

# %% [markdown]
# A demonstration with a per-batch standardisation as the nonlinearity,
# $(\mathbf{z} - \mathrm{mean}) / \sqrt{\mathrm{var} + 10^{-5}}$ over the minibatch's rows:
# example 0 in two different batches, alone, and how its output reacts to example 1's input.

# %%
def batch_standardize(Z: jax.Array, eps: float = 1e-5) -> jax.Array:
    """Z (n, h) standardised per column over the minibatch (its n rows): batch norm's core."""
    return (Z - Z.mean(axis=0)) / jnp.sqrt(Z.var(axis=0) + eps)


@jax.jit
def example_0(params: dict, X1: jax.Array, X2: jax.Array) -> dict[str, jax.Array]:
    """Example 0's output in batch X1 (n, d), in batch X2, alone, and d output_0 / d X1."""
    def model(X):
        return mlp.apply(params, X, activation=batch_standardize)
    return {"batch_1": model(X1)[0], "batch_2": model(X2)[0], "alone": model(X1[:1])[0],
            "d_out0_d_X1": jax.jacobian(lambda X: model(X)[0])(X1)}  # (q, n, d)


batch_params = jax.tree.map(jnp.float32, random_mlp((4, 8, 2), sigma=0.5, bias_sigma=0.5))
X1, X2 = rng.standard_normal((2, 16, 4)).astype(np.float32)
X2[0] = X1[0]  # the same example 0 with other batch-mates
out = jax.device_get(example_0(batch_params, X1, X2))
out_in_1, out_in_2, out_alone = out["batch_1"], out["batch_2"], out["alone"]
batch_demo = {
    "output_0_batch_1": out_in_1, "output_0_batch_2": out_in_2, "output_0_alone": out_alone,
    "output_alone_equals_bias": bool(np.array_equal(out_alone, batch_params["b2"])),
    "max_abs_d_out0_d_x1": float(np.abs(out["d_out0_d_X1"][:, 1]).max()),
}
print(f"example 0 in batch 1: {out_in_1}\nexample 0 in batch 2: {out_in_2}\n"
      f"example 0 alone:      {out_alone} (the output layer's bias {batch_params['b2']})\n"
      f"largest |d output_0 / d x_1| = {batch_demo['max_abs_d_out0_d_x1']:.3f}")
answers["6"] = batch_demo

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The same input gets two different outputs in two batches; alone it gets the output layer's
# bias, whatever the input (its standardised hidden layer is all zeros); and the output for
# example 0 has a nonzero derivative with respect to example 1's input.
#
# </details>

# %% [markdown]
# ### Exercise 7 — an example where sigmoid's gradients vanish
#
# <details><summary>Answer</summary>
#
# $\sigma'(x) = \sigma(x)(1 - \sigma(x)) \le 1/4$, with equality only at $x = 0$, and
# $\sigma'(x) \approx e^{-|x|}$ for large $|x|$. Two examples follow. Saturation: an input (or
# pre-activation) of 10 passes on only $\sigma'(10) \approx 4.5 \times 10^{-5}$ of its gradient,
# which happens when weights or inputs are large. Depth: by the chain rule the derivative of
# $\sigma(\sigma(\cdots\sigma(x)))$ ($L$ times) is the product of $L$ factors $\le 1/4$, so at
# most $4^{-L}$; in a sigmoid MLP, the gradient reaching layer $k$ is multiplied by
# $\mathrm{diag}(\sigma'(\mathbf{z}))\mathbf{W}^\top$ once per layer above it, and unless the
# weights are large (which saturates the units) each factor shrinks it. Below: both, by
# `jax.grad`.
#
# </details>

# %%
points = (0.0, 2.0, 5.0, 10.0)
sigmoid_grad = dict(zip(points, jax.jit(derivative(sigmoid))(jnp.array(points)).tolist(),
                        strict=True))
print("sigmoid'(x):", {k: f"{g:.2e}" for k, g in sigmoid_grad.items()})


def sigmoid_chain(x: jax.Array, depth: int = 30) -> jax.Array:
    """sigma applied 1, 2, ..., depth times to the scalar x: (depth,), a loop (lax.scan)."""
    def layer(h, _):
        h = sigmoid(h)
        return h, h
    return jax.lax.scan(layer, x, length=depth)[1]


depths = np.arange(1, 31)
chain_grads = np.asarray(jax.jit(jax.jacfwd(sigmoid_chain))(0.0), np.float64)
bound = 0.25**depths
# The bound is exact math; each computed product of L factors carries a relative rounding
# error of at most L u (u = eps / 2), so it may exceed 4^-L by at most that.
chain_ok = bool(np.all(chain_grads <= bound * (1 + depths * EPS32 / 2)))
print(f"d/dx sigma^L(x) at x = 0: L = 1: {chain_grads[0]:.4f}, L = 10: {chain_grads[9]:.2e}, "
      f"L = 30: {chain_grads[29]:.2e}; all <= 4^-L: {chain_ok}")

# %% [markdown]
# And a sigmoid MLP with 12 hidden layers of 64 units, weights $\mathcal{N}(0, 1/64)$, on a
# random batch: the norm of the loss's gradient with respect to each layer's weights, by
# `jax.grad`, beside the same network with ReLU.

# %%
@jax.jit
def layer_gradient_norms(params: dict, X: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    """||dL/dW_k|| for each layer k of the mlp, with sigmoid and with ReLU; L the squared loss."""
    norms = {}
    for name, activation in (("sigmoid", sigmoid), ("relu", relu)):
        grads = jax.grad(lambda p, f=activation: jnp.mean(
            (mlp.apply(p, X, activation=f) - y) ** 2) / 2)(params)
        norms[name] = jnp.stack([jnp.linalg.norm(grads[f"W{i}"])
                                 for i in range(1, len(params) // 2 + 1)])
    return norms


width, num_hidden_layers = 64, 12
deep_params = jax.tree.map(jnp.float32, random_mlp(
    (width,) * (num_hidden_layers + 1) + (1,), sigma=width**-0.5, bias_sigma=0.0))
X_deep, y_deep = rng.standard_normal((128, width)), rng.standard_normal((128, 1))
layer_norms = {name: norms.tolist() for name, norms in layer_gradient_norms(
    deep_params, jnp.asarray(X_deep, jnp.float32), jnp.asarray(y_deep, jnp.float32)).items()}
print(f"||dL/dW_k||, k = 1 (input side) .. {num_hidden_layers + 1} (output):")
for name, norms in layer_norms.items():
    print(f"  {name:7s} " + " ".join(f"{g:.1e}" for g in norms))
print("first / last:", {name: f"{norms[0] / norms[-1]:.1e}" for name, norms in layer_norms.items()})

# %%
fig, (ax_chain, ax_mlp) = plt.subplots(1, 2, figsize=(10, 3.4))
ax_chain.semilogy(depths, chain_grads, "o", ms=3, label="jax.grad of sigma^L at 0")
ax_chain.semilogy(depths, bound, "k--", label="bound 4^-L")
ax_chain.set(xlabel="depth L", ylabel="derivative", title="sigmoid applied L times")
ax_chain.legend(loc="upper right")
layers = np.arange(1, num_hidden_layers + 2)
for name, norms in layer_norms.items():
    ax_mlp.semilogy(layers, norms, "o-", label=name)
ax_mlp.set(xlabel="layer k (1 = input side)", ylabel="||dL/dW_k||",
           title=f"{num_hidden_layers}-hidden-layer MLP, width {width}")
ax_mlp.legend(loc="lower right")
for ax in (ax_chain, ax_mlp):
    ax.grid(alpha=0.3)
fig.tight_layout()
run.show(fig, "vanishing_gradients.png")
answers["7"] = {
    "sigmoid_grad": {str(k): g for k, g in sigmoid_grad.items()},
    "chain_grads": chain_grads, "chain_within_bound": chain_ok,
    "mlp_layer_grad_norms": layer_norms,
    "sigmoid_first_over_last": layer_norms["sigmoid"][0] / layer_norms["sigmoid"][-1],
    "relu_first_over_last": layer_norms["relu"][0] / layer_norms["relu"][-1],
}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The derivative of sigmoid is 1/4 at 0 and $4.5 \times 10^{-5}$ at 10; through 30 sigmoids it
# stays below $4^{-L}$ at every depth (left). In the deep sigmoid MLP the gradient shrinks
# layer by layer towards the input (right): the first layer's is the printed fraction of the
# last one's, while the ReLU network's gradients keep their size, because ReLU passes the
# gradient of every active unit with factor 1.
#
# </details>

# %%
run.save_metrics({"answers": answers})
