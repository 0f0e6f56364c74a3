# %% [markdown]
# # 5.1 Multilayer perceptrons: activation functions
# ReLU, sigmoid, tanh, swish (x * sigmoid(x)) and pReLU (alpha = 0.2) on arange(-8, 8, 0.1),
# and their derivatives by `jax.vmap(jax.grad(f))`, checked against the closed forms
# relu' = step, sigmoid' = s (1 - s), tanh' = 1 - tanh^2, swish' = s + x s (1 - s),
# prelu' = 1 or alpha.

# %%
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from experiments.runner import run_as_script
from jaxhw.board import plot, save_figure
from jaxhw.nn.activations import activations, derivative

SECTION = "5.1"
TITLE = "Activation functions"
ALPHA = 0.2


# %%
def closed_form_derivatives(x: jax.Array) -> dict[str, jax.Array]:
    """The derivatives the book derives by hand, at x (n,)."""
    s = jax.nn.sigmoid(x)
    return {
        "relu": (x > 0).astype(x.dtype),
        "sigmoid": s * (1 - s),
        "tanh": 1 - jnp.tanh(x) ** 2,
        "swish": s + x * s * (1 - s),
        "prelu": jnp.where(x > 0, 1.0, ALPHA),
    }


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    del quick, seed  # deterministic and already fast
    out_dir = Path(out_dir)
    x = jnp.arange(-8.0, 8.0, 0.1)
    fns = activations()
    # jit: one compiled program per function instead of one per primitive op.
    values = {name: jax.jit(f)(x) for name, f in fns.items()}
    grads = {name: jax.jit(derivative(f))(x) for name, f in fns.items()}
    closed = jax.jit(closed_form_derivatives)(x)
    errors = {name: float(jnp.max(jnp.abs(grads[name] - closed[name]))) for name in fns}
    for name, err in errors.items():
        print(f"{name:8s} max |autodiff - closed form| = {err:.2e}")

    # %% One row of activations, one row of their gradients, as the book's figures.
    fig, axes = plt.subplots(2, len(fns), figsize=(3 * len(fns), 5), sharex=True)
    for col, name in enumerate(fns):
        plot(x, values[name], "x", f"{name}(x)", axes=axes[0, col], title=name)
        plot(x, grads[name], "x", f"grad of {name}", axes=axes[1, col])
    fig.tight_layout()
    save_figure(fig, out_dir / "activations.png")

    # The book's landmarks: sigmoid'(0) = 0.25 (its maximum), tanh'(0) = 1, relu'(0) := 0.
    at_zero = {name: float(jax.grad(f)(0.0)) for name, f in fns.items()}
    return {"max_grad_error": errors, "grad_at_0": at_zero}


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
