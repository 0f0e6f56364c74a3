# %% [markdown]
# # 2.5 Exercises: Automatic Differentiation
#
# The exercises at the end of d2l section 2.5, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Several exercises are phrased for PyTorch's `backward()`, which stores gradients on tensors.
# In JAX a gradient is a function (`jax.grad(f)`), so these answers show what JAX does instead
# and how it differs. Operation counts come from XLA's analysis of the compiled programs
# (`cost_analysis`, `memory_analysis`); timings are printed only.

# %% tags=["parameters"]
quick = False  # smoke run: exercise 1 up to n = 128 (not 512); exercise 8 at width 64, depth 8
seed = 0  # PRNG seed for the random inputs
out_dir = "results/2.5-exercises"  # where the figures and metrics.json go

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxhw import notebook
from jaxhw.autodiff import control_flow_f, vjp_with_ones
from jaxhw.board import plot
from jaxhw.vectorization import best_time

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)
F32_EPS = float(jnp.finfo(jnp.float32).eps)


# %%
def compiled(fn, *args):
    """`fn` compiled by XLA for `args`: its cost_analysis and memory_analysis say what it does."""
    return jax.jit(fn).lower(*args).compile()


def xla_flops(fn, *args):
    """XLA's count of floating-point operations of `fn` at `args`."""
    return compiled(fn, *args).cost_analysis()["flops"]


# %% [markdown]
# ### Exercise 1 — why is the second derivative much more expensive than the first?
#
# <details><summary>Answer</summary>
#
# Let $f: \mathbb{R}^n \to \mathbb{R}$ take $N$ operations. Reverse mode runs $f$ once,
# keeping its intermediates, then once backwards, each backward step costing a small multiple
# of its forward step, so the whole gradient $\nabla f$ costs $c N$ with a small constant $c$
# (about 2 to 4), *whatever* $n$ is. The second derivative of such an $f$ is the Hessian
# $\mathbf{H} = \nabla^2 f$, an $n \times n$ matrix. Autodiff gets it by differentiating the
# gradient program, itself $c N$ operations long and $n$ outputs wide: one Hessian-vector
# product $\mathbf{H}\mathbf{v}$ (forward mode through the gradient) costs another constant
# times $c N$, and the full Hessian needs $n$ of them:
#
# $$\mathrm{cost}(\mathbf{H}) \approx n \cdot c' \cdot \mathrm{cost}(\nabla f) = O(n N)$$
#
# So the first derivative is about as cheap as $f$, the second is $n$ times dearer; and the
# program being differentiated grows at every order (the backward pass of the backward pass),
# with its intermediates stored too. Even for a scalar $x$ ($n = 1$) the second derivative
# differentiates a program that is longer than $f$.
#
# </details>

# %% [markdown]
# Check with $f(\mathbf{x}) = \sum_i \tanh(\mathbf{W}\mathbf{x})_i$, $\mathbf{W}$ an
# $n \times n$ matrix, so $N \approx 2n^2$: XLA's FLOP counts for $f$, $\nabla f$
# (`jax.grad`) and the Hessian (`jax.hessian`), and the ratio Hessian / gradient, which the
# derivation says grows like $n$. The number of operations in each traced program (jaxpr
# equations) shows the program growing with the order.

# %%
def tanh_sum(W, x):
    """f(x) = sum(tanh(W x)): W (n, n), x (n,) -> scalar."""
    return jnp.sum(jnp.tanh(W @ x))


sizes = [16, 64, 128] if run.quick else [16, 64, 256, 512]
cost_rows = []
for n in sizes:
    W = jnp.asarray(rng.standard_normal((n, n), dtype=np.float32)) / np.sqrt(n)
    x = jnp.asarray(rng.standard_normal(n, dtype=np.float32))
    f = lambda x, W=W: tanh_sum(W, x)  # noqa: E731 (a closure over this n's W)
    counts = {name: xla_flops(fn, x) for name, fn in
              [("f", f), ("grad", jax.grad(f)), ("hessian", jax.hessian(f))]}
    cost_rows.append({"n": n, **counts, "hessian_over_grad": counts["hessian"] / counts["grad"]})
    print(f"n = {n:4d}: FLOPs f {counts['f']:>11,.0f}, grad {counts['grad']:>11,.0f}, "
          f"hessian {counts['hessian']:>14,.0f}; hessian / grad = "
          f"{counts['hessian'] / counts['grad']:7.1f}, "
          f"grad / f = {counts['grad'] / counts['f']:.2f}")
program_lengths = {name: len(jax.make_jaxpr(fn)(x).eqns) for name, fn in
                   [("f", f), ("grad", jax.grad(f)), ("hessian", jax.hessian(f))]}
print("operations in the traced programs:", program_lengths)

# %% [markdown]
# And the clock, at the largest $n$ (compiled first; best of 5 calls):

# %%
hessian_seconds = {}
for name, fn in [("f", f), ("grad", jax.grad(f)), ("hessian", jax.hessian(f))]:
    program = jax.jit(fn)
    hessian_seconds[name] = best_time(lambda program=program: program(x), repeat=5)
print({name: f"{s * 1e6:.0f} us" for name, s in hessian_seconds.items()})
answers["1"] = {"flops": cost_rows, "program_lengths": program_lengths,
                "seconds_at_largest_n": hessian_seconds}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The counts agree with the derivation: the gradient costs about twice $f$ at every size, while
# the Hessian / gradient ratio grows about as fast as $n$ (each step of $n$ in the table
# multiplies it by about the same factor). The traced program grows with the order too.
#
# </details>

# %% [markdown]
# ### Exercise 2 — run the backward pass again, right after the first: what happens?
#
# In PyTorch, `y.backward()` frees the graph's saved intermediates as it goes; a second call
# raises `RuntimeError: Trying to backward through the graph a second time ...` unless the
# first had `retain_graph=True`, and then the second call *adds* the gradient into `x.grad`
# again. JAX keeps no graph on the arrays. Here is what each JAX way of taking a gradient does
# when called twice, for the section's $y = 2\mathbf{x}^\top\mathbf{x}$.

# %%
def two_x_dot_x(x):
    """The section's y = 2 x.x: x (n,) -> scalar."""
    return 2 * jnp.dot(x, x)


x = jnp.arange(4.0)
grad_y = jax.grad(two_x_dot_x)
first, second = grad_y(x), grad_y(x)
print("jax.grad, called twice:", first, second, "; equal:", bool(jnp.array_equal(first, second)))

y, pullback = jax.vjp(two_x_dot_x, x)
(pull_first,), (pull_second,) = pullback(jnp.ones(())), pullback(jnp.ones(()))
print("jax.vjp's pullback, called twice:", pull_first, pull_second)
print("PyTorch's accumulated x.grad after two backward() with retain_graph=True, in JAX:",
      first + second)
answers["2"] = {"grad_first": first, "grad_second": second,
                "grad_twice_equal": bool(jnp.array_equal(first, second)),
                "pullback_twice_equal": bool(jnp.array_equal(pull_first, pull_second)),
                "pullback_equals_grad": bool(jnp.array_equal(pull_first, first)),
                "accumulated": first + second}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Nothing goes wrong in JAX, and nothing accumulates: `jax.grad(f)` is a new function, and each
# call traces `f` again, so the second call returns the same $4\mathbf{x}$ as the first (the
# printed check is `True`). The closest thing to PyTorch's recorded graph is `jax.vjp`: its
# `pullback` closure holds the saved intermediates (the residuals), like `retain_graph=True`,
# and may be called any number of times with the same result; they are freed when the closure
# is. PyTorch's accumulation of `x.grad` over two calls is, in JAX, an explicit sum of the two
# gradients (printed, $8\mathbf{x}$). So the PyTorch error guards memory (the intermediates
# are gone after the first backward), and the accumulation is a feature for summing
# losses; in JAX both are the caller's choice.
#
# </details>

# %% [markdown]
# ### Exercise 3 — the control-flow `f` of a vector or matrix `a`: what happens to the gradient?
#
# The section's `f` (`control_flow_f` in `jaxhw/autodiff.py`) doubles `a` until its norm
# reaches 1000 and multiplies by 100 when the sum is negative. With a vector `a`, `f(a)` is a
# vector, and `jax.grad` needs a scalar output:

# %%
a_vec = jnp.asarray(rng.standard_normal(4, dtype=np.float32))
try:
    jax.grad(control_flow_f)(a_vec)
except TypeError as err:
    nonscalar_error = f"TypeError: {str(err).splitlines()[0]}"
print(nonscalar_error)

# %% [markdown]
# The derivative of a vector-valued function is its Jacobian, one gradient per output:
# `jax.jacrev` computes it (through the Python `while` and `if`, as `jax.grad` does). Beside it,
# PyTorch's `f(a).backward(gradient=v)`, the product $\mathbf{v}^\top \mathbf{J}$, which is
# `jax.vjp` (here with $\mathbf{v} = \mathbf{1}$), and the gradient of `f(a).sum()`.

# %%
d_vec = control_flow_f(a_vec)
k = d_vec[0] / a_vec[0]
jacobian = jax.jacrev(control_flow_f)(a_vec)
vjp_ones = vjp_with_ones(control_flow_f, a_vec)
grad_of_sum = jax.grad(lambda a: control_flow_f(a).sum())(a_vec)
print("a =", a_vec, "\nf(a) / a =", d_vec / a_vec)
print("Jacobian:\n", jacobian)
print("Jacobian == k I:", bool(jnp.array_equal(jacobian, k * jnp.eye(4))),
      "; vjp with ones:", vjp_ones, "; grad of f(a).sum():", grad_of_sum)

# %% [markdown]
# A (2, 3) matrix `a`: the Jacobian's shape, and the slope $k$ for `a` and for `-a` (the sign
# of the sum picks the branch).

# %%
a_mat = jnp.asarray(rng.standard_normal((2, 3), dtype=np.float32))
jac_mat = jax.jacrev(control_flow_f)(a_mat)
slopes = {sign: float(jax.grad(lambda a: control_flow_f(a).sum())(s * a_mat)[0, 0])
          for sign, s in [("+a", 1.0), ("-a", -1.0)]}
k_mat = control_flow_f(a_mat)[0, 0] / a_mat[0, 0]
print("Jacobian shape:", jac_mat.shape, "; equals k I:",
      bool(jnp.array_equal(jac_mat.reshape(6, 6), k_mat * jnp.eye(6))))
print("k for a and for -a:", slopes)
answers["3"] = {
    "nonscalar_error": nonscalar_error, "k": k,
    "jacobian_is_k_identity": bool(jnp.array_equal(jacobian, k * jnp.eye(4))),
    "vjp_ones_equals_grad_of_sum": bool(jnp.array_equal(vjp_ones, grad_of_sum)),
    "vjp_ones": vjp_ones, "matrix_jacobian_shape": jac_mat.shape,
    "matrix_jacobian_is_k_identity": bool(jnp.array_equal(jac_mat.reshape(6, 6),
                                                          k_mat * jnp.eye(6))),
    "slopes_by_sign": slopes,
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# With a vector or matrix `a`, `f(a)` is no longer a scalar, and there is no single gradient:
# `jax.grad` refuses with the `TypeError` above (PyTorch's `backward()` refuses too, "grad can
# be implicitly created only for scalar outputs"). The derivative is now the Jacobian, one
# gradient per output: shape (4, 4) for a vector of 4, (2, 3, 2, 3) for a (2, 3) matrix. Since
# `f` scales the whole array by one $k$ (a power of two, times 100 when the sum is negative),
# the Jacobian is $k\mathbf{I}$, checked exactly above: the loop tests the norm of all of
# `a` and the branch its sum, so $k$ stays constant wherever `a` can move a little without
# changing the trip count or the branch. Flipping the sign of `a` keeps the trip count and
# takes the other branch: the two slopes differ by the factor 100 (printed). What PyTorch
# computes when given `gradient=torch.ones(...)` is $\mathbf{1}^\top\mathbf{J} = k\mathbf{1}$,
# the gradient of the sum of the outputs; in JAX that is `jax.vjp` with ones, or `jax.grad` of
# `f(a).sum()`: the two agree (printed).
#
# </details>

# %% [markdown]
# ### Exercise 4 — plot sin x and its derivative, the derivative by autodiff, not cos x
#
# `jax.grad(jnp.sin)` differentiates one scalar; `jax.vmap` maps it over a grid.

# %%
grid = jnp.linspace(-2 * jnp.pi, 2 * jnp.pi, 201)
dsin = jax.vmap(jax.grad(jnp.sin))(grid)
ax = plot(grid, [jnp.sin(grid), dsin], xlabel="x", ylabel="value",
          legend=["f(x) = sin(x)", "f'(x) by jax.grad"], figsize=(5, 2.5),
          title="sin and its derivative by autodiff")
run.show(ax.figure, "sin_and_derivative.png")

# %% [markdown]
# Only now, as a check: the autodiff curve against $\cos x$.

# %%
cos_error = float(jnp.max(jnp.abs(dsin - jnp.cos(grid))))
print(f"max |f'(x) - cos(x)| on the grid: {cos_error:.3g} ({cos_error / F32_EPS:.1f} eps)")
answers["4"] = {"max_abs_error_vs_cos": cos_error, "grid_size": grid.size,
                "derivative_at_0": dsin[100], "derivative_at_pi": dsin[150]}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The derivative computed by `jax.grad` (dashed) is the cosine: 1 at $x = 0$, $-1$ at
# $x = \pm\pi$, 0 where $\sin$ peaks. It matches $\cos x$ to within the float32 rounding
# printed above (JAX's rule for `sin` multiplies the incoming gradient by `cos`, so the two
# agree to a few units of float32's epsilon at most).
#
# </details>

# %% [markdown]
# ### Exercise 5 — the dependency graph of f(x) = (log x²) sin x + 1/x
#
# <details><summary>Answer</summary>
#
# Name every intermediate result; an arrow goes from each input of an operation to its output:
#
# $$u_1 = x^2, \quad u_2 = \log u_1, \quad u_3 = \sin x$$
#
# $$u_4 = u_2 u_3, \quad u_5 = x^{-1}, \quad f = u_4 + u_5$$
#
# The edges are $x \to u_1 \to u_2 \to u_4 \to f$, $x \to u_3 \to u_4$ and
# $x \to u_5 \to f$: $x$ feeds three paths, which meet again at $u_4$ and at $f$. The figure
# under exercise 6 draws this graph.
#
# </details>

# %% [markdown]
# Check: the graph JAX itself records when it traces $f$ (its jaxpr) has the same six
# operations, in an order that respects the arrows.

# %%
def book_f(x):
    """The exercise's f(x) = log(x^2) sin(x) + x^-1."""
    return jnp.log(x**2) * jnp.sin(x) + x**-1


jaxpr = jax.make_jaxpr(book_f)(1.0)
print(jaxpr)
primitives = [eqn.primitive.name for eqn in jaxpr.eqns]
answers["5"] = {"primitives": primitives}

# %% [markdown]
# ### Exercise 6 — df/dx by the chain rule, each term on the graph
#
# <details><summary>Answer</summary>
#
# Each edge carries the local derivative of its head with respect to its tail:
# $\partial u_1 / \partial x = 2x$, $\partial u_2 / \partial u_1 = 1 / u_1$,
# $\partial u_3 / \partial x = \cos x$, $\partial u_4 / \partial u_2 = u_3$,
# $\partial u_4 / \partial u_3 = u_2$, $\partial u_5 / \partial x = -x^{-2}$,
# $\partial f / \partial u_4 = \partial f / \partial u_5 = 1$. The chain rule sums, over every
# path from $x$ to $f$, the product of the edge derivatives along it (the two edges into $f$
# carry 1):
#
# $$\frac{df}{dx} = u_3 \cdot \frac{1}{u_1} \cdot 2x + u_2 \cdot \cos x + (-x^{-2})$$
#
# $$\frac{df}{dx} = \frac{2 \sin x}{x} + \log(x^2) \cos x - \frac{1}{x^2}$$
#
# </details>

# %%
fig, ax = plt.subplots(figsize=(7.5, 3.2))
nodes = {"x": (0, 1), "u1 = x²": (1.5, 2), "u2 = log u1": (3.3, 2), "u3 = sin x": (2.4, 1),
         "u4 = u2·u3": (5, 1.5), "u5 = 1/x": (3, 0), "f = u4 + u5": (6.6, 0.75)}
edges = [("x", "u1 = x²", "2x"), ("u1 = x²", "u2 = log u1", "1/u1"),
         ("x", "u3 = sin x", "cos x"), ("u2 = log u1", "u4 = u2·u3", "u3"),
         ("u3 = sin x", "u4 = u2·u3", "u2"), ("x", "u5 = 1/x", "-1/x²"),
         ("u4 = u2·u3", "f = u4 + u5", "1"), ("u5 = 1/x", "f = u4 + u5", "1")]
boxes = {name: ax.text(px, py, name, ha="center", va="center", bbox={
    "boxstyle": "round", "facecolor": "white", "edgecolor": "tab:blue"})
    for name, (px, py) in nodes.items()}
for tail, head, local in edges:
    ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[head], xytext=(0.5, 0.5),
                textcoords=boxes[tail], arrowprops={
                    "arrowstyle": "-|>", "color": "gray", "shrinkA": 1, "shrinkB": 1,
                    "patchA": boxes[tail].get_bbox_patch(),
                    "patchB": boxes[head].get_bbox_patch()})
    (x0, y0), (x1, y1) = nodes[tail], nodes[head]
    ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, local, color="tab:red", ha="center")
ax.set_xlim(-0.4, 7.4)
ax.set_ylim(-0.4, 2.4)
ax.axis("off")
ax.set_title("dependency graph of f; red: each edge's local derivative")
run.show(fig, "dependency_graph.png")

# %% [markdown]
# Check against `jax.grad` at points on both sides of 0. The three terms of the formula can
# be large and cancel, so the error is measured against the sum of their magnitudes: a few
# float32 roundings per term, so a few units of epsilon.

# %%
def chain_rule_terms(x):
    """The chain rule's three terms of df/dx: 2 sin(x) / x, log(x^2) cos(x), -1 / x^2."""
    return 2 * np.sin(x) / x, np.log(x**2) * np.cos(x), -1 / x**2


points = np.array([-3.0, -0.5, 0.7, 1.0, 2.0, 5.0], np.float32)
terms = chain_rule_terms(points)
by_hand = sum(terms)
by_jax = np.asarray(jax.jit(jax.vmap(jax.grad(book_f)))(points))
scaled_errors = np.abs(by_hand - by_jax) / sum(np.abs(t) for t in terms) / F32_EPS
print("x:          ", points, "\nchain rule: ", by_hand, "\njax.grad:   ", by_jax)
print("error / (sum of |terms| * eps):", scaled_errors)
answers["6"] = {"x": points, "chain_rule": by_hand, "jax_grad": by_jax,
                "max_scaled_error_eps": np.max(scaled_errors)}

# %% [markdown]
# ### Exercise 7 — evaluate df/dx forward (from x to f) and backward (from f to x)
#
# <details><summary>Answer</summary>
#
# **Forward** (tangents, $\dot u = du/dx$, computed alongside the values, from $x$ on):
# $\dot x = 1$, $\dot u_1 = 2x\,\dot x$, $\dot u_2 = \dot u_1 / u_1$,
# $\dot u_3 = \cos x\,\dot x$, $\dot u_4 = u_3 \dot u_2 + u_2 \dot u_3$,
# $\dot u_5 = -x^{-2}\,\dot x$, and $df/dx = \dot f = \dot u_4 + \dot u_5$.
#
# **Backward** (adjoints, $\bar u = \partial f / \partial u$, after the values are all
# computed, from $f$ back): $\bar f = 1$, $\bar u_4 = \bar u_5 = \bar f$,
# $\bar u_2 = u_3 \bar u_4$, $\bar u_3 = u_2 \bar u_4$, $\bar u_1 = \bar u_2 / u_1$, and $x$
# collects one term from each of its three outgoing edges:
# $df/dx = \bar x = 2x\,\bar u_1 + \cos x\,\bar u_3 - x^{-2}\,\bar u_5$.
#
# Both sweeps multiply the same edge derivatives along the same paths, so they give the same
# number; they group the products differently.
#
# </details>

# %% [markdown]
# Both sweeps, step by step at $x = 2$, against JAX's own forward mode (`jax.jvp`) and reverse
# mode (`jax.vjp`):

# %%
x0 = np.float32(2.0)  # the hand sweeps in NumPy float32: plain arithmetic, nothing to trace
u1, u3, u5 = x0**2, np.sin(x0), x0**-1
u2 = np.log(u1)
u4 = u2 * u3
forward = {"x": np.float32(1.0)}
forward["u1"] = 2 * x0 * forward["x"]
forward["u2"] = forward["u1"] / u1
forward["u3"] = np.cos(x0) * forward["x"]
forward["u4"] = u3 * forward["u2"] + u2 * forward["u3"]
forward["u5"] = -(x0**-2) * forward["x"]
forward["f"] = forward["u4"] + forward["u5"]
backward = {"f": np.float32(1.0)}
backward["u4"] = backward["u5"] = backward["f"]
backward["u2"] = u3 * backward["u4"]
backward["u3"] = u2 * backward["u4"]
backward["u1"] = backward["u2"] / u1
backward["x"] = 2 * x0 * backward["u1"] + np.cos(x0) * backward["u3"] - x0**-2 * backward["u5"]
print("forward tangents: ", {k: round(float(v), 6) for k, v in forward.items()})
print("backward adjoints:", {k: round(float(v), 6) for k, v in backward.items()})
jvp_value = jax.jit(lambda x: jax.jvp(book_f, (x,), (jnp.ones_like(x),))[1])(x0)
vjp_value = jax.jit(lambda x: jax.vjp(book_f, x)[1](jnp.ones_like(x))[0])(x0)
print(f"df/dx at 2: forward {forward['f']:.7f}, backward {backward['x']:.7f}, "
      f"jax.jvp {jvp_value:.7f}, jax.vjp {vjp_value:.7f}")
answers["7"] = {"x": x0, "forward": forward["f"], "backward": backward["x"],
                "jvp": jvp_value, "vjp": vjp_value, "formula": sum(chain_rule_terms(x0)),
                "forward_tangents": forward, "backward_adjoints": backward}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The four values agree to float32 rounding (they group the same products differently).
#
# </details>

# %% [markdown]
# ### Exercise 8 — when is forward differentiation the better choice, when backward?
#
# Two measurements. (1) The Jacobian of a function $\mathbb{R}^n \to \mathbb{R}$ (a loss)
# and of one $\mathbb{R} \to \mathbb{R}^n$ (a curve), each by forward mode (`jax.jacfwd`, one
# `jvp` per input) and by reverse mode (`jax.jacrev`, one `vjp` per output): XLA's FLOP counts
# and times. (2) The memory each mode keeps for a chain of layers
# $h_{l+1} = \tanh(\mathbf{W}_l h_l)$ (16 layers of width 256; quick mode 8 of width 64): XLA's
# temporary buffers for one `jvp` and one `grad`.

# %%
width = 64 if run.quick else 256
depth = 8 if run.quick else 16
Ws = jnp.asarray(rng.standard_normal((depth, width, width), dtype=np.float32)) / np.sqrt(width)
direction = jnp.asarray(rng.standard_normal(width, dtype=np.float32))


def deep_chain(h):
    """The chain of layers h <- tanh(W_l h): h (width,) -> (width,)."""
    for W in Ws:
        h = jnp.tanh(W @ h)
    return h


def loss(h):
    """R^width -> R: the chain's output summed."""
    return jnp.sum(deep_chain(h))


def curve(t):
    """R -> R^width: the chain along a line t * direction."""
    return deep_chain(t * direction)


h0, t0 = jnp.asarray(rng.standard_normal(width, dtype=np.float32)), jnp.float32(0.5)
modes = {}
for name, fn, arg in [("loss R^n -> R", loss, h0), ("curve R -> R^n", curve, t0)]:
    for mode, jac in [("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev)]:
        program = compiled(jac(fn), arg)
        modes[f"{name}, {mode}"] = {
            "flops": program.cost_analysis()["flops"],
            "seconds": best_time(lambda p=program, a=arg: p(a), repeat=5)}
for case, row in modes.items():
    print(f"{case}: {row['flops']:>13,.0f} FLOPs, {row['seconds'] * 1e6:8.0f} us")
flop_ratios = {
    "loss: jacfwd / jacrev": modes["loss R^n -> R, jacfwd"]["flops"]
    / modes["loss R^n -> R, jacrev"]["flops"],
    "curve: jacrev / jacfwd": modes["curve R -> R^n, jacrev"]["flops"]
    / modes["curve R -> R^n, jacfwd"]["flops"]}
print({case: round(ratio, 1) for case, ratio in flop_ratios.items()}, f"with n = {width}")

# %%
fwd_program = compiled(lambda h: jax.jvp(loss, (h,), (jnp.ones_like(h),))[1], h0)
rev_program = compiled(jax.grad(loss), h0)
memory = {"forward (jvp)": fwd_program.memory_analysis().temp_size_in_bytes,
          "reverse (grad)": rev_program.memory_analysis().temp_size_in_bytes}
print(f"temporary memory, {depth} layers of width {width}: {memory}; one layer's activation is "
      f"{width * 4} bytes")
answers["8"] = {"width": width, "depth": depth, "modes": modes, "flop_ratios": flop_ratios,
                "temp_bytes": memory,
                "activation_bytes": width * 4}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Count the sweeps. Forward mode pushes one input direction through the graph per sweep, so a
# full Jacobian takes as many sweeps as there are **inputs**; reverse mode pulls one output
# back per sweep, so it takes as many as there are **outputs**. For a loss (many parameters,
# one number), reverse mode is the right choice: one sweep, where forward mode needs $n$. The
# FLOP counts above show the gap: `jacfwd` of the loss costs about $n/2$ times as much as
# `jacrev` (the printed ratio; one reverse sweep costs about two forward evaluations, $n$
# forward sweeps about $n$). For the curve, one input and $n$ outputs, it is the other way
# round, by the same factor. For an $m \times n$ Jacobian in general, the cheaper mode is the
# one whose count, $n$ inputs or $m$ outputs, is smaller.
#
# Intermediate data: reverse mode must keep every intermediate value of the forward pass until
# the backward pass reaches it: its temporary memory above grows with the depth (about one
# activation per layer), while forward mode carries only the current value and its tangent
# and forgets the rest as it goes. That is why long unrolled computations use checkpointing
# (`jax.checkpoint`) or, where inputs are few, forward mode.
#
# Parallelism: forward mode runs alongside the function itself, so it can start before the
# function has finished, and its sweeps for different directions are independent
# (`jacfwd` is a `vmap` over `jvp`); reverse mode cannot start before the forward pass has
# ended. Matrix sizes: along a chain of Jacobians, reverse mode multiplies a row vector by
# each matrix, forward mode the matrix by a column vector; multiplying from the narrow end
# keeps every product a vector, which is the same choice. Deep learning trains on scalar
# losses of millions of parameters, hence backpropagation.
#
# </details>

# %%
run.save_metrics({"answers": answers})
