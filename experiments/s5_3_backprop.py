# %% [markdown]
# # 5.3 Forward propagation, backward propagation, and computational graphs
# The book's one-hidden-layer network without biases and with an L2 penalty:
# z = W1 x, h = tanh(z), o = W2 h, J = L(o, y) + lambda / 2 (||W1||^2 + ||W2||^2).
# Backpropagation by hand, following the book's chain rule, against `jax.grad` and against
# finite differences (`jax.test_util.check_grads`), and the memory cost the book points out:
# what the forward pass must keep for the backward pass, hand-written vs JAX's own choice.

# %%
from __future__ import annotations

import math
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
from jax.test_util import check_grads

from experiments.runner import run_as_script
from jaxhw import backprop
from jaxhw.board import save_figure

SECTION = "5.3"
TITLE = "Forward propagation, backward propagation, and computational graphs"
LAM = 0.01


# %%
def problem(key: jax.Array, n: int, d: int, h: int, q: int):
    """Random params, inputs X (n, d) and labels y (n,) for the network."""
    kp, kx, ky = jax.random.split(key, 3)
    params = backprop.init(kp, num_inputs=d, num_hiddens=h, num_outputs=q)
    return params, jax.random.normal(kx, (n, d)), jax.random.randint(ky, (n,), 0, q)


def kept_bytes(lines: list[str]) -> int:
    """Total bytes of the residual arrays described as 'f32[a,b] ...' (4 bytes per element)."""
    total = 0
    for line in lines:
        dims = line.split()[0].split("[")[1].rstrip("]")
        total += 4 * math.prod(int(s) for s in dims.split(",") if s)
    return total


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    n, d, h, q = (16, 8, 6, 3) if quick else (256, 784, 256, 10)
    params, X, y = problem(jax.random.key(seed), n, d, h, q)

    # %% By hand vs jax.grad.
    by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
    by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, LAM)
    diff = {k: float(jnp.max(jnp.abs(by_hand[k] - by_jax[k]))) for k in by_hand}
    chex.assert_trees_all_close(by_hand, by_jax, rtol=1e-5, atol=1e-6)
    print(f"max |hand - jax.grad|: {diff}")

    # %% The hand-written backward pass against finite differences (in float64, small net).
    with jax.enable_x64(True):
        p64, X64, y64 = problem(jax.random.key(seed + 1), 8, 5, 4, 3)
        check_grads(jax.jit(lambda p: backprop.objective_by_hand(p, X64, y64, LAM)), (p64,),
                    order=1, modes=("rev",), rtol=1e-6, atol=1e-8)
    print("check_grads: hand-written backward pass agrees with finite differences")

    # %% What the forward pass keeps: ours is Saved (X, H, P) plus the weights and labels.
    hand_kept = backprop.vjp_residuals(backprop.objective_by_hand, params, X, y, LAM)
    jax_kept = backprop.vjp_residuals(backprop.objective, params, X, y, LAM)
    print("hand-written backward pass keeps:\n  " + "\n  ".join(hand_kept))
    print("jax.grad keeps:\n  " + "\n  ".join(jax_kept))

    # %% The gradients side by side: entries of dJ/dW2 by hand against jax.grad.
    fig, axes = plt.subplots(1, 2, figsize=(7, 3))
    for ax, name in zip(axes, ("W1", "W2"), strict=True):
        ax.scatter(jnp.ravel(by_jax[name]), jnp.ravel(by_hand[name]), s=2)
        ax.set_xlabel(f"jax.grad dJ/d{name}")
        ax.set_ylabel(f"by hand dJ/d{name}")
        ax.set_title(f"max |diff| = {diff[name]:.1e}")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_dir / "hand_vs_jax_grad.png")

    return {
        "max_abs_grad_diff": max(diff.values()),
        "max_abs_grad_diff_per_param": diff,
        "check_grads_passed": True,
        "hand_residuals": hand_kept,
        "jax_residuals": jax_kept,
        "hand_residual_bytes": kept_bytes(hand_kept),
        "jax_residual_bytes": kept_bytes(jax_kept),
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
