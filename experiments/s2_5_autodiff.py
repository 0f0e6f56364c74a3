"""2.5 Automatic differentiation: jax.grad, vjp, stop_gradient, gradients through control flow."""

# %% [markdown]
# # 2.5 Automatic Differentiation
# In JAX a gradient is a function: `jax.grad(f)` returns a new function that computes df/dx.
# Nothing is stored on the input (there is no `x.grad`), so gradients never accumulate and
# there is nothing to zero between calls.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
from jax import lax

from experiments.runner import run_as_script
from jaxhw.autodiff import control_flow_f, control_flow_f_jit, vjp_with_ones
from jaxhw.board import plot, save_figure

SECTION = "2.5"
TITLE = "Automatic Differentiation"


def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the section's cells; return the gradients and write f_and_grad.png into out_dir."""
    m: dict[str, Any] = {}

    # %% [markdown]
    # ## A simple function
    # y = 2 x.x has gradient 4x.

    # %%
    x = jnp.arange(4.0)
    m["y_2xTx"] = 2 * jnp.dot(x, x)
    grad_2xTx = jax.grad(lambda x: 2 * jnp.dot(x, x))(x)
    m["grad_2xTx"] = grad_2xTx
    m["grad_2xTx_is_4x"] = bool(jnp.array_equal(grad_2xTx, 4 * x))

    # %% [markdown]
    # A second function gets its own gradient; the first one is not added to it, as PyTorch's
    # `x.grad` would be without `x.grad.zero_()`.

    # %%
    grad_sum = jax.grad(jnp.sum)(x)
    m["grad_sum"] = grad_sum
    m["grad_2xTx_again_equal"] = bool(
        jnp.array_equal(jax.grad(lambda x: 2 * jnp.dot(x, x))(x), grad_2xTx))

    # %% [markdown]
    # ## Backward for non-scalar variables
    # For y = x * x (a vector), `jax.grad` refuses; the vector-Jacobian product with a vector
    # of ones (`jax.vjp`) is the book's `y.backward(gradient=ones)`, and equals grad of sum(y).

    # %%
    vjp = vjp_with_ones(lambda x: x * x, x)
    m["vjp_x_times_x"] = vjp
    m["vjp_equals_grad_of_sum"] = bool(
        jnp.array_equal(vjp, jax.grad(lambda x: jnp.sum(x * x))(x)))

    # %% [markdown]
    # ## Detaching computation
    # `lax.stop_gradient(x * x)` is a constant to differentiation: grad of sum(u * x) is u.

    # %%
    u = lax.stop_gradient(x * x)
    detach_grad = jax.grad(lambda x: jnp.sum(lax.stop_gradient(x * x) * x))(x)
    m["detach_grad"] = detach_grad
    m["detach_grad_equals_u"] = bool(jnp.array_equal(detach_grad, u))
    m["grad_sum_x_times_x"] = jax.grad(lambda x: jnp.sum(x * x))(x)

    # %% [markdown]
    # ## Gradients and Python control flow
    # The book's f doubles a until its norm reaches 1000, then branches on the sign, so
    # f(a) = k a for a constant k that depends on a, and grad f(a) = f(a) / a. `jax.grad`
    # follows the Python `while`/`if` because the values are concrete when it runs them. We
    # try several keys, and each a with its sign flipped, so both branches are taken.

    # %%
    num_keys = 4 if quick else 8
    keys = jax.random.split(jax.random.key(seed), num_keys)
    draws = jax.vmap(lambda k: jax.random.normal(k, ()))(keys)
    a_values = jnp.concatenate([draws, -draws])
    grad_f = jax.grad(control_flow_f)
    book_values = jnp.stack([control_flow_f(a) for a in a_values])
    grads = jnp.stack([grad_f(a) for a in a_values])
    ratios = book_values / a_values
    m["control_flow_a"] = a_values
    m["control_flow_grad"] = grads
    m["control_flow_max_abs_err"] = jnp.max(jnp.abs(grads - ratios))
    m["control_flow_max_rel_err"] = jnp.max(jnp.abs(grads - ratios) / ratios)

    # %% [markdown]
    # `jax.jit` traces with abstract values, so the same Python `while` cannot decide:

    # %%
    try:
        jax.jit(control_flow_f)(a_values[0])
    except jax.errors.TracerBoolConversionError as err:
        m["jit_error"] = f"TracerBoolConversionError: {str(err).splitlines()[0]}"

    # %% [markdown]
    # Writing the loop as `lax.while_loop` makes it jittable, but reverse mode cannot go
    # through a loop whose trip count depends on the data:

    # %%
    def doubled_until_large(a):
        return lax.while_loop(lambda b: jnp.abs(b) < 1000, lambda b: b * 2, a * 2)

    try:
        jax.grad(doubled_until_large)(a_values[0])
    except ValueError as err:
        m["while_loop_grad_error"] = f"ValueError: {str(err).splitlines()[0]}"

    # %% [markdown]
    # The trip count has zero derivative anyway. `control_flow_f_jit` counts the doublings
    # under `stop_gradient` with `lax.while_loop`, then applies a -> 2**n a to a itself and
    # picks the branch with `jnp.where`. It jits, vmaps and differentiates, and agrees with
    # the book's f exactly.

    # %%
    f_and_grad_jit = jax.jit(jax.vmap(jax.value_and_grad(control_flow_f_jit)))
    jit_values, jit_grads = f_and_grad_jit(a_values)
    m["jit_grad_max_abs_diff"] = jnp.max(jnp.abs(jit_grads - grads))
    m["jit_value_max_abs_diff"] = jnp.max(jnp.abs(jit_values - book_values))

    # %% [markdown]
    # f is piecewise linear, so its gradient is a step function: each halving of |a| doubles
    # the slope, and negative a pay the extra factor 100. (The NaN in the grid only breaks the
    # line around a = 0, where the slope grows without bound.)

    # %%
    grid = jnp.concatenate([jnp.linspace(-2.0, -0.05, 300), jnp.array([jnp.nan]),
                            jnp.linspace(0.05, 2.0, 300)])
    values, slopes = f_and_grad_jit(grid)
    fig, ax = plt.subplots(figsize=(5, 3))
    plot(grid, [slopes, values / grid], xlabel="a",
         ylabel="slope", legend=["grad f(a)", "f(a) / a"], yscale="log", fmts=("-", "m--"),
         axes=ax, title="the book's control-flow f")
    save_figure(fig, out_dir / "f_and_grad.png")
    return m


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
