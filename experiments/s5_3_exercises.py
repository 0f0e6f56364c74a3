# %% [markdown]
# # 5.3 Exercises: Forward Propagation, Backward Propagation, and Computational Graphs
#
# The exercises at the end of d2l section 5.3, answered in JAX. Try each one first: every
# written answer is folded under "Answer", and what a check's output shows under "What the
# check shows" (click to unfold); code and outputs stay visible.
# The section's network is `jaxhw.backprop`: one hidden layer, $\phi = \tanh$, no biases, an
# L2 penalty, its backward pass written out by hand (the section's notebook checks it against
# `jax.grad`). Checks that compare two exact formulas run in float64 (`jax.enable_x64`), where
# only rounding of order $10^{-16}$ can separate them.

# %% tags=["parameters"]
quick = False  # smoke run (nothing here is heavy: the same sizes in both modes)
seed = 0  # seed of the random weights and data (numpy's generator)
out_dir = "results/5.3-exercises"  # where the figures and metrics.json go

# %%
import inspect
import io
import math
from contextlib import redirect_stdout
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from jax.ad_checkpoint import print_saved_residuals
from jax.flatten_util import ravel_pytree

from jaxhw import backprop, notebook
from jaxhw.models import mlp
from jaxhw.nn.losses import cross_entropy
from jaxhw.nn.softmax import softmax
from jaxhw.vectorization import best_time

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)  # numpy draws: nothing to compile for small arrays


def book_network(n: int, d: int, h: int, q: int, bias: bool = False) -> tuple[dict, np.ndarray,
                                                                           np.ndarray]:
    """Random float64 weights of the section's network (W1 (h, d), W2 (q, h), and b1 (h,) if
    `bias`), inputs X (n, d) and labels y (n,)."""
    params = {"W1": rng.standard_normal((h, d)) / math.sqrt(d),
              "W2": rng.standard_normal((q, h)) / math.sqrt(h)}
    if bias:
        params["b1"] = 0.5 * rng.standard_normal(h)
    return params, rng.standard_normal((n, d)), rng.integers(0, q, n)


def relative_gap(a: dict, b: dict) -> float:
    """max |a - b| over every entry of two gradient pytrees, over the largest |b|."""
    gaps = [float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in b]
    return max(gaps) / max(float(np.abs(np.asarray(b[k])).max()) for k in b)


# %% [markdown]
# ### Exercise 1 — the shape of the gradient of a scalar f of an n × m matrix X
#
# <details><summary>Answer</summary>
#
# $n \times m$, the shape of $\mathbf{X}$: the gradient has one partial derivative
# $\partial f / \partial x_{ij}$ per entry of $\mathbf{X}$, and arranging them as $\mathbf{X}$ is
# arranged makes the first-order change $f(\mathbf{X} + \mathbf{E}) - f(\mathbf{X}) \approx
# \sum_{ij} (\nabla f)_{ij} e_{ij}$ an elementwise product. For example
# $f(\mathbf{X}) = \mathrm{tr}(\mathbf{A}^\top \mathbf{X}) = \sum_{ij} a_{ij} x_{ij}$ has gradient
# $\mathbf{A}$. For a vector-valued $\mathbf{f}: \mathbb{R}^{n \times m} \to \mathbb{R}^k$ the
# Jacobian has shape $k \times n \times m$.
#
# </details>

# %%
n, m, k = 4, 3, 2
A = rng.standard_normal((n, m))
X = rng.standard_normal((n, m))
params, X_book, y_book = book_network(8, 5, 6, 3)
with jax.enable_x64(True):
    grad_trace = jax.jit(jax.grad(lambda X: jnp.trace(A.T @ X)))(X)
    shapes = {  # jax.eval_shape: the shape each would have, without computing it
        "grad of tr(A^T X)": grad_trace.shape,
        "jacobian of tr(A^T X)": jax.eval_shape(jax.jacobian(lambda X: jnp.trace(A.T @ X)),
                                                X).shape,
        "jacobian of X -> (sum X, sum X^2) (k = 2)": jax.eval_shape(jax.jacobian(
            lambda X: jnp.stack([X.sum(), (X**2).sum()])), X).shape,
        "grad of the section's J in X (8 x 5)": jax.eval_shape(
            jax.grad(backprop.objective, argnums=1), params, X_book, y_book, 0.01).shape,
    }
trace_gap = float(np.abs(np.asarray(grad_trace) - A).max())
for name, shape in shapes.items():
    print(f"{name}: {shape}")
print(f"grad of tr(A^T X) equals A: max gap {trace_gap:.1e}")
answers["1"] = {"shapes": {k: list(v) for k, v in shapes.items()}, "trace_grad_gap": trace_gap}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The gradient has $\mathbf{X}$'s shape $(4, 3)$, `jax.jacobian` of a scalar function gives the
# same, and a function with $k = 2$ outputs has a $(2, 4, 3)$ Jacobian. The gradient of
# $\mathrm{tr}(\mathbf{A}^\top \mathbf{X})$ is exactly $\mathbf{A}$.
#
# </details>

# %% [markdown]
# ### Exercise 2.1 — the computational graph with a bias in the hidden layer
# The section's network with a bias: $\mathbf{z} = \mathbf{W}^{(1)}\mathbf{x} + \mathbf{b}^{(1)}$,
# $\mathbf{h} = \phi(\mathbf{z})$, $\mathbf{o} = \mathbf{W}^{(2)}\mathbf{h}$,
# $L = l(\mathbf{o}, y)$, $s = \frac{\lambda}{2}(\|\mathbf{W}^{(1)}\|_F^2 +
# \|\mathbf{W}^{(2)}\|_F^2)$ (no bias in the penalty), $J = L + s$. As in the book's figure,
# squares are variables and circles operators; the input is at the lower left, the objective at
# the upper right; the new parts are in orange.

# %%
def forward_with_bias(params: dict, X: jax.Array, y: jax.Array,
                      lam: float) -> tuple[jax.Array, backprop.Saved]:
    """J for X (n, d), y (n,) with a hidden bias b1 (h,), and what the backward pass needs."""
    Z = X @ params["W1"].T + params["b1"]  # z = W1 x + b1, a row per example
    H = jnp.tanh(Z)
    logits = H @ params["W2"].T  # the book's o
    J = cross_entropy(logits, y) + backprop.penalty(params, lam)  # penalty: W1 and W2 only
    return J, backprop.Saved(X, H, softmax(logits))


# %%
print(inspect.getsource(backprop.penalty))

# %%
nodes = {  # name: (x, y, shape, new with the bias)
    "x": (0, 0, "square", False), "×": (1, 0, "circle", False), "W1": (1, 1, "square", False),
    "W1 x": (2, 0, "square", True), "+ ": (3, 0, "circle", True), "b1": (3, 1, "square", True),
    "z": (4, 0, "square", False), "φ": (5, 0, "circle", False), "h": (6, 0, "square", False),
    "× ": (7, 0, "circle", False), "W2": (7, 1, "square", False), "o": (8, 0, "square", False),
    "l": (9, 0, "circle", False), "y": (9, 1, "square", False), "L": (10, 0, "square", False),
    "λ/2 ‖·‖²": (6, 2.2, "circle", False), "s": (10, 2.2, "square", False),
    "+": (11, 1.1, "circle", False), "J": (12, 1.1, "square", False),
}
edges = [("x", "×"), ("W1", "×"), ("×", "W1 x"), ("W1 x", "+ "), ("b1", "+ "), ("+ ", "z"),
         ("z", "φ"), ("φ", "h"), ("h", "× "), ("W2", "× "), ("× ", "o"), ("o", "l"), ("y", "l"),
         ("l", "L"), ("L", "+"), ("W1", "λ/2 ‖·‖²"), ("W2", "λ/2 ‖·‖²"), ("λ/2 ‖·‖²", "s"),
         ("s", "+"), ("+", "J")]
fig, ax = plt.subplots(figsize=(11, 3))
for name, (x, y, shape, new) in nodes.items():
    ax.text(x, y, name.strip(), ha="center", va="center", fontsize=11, zorder=3,
            bbox={"boxstyle": "square,pad=0.4" if shape == "square" else "circle,pad=0.25",
                  "fc": "#fde3c8" if new else "white", "ec": "C1" if new else "black"})
for a, b in edges:
    ax.annotate("", xy=nodes[b][:2], xytext=nodes[a][:2], zorder=2,
                arrowprops={"arrowstyle": "->", "shrinkA": 14, "shrinkB": 14, "lw": 1.2,
                            "color": "C1" if "b1" in (a, b) or "W1 x" in (a, b) else "black"})
ax.set(xlim=(-0.6, 12.6), ylim=(-0.6, 2.8), title="forward graph with a hidden bias b1 "
       "(squares: variables, circles: operators)")
ax.axis("off")
run.show(fig, "graph_with_bias.png")

# %% [markdown]
# The graph JAX itself records is the jaxpr of the forward pass. Following the bias's input
# variable through it shows where $\mathbf{b}^{(1)}$ enters: broadcast over the minibatch, added
# to the product, then into $\tanh$.

# %%
params_b, X_b, y_b = book_network(16, 8, 6, 3, bias=True)
graph = jax.make_jaxpr(lambda p, X, y: forward_with_bias(p, X, y, 0.01)[0])(params_b, X_b, y_b)
variable = graph.jaxpr.invars[list(params_b).index("b1")]  # params' leaves in dict order
path = []
for eqn in graph.jaxpr.eqns:
    if variable in eqn.invars:
        path.append(eqn.primitive.name)
        variable = eqn.outvars[0]
        if eqn.primitive.name == "tanh":
            break
print(f"{len(graph.jaxpr.eqns)} operations in the forward jaxpr; b1 flows through: "
      + " -> ".join(path))
answers["2.1"] = {"bias_path": path, "num_operations": len(graph.jaxpr.eqns)}

# %% [markdown]
# ### Exercise 2.2 — the forward and backward equations with the bias
#
# <details><summary>Answer</summary>
#
# Forward, for one example $\mathbf{x} \in \mathbb{R}^d$:
# $$\mathbf{z} = \mathbf{W}^{(1)}\mathbf{x} + \mathbf{b}^{(1)}, \quad \mathbf{h} = \phi(\mathbf{z}),
# \quad \mathbf{o} = \mathbf{W}^{(2)}\mathbf{h}, \quad L = l(\mathbf{o}, y),$$
# $$s = \frac{\lambda}{2}\left(\|\mathbf{W}^{(1)}\|_F^2 + \|\mathbf{W}^{(2)}\|_F^2\right),
# \quad J = L + s.$$
# Backward, from $J$ to the parameters, as in the section; only the last line is new:
# $$\frac{\partial J}{\partial \mathbf{o}} = \frac{\partial L}{\partial \mathbf{o}}, \quad
# \frac{\partial J}{\partial \mathbf{W}^{(2)}} = \frac{\partial J}{\partial \mathbf{o}}
# \mathbf{h}^\top + \lambda \mathbf{W}^{(2)}, \quad
# \frac{\partial J}{\partial \mathbf{h}} = {\mathbf{W}^{(2)}}^\top
# \frac{\partial J}{\partial \mathbf{o}},$$
# $$\frac{\partial J}{\partial \mathbf{z}} = \frac{\partial J}{\partial \mathbf{h}} \odot
# \phi'(\mathbf{z}), \quad \frac{\partial J}{\partial \mathbf{W}^{(1)}} =
# \frac{\partial J}{\partial \mathbf{z}} \mathbf{x}^\top + \lambda \mathbf{W}^{(1)}, \quad
# \frac{\partial J}{\partial \mathbf{b}^{(1)}} = \frac{\partial J}{\partial \mathbf{z}}.$$
# The bias enters $\mathbf{z}$ with Jacobian $\mathbf{I}$, so its gradient is the gradient at
# $\mathbf{z}$, with no penalty term since it is not regularised. The other formulas do not
# change (the bias changes the values of $\mathbf{z}$ and $\mathbf{h}$, not how the gradients
# are formed from them). For a minibatch of $n$ rows and the mean loss,
# $\partial L / \partial \mathbf{o} = (\mathrm{softmax}(\mathbf{o}) - \mathbf{y})/n$ per row for
# the softmax cross-entropy, the products with $\mathbf{x}^\top$ and $\mathbf{h}^\top$ sum over
# the rows, and $\partial J / \partial \mathbf{b}^{(1)}$ is the column sum of
# $\partial J / \partial \mathbf{Z}$. With $\phi = \tanh$, $\phi'(\mathbf{z}) = 1 - \mathbf{h}^2$.
#
# </details>

# %%
def backward_with_bias(params: dict, saved: backprop.Saved, y: jax.Array, lam: float) -> dict:
    """dJ/dW1, dJ/db1, dJ/dW2 by the equations above, from what forward_with_bias saved."""
    X, H, P = saved
    n, q = P.shape
    dO = (P - jax.nn.one_hot(y, q, dtype=P.dtype)) / n  # dJ/do, for the mean loss
    dW2 = dO.T @ H + lam * params["W2"]                   # dJ/dW2 = dJ/do h^T + lambda W2
    dH = dO @ params["W2"]                                # dJ/dh = W2^T dJ/do
    dZ = dH * (1 - H**2)                                  # dJ/dz = dJ/dh * phi'(z)
    return {"W1": dZ.T @ X + lam * params["W1"],          # dJ/dW1 = dJ/dz x^T + lambda W1
            "b1": dZ.sum(axis=0),                         # dJ/db1 = dJ/dz, summed over rows
            "W2": dW2}


# %% [markdown]
# Against `jax.grad` of the objective, and, with $\mathbf{b}^{(1)} = 0$, against the section's
# hand-written backward pass (`backprop.grads_by_hand`, the model without a bias), in float64:

# %%
lam = 0.01
params_b, X_b, y_b = book_network(32, 20, 16, 5, bias=True)


@jax.jit
def gradients_four_ways(params: dict, X: jax.Array, y: jax.Array) -> dict[str, dict]:
    """The gradients by the equations above and by jax.grad, and, with b1 = 0, by the equations
    and by the section's backward pass (the model without a bias)."""
    def by_hand(p):
        return backward_with_bias(p, forward_with_bias(p, X, y, lam)[1], y, lam)
    zero_bias = {**params, "b1": jnp.zeros_like(params["b1"])}
    return {"by hand": by_hand(params),
            "jax.grad": jax.grad(lambda p: forward_with_bias(p, X, y, lam)[0])(params),
            "by hand, b1 = 0": by_hand(zero_bias),
            "section": backprop.grads_by_hand({k: params[k] for k in ("W1", "W2")}, X, y, lam)}


with jax.enable_x64(True):
    grads = jax.device_get(gradients_four_ways(params_b, X_b, y_b))
hand, auto, hand_zero, section = (grads[k] for k in ("by hand", "jax.grad", "by hand, b1 = 0",
                                                     "section"))
gap_vs_jax = relative_gap(hand, auto)
gap_vs_section = relative_gap({k: hand_zero[k] for k in ("W1", "W2")}, section)
print(f"by hand vs jax.grad, W1 {hand['W1'].shape}, b1 {hand['b1'].shape}, W2 "
      f"{hand['W2'].shape}: relative gap {gap_vs_jax:.1e}")
print(f"with b1 = 0, vs the section's backprop.grads_by_hand: relative gap {gap_vs_section:.1e}")
answers["2.2"] = {"gap_vs_jax_grad": gap_vs_jax, "gap_vs_section_b1_zero": gap_vs_section,
                  "shapes": {k: list(v.shape) for k, v in hand.items()}}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The hand-derived gradients agree with `jax.grad` to float64 rounding, including the new
# $\partial J / \partial \mathbf{b}^{(1)}$, and with a zero bias they reproduce the section's
# backward pass.
#
# </details>

# %% [markdown]
# ### Exercise 3 — the memory footprint of training and of prediction
# The section's network at the sizes of 5.2's MLP (784 inputs, 256 hidden units, 10 classes),
# a minibatch of 256, float32 (4 bytes a number), SGD (no optimizer state).
#
# <details><summary>Answer</summary>
#
# Prediction keeps the weights and, at any moment, one layer's input and output: it reads
# $\mathbf{X}$, computes $\mathbf{H}$ (after which $\mathbf{X}$ may go), then $\mathbf{O}$. Its
# peak is the weights plus the largest pair of neighbouring activations, independent of depth.
# Training keeps, in addition, everything the backward pass reads until it has read it: here
# $\mathbf{X}$, $\mathbf{H}$ (enough for $\phi' = 1 - \mathbf{h}^2$), the softmax
# probabilities $\mathbf{P}$ and the labels, i.e. every layer's activations (so it grows with
# depth times batch size), plus the gradients (as large as the weights) and the backward
# pass's own temporaries ($\partial J/\partial \mathbf{O}$, $\partial J/\partial \mathbf{H}$);
# momentum would add one more copy of the weights, Adam two. The table counts each array; XLA's
# own account of the compiled programs (`memory_analysis()`: arguments, outputs, and the
# temporaries it allocates) follows.
#
# </details>

# %%
n, d, h, q = 256, 784, 256, 10
arrays = {  # name: (numbers, kept for prediction, kept for training)
    "W1 (h x d)": (h * d, True, True), "W2 (q x h)": (q * h, True, True),
    "X (n x d)": (n * d, True, True), "H (n x h)": (n * h, True, True),
    "O or P (n x q)": (n * q, True, True), "labels y (n)": (n, False, True),
    "dJ/dW1, dJ/dW2": (h * d + q * h, False, True),
    "dJ/dO (n x q)": (n * q, False, True), "dJ/dH, then dJ/dZ (n x h)": (n * h, False, True),
}
print(f"{'array':26s} {'bytes':>10s}  prediction  training")
for name, (numbers, predict, train) in arrays.items():
    print(f"{name:26s} {4 * numbers:10,d}  {'yes' if predict else '':10s}  "
          f"{'yes' if train else ''}")
prediction_peak = 4 * (h * d + q * h + n * d + n * h)  # weights, X and H while H is computed
training_total = 4 * sum(numbers for numbers, _, train in arrays.values() if train)
print(f"prediction peak {prediction_peak:,} bytes; training, everything at once "
      f"{training_total:,} bytes ({training_total / prediction_peak:.2f}x)")

# %%
params32 = jax.tree.map(jnp.float32, book_network(1, d, h, q)[0])
X32 = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
y32 = jnp.asarray(rng.integers(0, q, n))


def predict(params: dict, X: jax.Array) -> jax.Array:
    """The section's network's logits O (n, q) for X (n, d)."""
    return jnp.tanh(X @ params["W1"].T) @ params["W2"].T


compiled = {
    "prediction": jax.jit(predict).lower(params32, X32).compile(),
    "training step": jax.jit(jax.value_and_grad(backprop.objective)).lower(
        params32, X32, y32, lam).compile(),
}
xla_memory = {}
for name, program in compiled.items():
    stats = program.memory_analysis()
    xla_memory[name] = {"arguments": stats.argument_size_in_bytes,
                        "outputs": stats.output_size_in_bytes,
                        "temporaries": stats.temp_size_in_bytes}
    xla_memory[name]["total"] = sum(xla_memory[name].values())
    print(f"{name:13s} XLA: arguments {stats.argument_size_in_bytes:>9,}  outputs "
          f"{stats.output_size_in_bytes:>9,}  temporaries {stats.temp_size_in_bytes:>9,}  total "
          f"{xla_memory[name]['total']:>9,} bytes")
xla_ratio = xla_memory["training step"]["total"] / xla_memory["prediction"]["total"]
print(f"training step / prediction by XLA's account: {xla_ratio:.2f}x")
answers["3"] = {"bytes": {k: 4 * v[0] for k, v in arrays.items()},
                "prediction_peak": prediction_peak, "training_total": training_total,
                "xla": xla_memory, "xla_ratio": xla_ratio}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# By the count, training needs the printed multiple of prediction's memory at this batch size;
# the weights (0.8 MB) and the input batch (0.8 MB) dominate both, and training adds the
# gradients and the activations kept for the backward pass. XLA's account of the compiled
# programs agrees in kind: both take the weights and the batch as arguments; prediction's
# temporaries are about one n x h activation and it returns only the logits, while the training
# step returns a gradient as large as the weights. XLA reuses buffers within the step (the
# backward temporaries share memory with activations no longer needed), so its total lies
# below the array-by-array count. With more layers or larger batches the kept activations grow
# in training (in proportion to depth times batch size), while prediction's peak stays at the
# largest neighbouring pair of activations.
#
# </details>

# %% [markdown]
# ### Exercise 4 — second derivatives: what happens to the graph, and how long they take
#
# <details><summary>Answer</summary>
#
# Reverse mode turns the forward graph into a backward graph built from the forward's stored
# intermediates and each operator's derivative rule; the gradient is then an ordinary function
# with its own graph, about twice the forward's size. A second derivative differentiates that
# graph again: the graph grows again (derivatives of the derivative rules, such as
# $\phi''(\mathbf{z})$, appear) and its intermediates must be stored too. The cost depends on
# what is asked for. A Hessian–vector product $\mathbf{H}\mathbf{v}$, one directional derivative
# of the gradient (forward mode over reverse mode), costs a small constant multiple of one
# gradient, a few forward passes' worth. The full Hessian of $p$ parameters is $p$ such
# products: $p$ times the cost of a gradient, and $p^2$ numbers of memory, which is why
# training uses gradients only (or Hessian–vector products, or diagonal and low-rank
# approximations). Below: the operation counts of each jaxpr, the time of each derivative, and
# checks that $\mathbf{H}\mathbf{v}$ equals the full Hessian times $\mathbf{v}$ and that the
# Hessian is symmetric.
#
# </details>

# %%
params_h, X_h, y_h = book_network(32, 12, 10, 4)
with jax.enable_x64(True):
    w, unravel = ravel_pytree(params_h)  # p = 10 * 12 + 4 * 10 = 160 parameters

    def J(w):
        return backprop.objective(unravel(w), X_h, y_h, lam)

    def hvp(w, v):
        return jax.jvp(jax.grad(J), (w,), (v,))[1]

    programs = {"J": (J, (w,)), "grad J": (jax.grad(J), (w,)), "Hv": (hvp, (w, w)),
                "Hessian": (jax.hessian(J), (w,))}
    second, jitted = {"parameters": int(w.size)}, {}
    for name, (fn, args) in programs.items():
        second[name] = {"operations": len(jax.make_jaxpr(fn)(*args).eqns)}
        if name != "J":  # timed against the gradient
            jitted[name] = jax.jit(fn)
            second[name]["us"] = best_time(
                partial(jitted[name], *args), repeat=3 if name == "Hessian" else 10, warmup=1) * 1e6
    v = rng.standard_normal(w.size)
    H_full = np.asarray(jitted["Hessian"](w))
    Hv = np.asarray(jitted["Hv"](w, v))
second["hvp_vs_hessian_gap"] = float(np.abs(Hv - H_full @ v).max() / np.abs(H_full @ v).max())
second["hessian_asymmetry"] = float(np.abs(H_full - H_full.T).max() / np.abs(H_full).max())
second["hessian_shape"] = list(H_full.shape)
for name in programs:
    timing = "" if name == "J" else (
        f", {second[name]['us']:9.1f} us ({second[name]['us'] / second['grad J']['us']:6.1f}x "
        "the gradient)")
    print(f"{name:8s} {second[name]['operations']:4d} operations in its jaxpr" + timing)
print(f"p = {w.size}: Hessian {H_full.shape}; |Hv - H v| / |H v| = "
      f"{second['hvp_vs_hessian_gap']:.1e}; asymmetry {second['hessian_asymmetry']:.1e}")
answers["4"] = second

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# Each derivative's jaxpr is about twice the size of the function it differentiates: the gradient's
# is about twice the objective's, the Hessian–vector product's about twice the gradient's. The
# Hessian–vector product takes about a gradient's time, at most a small multiple of it (printed),
# while the full Hessian of these 160 parameters takes the printed multiple, since it computes all
# $p = 160$ Hessian–vector products, although its jaxpr is not much longer than one product's:
# `jax.hessian` maps that product over all $p$ directions with `vmap`, so every operation works on
# $p$ times more numbers, which the operation count does not see but the time does. The product
# agrees with the full Hessian times $\mathbf{v}$ and the Hessian is symmetric, both to float64
# rounding.
#
# </details>

# %% [markdown]
# ### Exercise 5.1 — a graph too large for one GPU: can it be partitioned over several?
#
# <details><summary>Answer</summary>
#
# Yes, in several ways, each paying in communication. *Pipeline parallelism* puts consecutive
# layers on different devices; activations flow forward and their gradients backward across
# the cut, and splitting the minibatch into micro-batches keeps all devices busy (GPipe,
# 1F1B schedules) except for a "bubble" at the start and end. *Tensor (model) parallelism*
# splits each large matrix, e.g. the columns of $\mathbf{W}^{(1)}$ over devices, so each
# computes part of $\mathbf{z}$ and the devices exchange partial results (all-gather,
# all-reduce) every layer; it needs fast links. *Sharding parameters, gradients and optimizer
# state* over the data-parallel devices (ZeRO, FSDP) keeps one copy of everything in total
# instead of one per device, gathering each layer's weights just before use. Data parallelism
# alone (`fit(..., mesh=...)` in jaxhw: each device a slice of the batch, the weights
# replicated) does not help when the model itself does not fit. In JAX all of these are
# shardings of the same program (`jax.sharding`, `shard_map`), which XLA partitions and fills
# with the communication.
#
# </details>

# %% [markdown]
# ### Exercise 5.2 — its advantages and disadvantages against training on a smaller minibatch
#
# <details><summary>Answer</summary>
#
# A smaller minibatch shrinks only the activations, which grow with the batch size; the
# weights, their gradients and the optimizer state stay, so it cannot help when those
# alone do not fit. It needs no extra hardware or communication, but it changes the training:
# noisier gradients, a learning rate to retune, batch statistics (batch normalisation) from
# fewer examples, and less parallel work per step, so poorer use of the device. Keeping the
# large batch's gradient while holding a small batch's activations is *gradient accumulation*:
# sum the gradients of $k$ micro-batches, then take one step. It gives exactly the large
# batch's update (below) at $k$ sequential passes' time. Partitioning over several devices
# instead keeps the batch and the optimisation unchanged, fits models no single device can
# hold, and adds compute, but costs communication, engineering and idle time (pipeline
# bubbles). A third option on one device is *rematerialisation* (`jax.checkpoint`): store less
# of the forward pass and recompute it during the backward pass, trading compute for memory
# (below).
#
# </details>

# %% [markdown]
# Gradient accumulation on the section's network (float64): the gradient of $J$ on a minibatch
# of 256 against the mean of the gradients on its 4 micro-batches of 64 (the penalty is in each
# micro-batch's $J$, so the mean keeps it once). The activations the backward pass keeps, by the
# count of exercise 3, shrink with the micro-batch.

# %%
params_a, X_a, y_a = book_network(256, 784, 256, 10)


@jax.jit
def full_and_accumulated(params: dict, X: jax.Array, y: jax.Array) -> tuple[dict, dict]:
    """dJ/dparams on the batch X (n, d), y (n,), and the mean of the gradients on its 4
    micro-batches of n / 4 consecutive rows."""
    grad_J = jax.grad(backprop.objective)
    micro = jax.vmap(lambda Xm, ym: grad_J(params, Xm, ym, lam))(
        X.reshape(4, -1, X.shape[1]), y.reshape(4, -1))
    return grad_J(params, X, y, lam), jax.tree.map(lambda g: g.mean(axis=0), micro)


with jax.enable_x64(True):
    full, accumulated = jax.device_get(full_and_accumulated(params_a, X_a, y_a))
accumulation_gap = relative_gap(accumulated, full)
kept = {batch: 4 * batch * (d + h + q) for batch in (256, 64)}  # X, H, P per the count above
print(f"mean of 4 micro-batch gradients vs the full batch's: relative gap {accumulation_gap:.1e}")
print(f"activations kept for the backward pass: batch 256 {kept[256]:,} bytes, micro-batch 64 "
      f"{kept[64]:,} bytes")

# %% [markdown]
# Rematerialisation with `jax.checkpoint`: an MLP with 8 tanh layers of 256 units on 1,024
# examples. What reverse mode stores between the forward and the backward pass (the arrays
# `print_saved_residuals` lists, besides the weights and the data), and the work of one step
# (value and gradient) by XLA's cost analysis, without and with the whole loss checkpointed.

# %%
widths = (256,) * 9 + (10,)
deep = {}
for i in range(1, len(widths)):
    deep[f"W{i}"] = jnp.asarray(rng.standard_normal((widths[i - 1], widths[i])) / 16, jnp.float32)
    deep[f"b{i}"] = jnp.zeros(widths[i])
X_d = jnp.asarray(rng.standard_normal((1024, 256)), jnp.float32)
y_d = jnp.asarray(rng.integers(0, 10, 1024))


def deep_loss(params: dict) -> jax.Array:
    """The mean cross-entropy of the tanh MLP on the fixed batch (X_d, y_d)."""
    return cross_entropy(mlp.apply(params, X_d, activation=jnp.tanh), y_d)


def stored_activations(f, params: dict) -> list[str]:
    """The arrays reverse mode stores for f's backward pass, other than its inputs."""
    out = io.StringIO()
    with redirect_stdout(out):
        print_saved_residuals(f, params)
    return [line for line in out.getvalue().splitlines()
            if line.strip() and "argument" not in line and "constant" not in line]


def array_bytes(line: str) -> int:
    """Bytes of an array described as 'f32[1024,256] ...' (f32, i32: 4 bytes; bool: 1)."""
    dtype, dims = line.split()[0].rstrip("]").split("[")
    return {"f32": 4, "i32": 4, "bool": 1}[dtype] * math.prod(int(s) for s in dims.split(",") if s)


remat = {}
for name, f in (("plain", deep_loss), ("jax.checkpoint", jax.checkpoint(deep_loss))):
    stored = stored_activations(f, deep)
    cost = jax.jit(jax.value_and_grad(f)).lower(deep).compile().cost_analysis()
    remat[name] = {"stored_arrays": len(stored), "stored_bytes": sum(map(array_bytes, stored)),
                   "gflop": cost["flops"] / 1e9}
    print(f"{name:14s} stores {len(stored):2d} arrays, {remat[name]['stored_bytes']:>10,} bytes; "
          f"{remat[name]['gflop']:.2f} GFLOP per step")
flop_ratio = remat["jax.checkpoint"]["gflop"] / remat["plain"]["gflop"]
print(f"checkpointing: {flop_ratio:.2f}x the work")
answers["5.2"] = {"accumulation_gap": accumulation_gap, "kept_bytes": kept, "remat": remat,
                  "remat_flop_ratio": flop_ratio}

# %% [markdown]
# <details><summary>What the check shows</summary>
#
# The accumulated gradient is the full batch's, to float64 rounding, while the micro-batch
# keeps a quarter of the activations. Without checkpointing, reverse mode stores two arrays of
# 1,024 x 256 per hidden layer (its output $\mathbf{h}$ and $1 - \mathbf{h}^2$) and a few small
# ones for the loss; with the whole loss checkpointed it stores none of them, and the step does
# about one more forward pass of work, the printed ratio. This is the extreme case, and all
# activations are still recomputed at once during the backward pass; checkpointing segments
# of layers instead (`jax.checkpoint` on each block) keeps only the segments' inputs between
# the passes, and $\sqrt{L}$ segments of $L$ layers store $O(\sqrt{L})$ activations for about one
# extra forward pass (Chen et al., 2016).
#
# </details>

# %%
run.save_metrics({"answers": answers})
