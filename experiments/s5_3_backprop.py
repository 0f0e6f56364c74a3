# %% [markdown]
# # 5.3 Forward Propagation, Backward Propagation, and Computational Graphs
#
# *Dive into Deep Learning*, section 5.3, in JAX. The book's network has one hidden layer, no
# biases and an L2 penalty: z = W⁽¹⁾x, h = φ(z), o = W⁽²⁾h, and the objective
# J = L(o, y) + λ/2 (‖W⁽¹⁾‖² + ‖W⁽²⁾‖²). Forward propagation computes J and keeps the
# intermediates; backpropagation applies the chain rule from J back to the weights, e.g.
# ∂J/∂W⁽²⁾ = ∂J/∂o hᵀ + λW⁽²⁾.
#
# The reference has only this discussion, no code and no printed values. Here the chain rule is
# written out by hand (`jaxhw/backprop.py`, φ = tanh, cross-entropy loss, a minibatch of rows)
# and checked against `jax.grad` and against finite differences; then what the forward pass
# must keep in memory for the backward pass, by hand and by JAX.

# %% tags=["parameters"]
quick = False  # smoke run: a 16 x 8 -> 6 -> 3 network instead of 256 x 784 -> 256 -> 10
seed = 0  # PRNG seed for the weights, inputs and labels
out_dir = "results/5.3"  # where the figure and metrics.json go

# %%
import inspect
import math

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from jaxhw import backprop, notebook

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)

# %% [markdown]
# ## Forward propagation
# A minibatch of n random inputs with d features, h hidden units and q classes; the weights are
# N(0, 0.01²) as the MLP of 5.2 starts. With rows as examples, the book's z = W⁽¹⁾x is
# Z = X W⁽¹⁾ᵀ. `forward` returns J and what the backward pass needs: X, H = tanh(Z) and the
# softmax probabilities P of the logits o.

# %%
n, d, h, q = (16, 8, 6, 3) if run.quick else (256, 784, 256, 10)
lam = 0.01  # the penalty's lambda
key_params, key_X, key_y = jax.random.split(jax.random.key(run.seed), 3)
params = backprop.init(key_params, num_inputs=d, num_hiddens=h, num_outputs=q, sigma=0.01)
X = jax.random.normal(key_X, (n, d))
y = jax.random.randint(key_y, (n,), 0, q)

J, saved = jax.jit(backprop.forward)(params, X, y, lam)
print(f"J = L + s = {float(J):.6f} (s = {float(backprop.penalty(params, lam)):.6f}); "
      f"log q = {math.log(q):.6f}")
{name: a.shape for name, a in saved._asdict().items()}

# %% [markdown]
# Small weights make the logits nearly 0 and P nearly uniform, so the loss starts near log q.

# %% [markdown]
# ## Backpropagation by hand
# `backward` follows the book's chain rule from J back to each weight, one line per formula:

# %%
print(inspect.getsource(backprop.backward))

# %% [markdown]
# Against `jax.grad` of the same objective. Both run in float32, in different orders of
# operations, so they agree up to rounding. How much rounding? `backprop.rounding_bound`
# carries float32's unit roundoff (2⁻²⁴) through every sum and elementwise step: a worst-case
# bound on each computation's error, whichever order the CPU's kernels add in. The two may
# differ by at most twice it; in practice they differ by far less.

# %%
by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, lam)
by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, lam)
bound = backprop.rounding_bound(params, X, y, lam)
diff, gap_over_bound = {}, {}
for name in ("W1", "W2"):
    gap = np.abs(np.asarray(by_hand[name], np.float64) - np.asarray(by_jax[name]))
    diff[name] = float(gap.max())
    gap_over_bound[name] = float(np.max(gap / (2 * bound[name])))
    print(f"dJ/d{name} {by_hand[name].shape}: max |by hand - jax.grad| = {diff[name]:.1e}, "
          f"largest |gradient| {float(jnp.abs(by_jax[name]).max()):.1e}, "
          f"{gap_over_bound[name]:.1e} of the rounding bound at most")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, name in zip(axes, ("W1", "W2"), strict=True):
    # Entries are ~1e-3: plotted in units of a power of ten named in the labels (no offset
    # text to collide with the title), with few ticks so that the labels stay apart.
    exponent = int(np.floor(np.log10(float(jnp.abs(by_jax[name]).max()))))
    unit = f"1e{exponent}"
    ax.scatter(np.ravel(by_jax[name]) / 10.0**exponent,
               np.ravel(by_hand[name]) / 10.0**exponent, s=2)
    ax.set_xlabel(f"jax.grad dJ/d{name} (x {unit})")
    ax.set_ylabel(f"by hand dJ/d{name} (x {unit})")
    ax.set_title(f"{by_hand[name].size} entries, max |diff| = {diff[name]:.1e}", fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.grid(alpha=0.3)
fig.tight_layout()
run.show(fig, "hand_vs_jax_grad.png")

# %% [markdown]
# ## Finite differences, in float64
# An independent check of the hand-written backward pass: the directional derivative
# dJ/dt (W + t v) at t = 0 along a random direction v, by central differences
# (J(W + εv) − J(W − εv)) / 2ε, against the hand-written gradient's ⟨∇J, v⟩.
# `objective_by_hand` is J with `backward` as its reverse-mode derivative, so `jax.vjp` runs
# the hand-written pass. In float32, J itself is rounded to ~1e-7 of its value and the
# difference quotient amplifies that by 1/ε; in float64 the quotient is off by about
# ε²|J‴|/6 + 1e-16|J|/ε, around 1e-10 for ε = 1e-6, while a wrong formula would be off by
# the size of the derivative itself. `jax.enable_x64(True)` switches 64-bit arrays on for
# this cell, which runs on float64 copies of the same weights and data.

# %%
with jax.enable_x64(True):
    p64, X64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a), jnp.float64), (params, X))
    J_by_hand = jax.jit(lambda p: backprop.objective_by_hand(p, X64, y, lam))
    v = {name: jax.random.normal(k, a.shape, jnp.float64)
         for k, (name, a) in zip(jax.random.split(jax.random.key(run.seed + 1)), p64.items(),
                                 strict=True)}
    eps = 1e-6
    shifted = [jax.tree.map(lambda a, b, s=s: a + s * eps * b, p64, v) for s in (1, -1)]
    fd = float((J_by_hand(shifted[0]) - J_by_hand(shifted[1])) / (2 * eps))
    _, vjp = jax.vjp(J_by_hand, p64)
    grad64 = vjp(jnp.float64(1.0))[0]
    hand = float(sum(jnp.vdot(grad64[k], v[k]) for k in v))
fd_rel_gap = abs(fd - hand) / abs(hand)
print(f"finite differences {fd:.12f}\nby hand            {hand:.12f}\n"
      f"gap {abs(fd - hand):.1e}, relative gap {fd_rel_gap:.1e}")

# %% [markdown]
# ## Training needs memory: what the forward pass keeps
# The book notes that backpropagation reuses the intermediates of forward propagation, so they
# stay in memory until the backward pass is done. `backprop.vjp_residuals` lists the arrays
# reverse mode keeps (`jax.ad_checkpoint.print_saved_residuals`): the hand-written pass keeps
# exactly what `backward` reads (X, H, P, the weights and labels); `jax.grad` chooses its own.

# %%
def kept_bytes(lines: list[str]) -> int:
    """Total bytes of the arrays described as 'f32[a,b] ...', 'bool[a] ...' and the like."""
    itemsize = {"f32": 4, "i32": 4, "f64": 8, "i64": 8, "bool": 1}
    total = 0
    for line in lines:
        dtype, dims = line.split()[0].rstrip("]").split("[")
        total += itemsize[dtype] * math.prod(int(s) for s in dims.split(",") if s)
    return total


# %%
hand_kept = backprop.vjp_residuals(backprop.objective_by_hand, params, X, y, lam)
jax_kept = backprop.vjp_residuals(backprop.objective, params, X, y, lam)
print(f"hand-written backward pass keeps {kept_bytes(hand_kept):,} bytes:\n  "
      + "\n  ".join(hand_kept))
print(f"jax.grad keeps {kept_bytes(jax_kept):,} bytes:\n  " + "\n  ".join(jax_kept))

# %% [markdown]
# ## Results
# `metrics.json` keeps the gradient gaps, the finite-difference check and the residuals
# (tests/test_sections_ch5.py).

# %%
run.save_metrics({
    "sizes": {"n": n, "d": d, "h": h, "q": q},
    "J": J,
    "max_abs_grad_diff": max(diff.values()),
    "max_abs_grad_diff_per_param": diff,
    "grad_diff_over_rounding_bound": gap_over_bound,
    "fd_directional": fd,
    "hand_directional": hand,
    "fd_rel_gap": fd_rel_gap,
    "hand_residuals": hand_kept,
    "jax_residuals": jax_kept,
    "hand_residual_bytes": kept_bytes(hand_kept),
    "jax_residual_bytes": kept_bytes(jax_kept),
})
