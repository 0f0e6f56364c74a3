# %% [markdown]
# # 2.5 Automatic Differentiation
#
# *Dive into Deep Learning*, section 2.5, in JAX. PyTorch records the operations on a tensor
# that `requires_grad` and `backward()` stores the gradient in `x.grad`. In JAX a gradient is a
# function: `jax.grad(f)` returns a new function that computes ∂f/∂x. Nothing is stored on the
# input (there is no `x.grad`), so gradients never accumulate and there is nothing to zero
# between calls.
#
# Each code cell that mirrors a cell of the PyTorch notebook this project reproduces starts with
# `# reference:` and what that notebook printed; the output under the cell is this notebook's.
# Every gradient agrees with the reference's; only the random `a` of the control-flow example
# differs (another generator, another seed).

# %% tags=["parameters"]
quick = False  # smoke run: 4 random keys instead of 8 in the control-flow check
seed = 0  # PRNG seed for the random a
out_dir = "results/2.5"  # where f_and_grad.png and metrics.json go

# %%
import inspect

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
from jax import lax

from jaxhw import notebook
from jaxhw.autodiff import control_flow_f, control_flow_f_jit, vjp_with_ones
from jaxhw.board import plot

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names

# %% [markdown]
# ## A simple function
# The book differentiates y = 2 xᵀx with respect to x = (0, 1, 2, 3). PyTorch first marks `x`
# with `requires_grad_(True)`, and `x.grad` is `None` until `backward()` runs. JAX needs no
# marking: we write y as a function of x.

# %%
# reference: tensor([0., 1., 2., 3.])
x = jnp.arange(4.0)
x


# %%
def y_of(x):
    """The book's y = 2 x.x: x (n,) -> scalar."""
    return 2 * jnp.dot(x, x)


# %%
# reference: tensor(28., grad_fn=<MulBackward0>)
metrics["y_2xTx"] = y_of(x)
y_of(x)

# %% [markdown]
# `jax.grad(y_of)` is the function x ↦ ∇y = 4x; the reference's `y.backward(); x.grad`.

# %%
# reference: tensor([ 0.,  4.,  8., 12.])
grad_2xTx = jax.grad(y_of)(x)
metrics["grad_2xTx"] = grad_2xTx
grad_2xTx

# %%
# reference: tensor([True, True, True, True])
metrics["grad_2xTx_is_4x"] = bool(jnp.array_equal(grad_2xTx, 4 * x))
grad_2xTx == 4 * x

# %% [markdown]
# Another function of x, its sum, has gradient 1 everywhere. PyTorch must first zero `x.grad`
# (`x.grad.zero_()`), or the new gradient would be added to the old; JAX stores nothing, so
# there is nothing to reset.

# %%
# reference: tensor([1., 1., 1., 1.])
metrics["grad_sum"] = jax.grad(jnp.sum)(x)
metrics["grad_sum"]

# %% [markdown]
# Beyond the reference: asking again for the first gradient gives it unchanged, nothing
# accumulated.

# %%
metrics["grad_2xTx_again_equal"] = bool(jnp.array_equal(jax.grad(y_of)(x), grad_2xTx))
jax.grad(y_of)(x)

# %% [markdown]
# ## Backward for non-scalar variables
# For y = x * x, a vector, `jax.grad` refuses: a gradient is defined for a scalar output.

# %%
try:
    jax.grad(lambda x: x * x)(x)
except TypeError as err:
    metrics["grad_nonscalar_error"] = f"TypeError: {str(err).splitlines()[0]}"
    print(metrics["grad_nonscalar_error"])

# %% [markdown]
# The book's `y.backward(gradient=torch.ones(len(y)))` is the vector-Jacobian product vᵀJ with
# v = (1, ..., 1): `jax.vjp` (`vjp_with_ones` in `jaxhw/autodiff.py`). It equals the gradient
# of sum(y), the book's faster `y.sum().backward()`.

# %%
# reference: tensor([0., 2., 4., 6.])
vjp = vjp_with_ones(lambda x: x * x, x)
metrics["vjp_x_times_x"] = vjp
metrics["vjp_equals_grad_of_sum"] = bool(
    jnp.array_equal(vjp, jax.grad(lambda x: jnp.sum(x * x))(x)))
vjp

# %% [markdown]
# ## Detaching computation
# The book's `u = y.detach()` is `lax.stop_gradient(y)`: the same values, but a constant to
# differentiation. So z = u * x has gradient u with respect to x, not 3x².

# %%
def z_of(x):
    """The book's z = u * x, summed, with u = x * x detached: x (n,) -> scalar."""
    u = lax.stop_gradient(x * x)
    return jnp.sum(u * x)


# %%
# reference: tensor([True, True, True, True])
u = x * x
detach_grad = jax.grad(z_of)(x)
metrics["detach_grad"] = detach_grad
metrics["detach_grad_equals_u"] = bool(jnp.array_equal(detach_grad, u))
detach_grad == u

# %% [markdown]
# y itself was not detached: the gradient of sum(y) = sum(x * x) is 2x.

# %%
# reference: tensor([True, True, True, True])
metrics["grad_sum_x_times_x"] = jax.grad(lambda x: jnp.sum(x * x))(x)
metrics["grad_sum_x_times_x"] == 2 * x

# %% [markdown]
# ## Gradients and Python control flow
# The book's f doubles a until its norm reaches 1000, then branches on the sign. It lives in
# `jaxhw/autodiff.py` as `control_flow_f`, with one change: it stops doubling when a is 0
# exactly (where the book's loop would never end).

# %%
# reference: (defines f; no output)
print(inspect.getsource(control_flow_f))

# %% [markdown]
# f(a) = k a for a constant k that depends on a (2ⁿ, times 100 for a negative a), so the
# gradient is k = f(a) / a. `jax.grad` follows the Python `while` and `if` because the values
# are concrete when it runs them. The reference's `a` came from `torch.randn`; ours from the
# seed's key, so the numbers differ.

# %%
# reference: (a = torch.randn(size=()); d = f(a); d.backward(): no output)
key, a_key = jax.random.split(jax.random.key(run.seed))
a = jax.random.normal(a_key, ())
d = control_flow_f(a)
grad_a = jax.grad(control_flow_f)(a)
metrics.update(a=a, d=d, grad_a=grad_a)
print(f"a = {a}, d = f(a) = {d}, grad f(a) = {grad_a}")

# %% [markdown]
# The reference checks `a.grad == d / a`. For a positive a both sides are 2ⁿ exactly. For a
# negative a, d = 100·2ⁿ·a is rounded to float32 and d / a is rounded again, so d / a can miss
# the exact slope 100·2ⁿ by one float32 step and `==` would print `False` (in PyTorch too); the
# error, in units of float32's epsilon, says whether that is all it is.

# %%
# reference: tensor(True)
rel_err_in_eps = jnp.abs(grad_a - d / a) / jnp.abs(d / a) / jnp.finfo(jnp.float32).eps
metrics["grad_a_equals_d_over_a"] = bool(grad_a == d / a)
print(f"relative error of grad f(a) against d / a: {rel_err_in_eps} eps")
grad_a == d / a

# %% [markdown]
# Beyond the reference: the same check for several keys, each a also with its sign flipped, so
# both branches are taken.

# %%
num_keys = 4 if run.quick else 8
keys = jax.random.split(key, num_keys)
draws = jax.vmap(lambda k: jax.random.normal(k, ()))(keys)
a_values = jnp.concatenate([draws, -draws])
grad_f = jax.grad(control_flow_f)
book_values = jnp.stack([control_flow_f(a) for a in a_values])
grads = jnp.stack([grad_f(a) for a in a_values])
ratios = book_values / a_values
metrics["control_flow_a"] = a_values
metrics["control_flow_grad"] = grads
metrics["control_flow_max_abs_err"] = jnp.max(jnp.abs(grads - ratios))
metrics["control_flow_max_rel_err"] = jnp.max(jnp.abs(grads - ratios) / jnp.abs(ratios))
print(f"a:            {a_values}\ngrad f(a):    {grads}\n"
      f"max relative error against f(a) / a: {metrics['control_flow_max_rel_err']}")

# %% [markdown]
# `jax.jit` traces with abstract values, so the same Python `while` cannot decide:

# %%
try:
    jax.jit(control_flow_f)(a_values[0])
except jax.errors.TracerBoolConversionError as err:
    metrics["jit_error"] = f"TracerBoolConversionError: {str(err).splitlines()[0]}"
    print(metrics["jit_error"])


# %% [markdown]
# Writing the loop as `lax.while_loop` makes it jittable, but reverse mode cannot go through a
# loop whose trip count depends on the data:

# %%
def doubled_until_large(a):
    """The book's doubling loop as lax.while_loop: a scalar -> scalar (no reverse mode)."""
    return lax.while_loop(lambda b: jnp.abs(b) < 1000, lambda b: b * 2, a * 2)


# %%
try:
    jax.grad(doubled_until_large)(a_values[0])
except ValueError as err:
    metrics["while_loop_grad_error"] = f"ValueError: {str(err).splitlines()[0]}"
    print(metrics["while_loop_grad_error"])

# %% [markdown]
# The trip count has zero derivative anyway. `control_flow_f_jit` counts the doublings under
# `stop_gradient` with `lax.while_loop`, then applies a ↦ 2ⁿa to a itself and picks the branch
# with `jnp.where`. It jits, vmaps and differentiates, and agrees with the book's f exactly.

# %%
f_and_grad_jit = jax.jit(jax.vmap(jax.value_and_grad(control_flow_f_jit)))
jit_values, jit_grads = f_and_grad_jit(a_values)
metrics["jit_grad_max_abs_diff"] = jnp.max(jnp.abs(jit_grads - grads))
metrics["jit_value_max_abs_diff"] = jnp.max(jnp.abs(jit_values - book_values))
print(f"largest difference from the book's f: values {metrics['jit_value_max_abs_diff']}, "
      f"gradients {metrics['jit_grad_max_abs_diff']}")

# %% [markdown]
# f is piecewise linear, so its gradient is a step function: each halving of |a| doubles the
# slope, and negative a pay the extra factor 100. (The NaN in the grid only breaks the line
# around a = 0, where the slope grows without bound.)

# %%
grid = jnp.concatenate([jnp.linspace(-2.0, -0.05, 300), jnp.array([jnp.nan]),
                        jnp.linspace(0.05, 2.0, 300)])
values, slopes = f_and_grad_jit(grid)
fig, ax = plt.subplots(figsize=(5, 3))
plot(grid, [slopes, values / grid], xlabel="a", ylabel="slope", legend=["grad f(a)", "f(a) / a"],
     yscale="log", fmts=("-", "m--"), axes=ax, title="the book's control-flow f")
run.show(fig, "f_and_grad.png")

# %% [markdown]
# ## Results
# `metrics.json` keeps the values above for the tests (tests/test_sections_ch2.py).

# %%
run.save_metrics(metrics)
