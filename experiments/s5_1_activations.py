# %% [markdown]
# # 5.1 Multilayer Perceptrons
#
# *Dive into Deep Learning*, section 5.1, in JAX. A hidden layer is only worth having with a
# nonlinear activation after it: without one, two affine layers collapse into one. The section
# plots the usual activations, ReLU, sigmoid and tanh, and their derivatives; the reference's
# exercise (its part 15.5) adds swish, x · sigmoid(x), and pReLU with α = 0.2.
#
# The reference prints no numbers here: each of its cells draws a figure with `d2l.plot`
# (x in [-8, 8) by 0.1, figsize (5, 2.5)). Each code cell below says which figure it redraws.
# Beyond the reference, the derivatives that autodiff finds are checked against the closed
# forms the book derives, and their values at 0 against the book's.

# %% tags=["parameters"]
quick = False  # smoke run (this section has nothing to shrink)
seed = 0  # PRNG seed (nothing here is random)
out_dir = "results/5.1"  # where the figures and metrics.json go

# %%
import jax
import jax.numpy as jnp

from jaxhw import notebook
from jaxhw.board import plot
from jaxhw.nn.activations import derivative, prelu, relu, sigmoid, swish, tanh

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {"max_grad_error": {}, "grad_at_0": {}}  # filled per activation, saved at the end

# %% [markdown]
# ## Activation functions
# The reference makes `x` with `requires_grad=True` so that PyTorch records the graph. JAX
# records nothing: a derivative is a function, `jax.grad(f)`, taken where it is needed.

# %%
x = jnp.arange(-8.0, 8.0, 0.1)
x.shape

# %% [markdown]
# ### ReLU
# ReLU(x) = max(x, 0) keeps the positive part and sets the rest to 0.

# %%
# reference: a figure: relu(x) against x
ax = plot(x, relu(x), "x", "relu(x)", figsize=(5, 2.5))
run.show(ax.figure, "relu.png")

# %% [markdown]
# The reference calls `y.backward(torch.ones_like(x))`: a vector-Jacobian product with a vector
# of ones, which for an elementwise function is its derivative at every point. Here the same
# derivative is `derivative(relu)`, that is `jax.vmap(jax.grad(relu))`: the gradient of the
# scalar function, mapped over `x`; `jax.vjp` with ones gives the very same values. At x = 0,
# where ReLU has no derivative, both PyTorch and jaxhw take the left-hand one, 0.

# %%
# reference: a figure: grad of relu against x (0 for x <= 0, 1 for x > 0)
grad_relu = derivative(relu)(x)
_, vjp = jax.vjp(relu, x)
print("vmap(grad) == vjp with ones:", bool((grad_relu == vjp(jnp.ones_like(x))[0]).all()))
ax = plot(x, grad_relu, "x", "grad of relu", figsize=(5, 2.5))
run.show(ax.figure, "relu_grad.png")

# %% [markdown]
# ### Sigmoid
# sigmoid(x) = 1 / (1 + exp(−x)) squashes any input into (0, 1).

# %%
# reference: a figure: sigmoid(x) against x
ax = plot(x, sigmoid(x), "x", "sigmoid(x)", figsize=(5, 2.5))
run.show(ax.figure, "sigmoid.png")

# %% [markdown]
# Its derivative is sigmoid(x)(1 − sigmoid(x)): at most 0.25, at x = 0, and close to 0 for
# large |x|. (The reference zeroes `x.grad` first because PyTorch adds gradients up; a JAX
# gradient is a fresh value each time, so there is nothing to clear.)

# %%
# reference: a figure: grad of sigmoid against x (a bump, 0.25 at x = 0)
ax = plot(x, derivative(sigmoid)(x), "x", "grad of sigmoid", figsize=(5, 2.5))
run.show(ax.figure, "sigmoid_grad.png")

# %% [markdown]
# ### Tanh
# tanh(x) = (1 − exp(−2x)) / (1 + exp(−2x)) squashes into (−1, 1), symmetric about 0.

# %%
# reference: a figure: tanh(x) against x
ax = plot(x, tanh(x), "x", "tanh(x)", figsize=(5, 2.5))
run.show(ax.figure, "tanh.png")

# %% [markdown]
# Its derivative 1 − tanh²(x) peaks at 1 at x = 0.

# %%
# reference: a figure: grad of tanh against x (a bump, 1 at x = 0)
ax = plot(x, derivative(tanh)(x), "x", "grad of tanh", figsize=(5, 2.5))
run.show(ax.figure, "tanh_grad.png")

# %% [markdown]
# ## The reference's exercise: swish and pReLU
# swish(x) = x · sigmoid(x) is smooth and dips below 0 before it turns into the identity.

# %%
# reference: a figure: Swish(x) against x
ax = plot(x, swish(x), "x", "Swish(x)", figsize=(5, 2.5))
run.show(ax.figure, "swish.png")

# %% [markdown]
# pReLU(x) = max(0, x) + α min(0, x) lets a little of the negative part through (α = 0.2).

# %%
# reference: a figure: pReLU(x) against x, alpha = 0.2
alpha = 0.2
ax = plot(x, prelu(x, alpha), "x", "pReLU(x)", figsize=(5, 2.5))
run.show(ax.figure, "prelu.png")

# %% [markdown]
# Beyond the reference: their derivatives, as for the three above. swish′ = s + x s (1 − s)
# (with s = sigmoid(x)) is 0.5 at 0 and overshoots 1 a little; pReLU′ is α left of 0 and 1
# right of it.

# %%
ax = plot(x, derivative(swish)(x), "x", "grad of Swish", figsize=(5, 2.5))
run.show(ax.figure, "swish_grad.png")
ax = plot(x, derivative(lambda v: prelu(v, alpha))(x), "x", "grad of pReLU", figsize=(5, 2.5))
run.show(ax.figure, "prelu_grad.png")

# %% [markdown]
# ## Autodiff against the closed forms
# The book derives each derivative by hand. Autodiff must give the same values at every x, up
# to float32 rounding (a few units of 1.2e-7 on values of at most about 1.1).

# %%
def closed_form_derivatives(x: jax.Array, alpha: float) -> dict[str, jax.Array]:
    """The derivatives the book derives by hand, at x (n,)."""
    s = jax.nn.sigmoid(x)
    return {
        "relu": (x > 0).astype(x.dtype),
        "sigmoid": s * (1 - s),
        "tanh": 1 - jnp.tanh(x) ** 2,
        "swish": s + x * s * (1 - s),
        "prelu": jnp.where(x > 0, 1.0, alpha),
    }


# %%
activations = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "swish": swish,
               "prelu": lambda v: prelu(v, alpha)}
closed = closed_form_derivatives(x, alpha)
for name, f in activations.items():
    error = float(jnp.max(jnp.abs(derivative(f)(x) - closed[name])))
    metrics["max_grad_error"][name] = error
    print(f"{name:8s} max |autodiff - closed form| = {error:.1e}")

# %% [markdown]
# The book's landmarks at x = 0: sigmoid′(0) = 0.25 (its maximum), tanh′(0) = 1, swish′(0) =
# 0.5, and ReLU′(0) = 0 and pReLU′(0) = α by the left-hand convention.

# %%
for name, f in activations.items():
    metrics["grad_at_0"][name] = float(jax.grad(f)(0.0))
metrics["grad_at_0"]

# %% [markdown]
# ## Results
# `metrics.json` keeps the autodiff errors and the derivatives at 0 (tests/test_sections_ch5.py).

# %%
run.save_metrics({**metrics, "x_shape": x.shape, "alpha": alpha})
