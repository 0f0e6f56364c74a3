"""Forward propagation, backward propagation by hand, and what lies between them (5.3).

The book's network with one hidden layer and no biases, here on a minibatch (rows are examples,
so the book's column-vector `z = W1 x` becomes `Z = X W1^T`):

    Z = X W1^T,  H = tanh(Z),  O = H W2^T,  L = cross-entropy(O, y),
    s = lambda / 2 (||W1||_F^2 + ||W2||_F^2),  J = L + s.

`backward` applies the book's chain-rule formulas to what `forward` saved, and must agree with
`jax.grad(objective)`. tanh stands for the book's generic phi: it is smooth, so finite
differences (`jax.test_util.check_grads`) approximate it everywhere (ReLU's kink would not), and
phi'(z) = 1 - h^2 means the backward pass needs H but not Z.

`rounding_bound` says how far two correct float32 computations of these gradients may drift
apart: a worst-case rounding-error analysis, so a comparison with jax.grad is tight without
depending on the summation order that XLA's kernels pick on a given CPU.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxhw.models.checks import check_sizes
from jaxhw.nn.losses import cross_entropy
from jaxhw.nn.softmax import softmax

Params = dict[str, Array]


class Saved(NamedTuple):
    """What the forward pass keeps for the backward pass: X (n, d), H (n, h), P = softmax(O)."""

    X: Array
    H: Array
    P: Array


# jit: one compiled program instead of one per random op (eager ops each compile).
@functools.partial(jax.jit, static_argnames=("num_inputs", "num_hiddens", "num_outputs"))
def init(key: Array, num_inputs: int, num_hiddens: int, num_outputs: int,
         sigma: float = 0.5) -> Params:
    """W1: (num_hiddens, num_inputs), W2: (num_outputs, num_hiddens) ~ N(0, sigma^2); no biases."""
    check_sizes(num_inputs=num_inputs, num_hiddens=num_hiddens, num_outputs=num_outputs)
    k1, k2 = jax.random.split(key)
    return {"W1": sigma * jax.random.normal(k1, (num_hiddens, num_inputs)),
            "W2": sigma * jax.random.normal(k2, (num_outputs, num_hiddens))}


def penalty(params: Params, lam: float) -> Array:
    """s = lambda / 2 (||W1||_F^2 + ||W2||_F^2), a scalar."""
    return lam / 2 * (jnp.sum(params["W1"] ** 2) + jnp.sum(params["W2"] ** 2))


def forward(params: Params, X: Array, y: Array, lam: float) -> tuple[Array, Saved]:
    """J for X (n, d) and labels y (n,), and the intermediates `backward` needs."""
    Z = X @ params["W1"].T
    H = jnp.tanh(Z)
    logits = H @ params["W2"].T  # the book's o
    J = cross_entropy(logits, y) + penalty(params, lam)
    return J, Saved(X, H, softmax(logits))


def objective(params: Params, X: Array, y: Array, lam: float) -> Array:
    """J = L + s, the regularised objective; a scalar."""
    return forward(params, X, y, lam)[0]


def backward(params: Params, saved: Saved, y: Array, lam: float) -> Params:
    """dJ/dW1 and dJ/dW2 by the book's chain rule, from what `forward` saved."""
    X, H, P = saved
    n, q = P.shape
    dO = (P - jax.nn.one_hot(y, q, dtype=P.dtype)) / n  # dJ/dO = dL/dO, for the mean loss
    dW2 = dO.T @ H + lam * params["W2"]                   # dJ/dW2 = dJ/do h^T + lambda W2
    dH = dO @ params["W2"]                                # dJ/dh = W2^T dJ/do
    dZ = dH * (1 - H ** 2)                                # dJ/dz = dJ/dh * phi'(z)
    dW1 = dZ.T @ X + lam * params["W1"]                   # dJ/dW1 = dJ/dz x^T + lambda W1
    return {"W1": dW1, "W2": dW2}


def grads_by_hand(params: Params, X: Array, y: Array, lam: float) -> Params:
    """Forward, keep the intermediates, then `backward`: the same pytree as jax.grad(objective)."""
    _, saved = forward(params, X, y, lam)
    return backward(params, saved, y, lam)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def objective_by_hand(params: Params, X: Array, y: Array, lam: float) -> Array:
    """J, whose reverse-mode derivative is `backward`: lets jax.grad and check_grads test it."""
    return objective(params, X, y, lam)


def _objective_fwd(params: Params, X: Array, y: Array, lam: float):
    J, saved = forward(params, X, y, lam)
    return J, (params, saved, y)


def _objective_bwd(lam: float, residuals, g: Array):
    params, saved, y = residuals
    grads = jax.tree.map(lambda d: g * d, backward(params, saved, y, lam))
    return grads, None, None  # X and y are data: no cotangents


objective_by_hand.defvjp(_objective_fwd, _objective_bwd)


def vjp_residuals(f: Callable[[Params, Array, Array, float], Array], params: Params, X: Array,
                  y: Array, lam: float) -> list[str]:
    """What reverse mode keeps from f's forward pass for the backward pass, one line per array.

    Each line is "dtype[shape] origin", as `jax.ad_checkpoint.print_saved_residuals` prints it
    (source paths shortened to file names); f is `objective` (JAX's own choice) or
    `objective_by_hand` (`Saved` plus the weights and labels).
    """
    from jax.ad_checkpoint import print_saved_residuals

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_saved_residuals(lambda p: f(p, X, y, lam), params)
    return [re.sub(r"from \S*/([^/\s]+:\d+:\d+)", r"from \1", line)
            for line in out.getvalue().splitlines() if line.strip()]


def rounding_bound(params: Params, X: Array, y: Array, lam: float,
                   dtype: np.dtype | type = np.float32) -> Params:
    """Elementwise bound on |computed - exact| for `grads_by_hand` in `dtype`: W1 (h, d), W2 (q, h).

    First-order running error analysis (Higham, *Accuracy and Stability of Numerical
    Algorithms*, ch. 3): with unit roundoff u (2**-24 for float32), a sum of k products is off
    by at most k u times the sum of the products' magnitudes, in any summation order (so on any
    SIMD kernel), and each elementwise step adds a few u of its result. Each intermediate's
    error bound is carried forward through the formulas of `forward` and `backward`; an error
    e in the logits scales softmax's P by at most exp(2 max |e|), which is how the logits'
    magnitude (the problem's conditioning) enters. First order in u (valid while every sum's
    k u << 1); computed in float64 numpy.
    """
    u = np.finfo(dtype).eps / 2
    W1, W2 = (np.asarray(params[k], np.float64) for k in ("W1", "W2"))
    X = np.asarray(X, np.float64)
    n, d = X.shape
    h, q = W2.shape[1], W2.shape[0]
    Y = np.eye(q)[np.asarray(y)]
    # Forward: Z = X W1^T (sums of d), H = tanh Z (a few ulps), O = H W2^T (sums of h).
    H = np.tanh(X @ W1.T)
    eH = (1 - H**2) * d * u * (np.abs(X) @ np.abs(W1).T) + 8 * u * np.abs(H)
    logits = H @ W2.T  # the book's o
    eO = h * u * (np.abs(H) @ np.abs(W2).T) + eH @ np.abs(W2).T
    # P = exp(log_softmax(O)): an error e in the logits scales P by at most exp(2 e); the
    # shift, log-sum-exp (q terms) and exp round on values up to the row's range R (+ log q).
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    R = np.ptp(logits, axis=1, keepdims=True) + np.log(q)
    eP = P * (2 * eO.max(axis=1, keepdims=True) + u * (4 * R + q + 8))
    # Backward, as `backward` writes it; dO, dH, dZ here are magnitudes (upper bounds).
    dO = np.abs(P - Y) / n
    e_dO = (eP + 2 * u * (P + Y)) / n
    eW2 = n * u * dO.T @ np.abs(H) + e_dO.T @ np.abs(H) + dO.T @ eH
    dH = dO @ np.abs(W2)
    e_dH = q * u * dH + e_dO @ np.abs(W2)
    dZ = dH * (1 - H**2)
    e_dZ = e_dH * (1 - H**2) + dH * (2 * np.abs(H) * eH + 3 * u * (1 + H**2))
    eW1 = n * u * dZ.T @ np.abs(X) + e_dZ.T @ np.abs(X)
    # lam W: the product, lam's own rounding and the final addition, each within u.
    return {"W1": eW1 + 3 * u * (lam * np.abs(W1) + dZ.T @ np.abs(X)),
            "W2": eW2 + 3 * u * (lam * np.abs(W2) + dO.T @ np.abs(H))}
