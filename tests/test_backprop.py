"""5.3: hand-written backpropagation against jax.grad and finite differences."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxhw import backprop

LAM = 0.1


def _problem(dtype=np.float32, n: int = 32, d: int = 20, h: int = 16, q: int = 5):
    rng = np.random.default_rng(0)
    params = {"W1": jnp.asarray(0.5 * rng.normal(size=(h, d)), dtype),
              "W2": jnp.asarray(0.5 * rng.normal(size=(q, h)), dtype)}
    X = jnp.asarray(rng.normal(size=(n, d)), dtype)
    y = jnp.asarray(rng.integers(0, q, size=n), jnp.int32)
    return params, X, y


def test_init_shapes_follow_the_book():
    params = backprop.init(jax.random.key(0), num_inputs=4, num_hiddens=3, num_outputs=2)
    chex.assert_shape(params["W1"], (3, 4))
    chex.assert_shape(params["W2"], (2, 3))


def test_hand_gradients_equal_jax_grad_float32():
    params, X, y = _problem()
    by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
    by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, LAM)
    chex.assert_trees_all_equal_shapes_and_dtypes(by_hand, by_jax)
    # float32 cancellation leaves entries near 0 (|g| ~ 1e-5) a few ulps of 0.1 apart: atol.
    chex.assert_trees_all_close(by_hand, by_jax, rtol=1e-5, atol=1e-6)


def test_hand_gradients_equal_jax_grad_float64():
    with jax.enable_x64(True):
        params, X, y = _problem(np.float64)
        by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
        by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, LAM)
        chex.assert_type(by_hand["W1"], jnp.float64)
        chex.assert_trees_all_close(by_hand, by_jax, rtol=1e-5, atol=0)


def test_hand_backward_passes_check_grads():
    # objective_by_hand's reverse mode *is* `backward`, so check_grads compares the
    # hand-written pass with finite differences of J (jit: one compile instead of one per op).
    params, X, y = _problem()
    check_grads(jax.jit(lambda p: backprop.objective_by_hand(p, X, y, LAM)), (params,),
                order=1, modes=("rev",))
    with jax.enable_x64(True):
        params, X, y = _problem(np.float64)
        check_grads(jax.jit(lambda p: backprop.objective_by_hand(p, X, y, LAM)), (params,),
                    order=1, modes=("rev",), rtol=1e-6, atol=1e-8)


def test_penalty_adds_lambda_w():
    params, X, y = _problem()
    grads = jax.jit(backprop.grads_by_hand)
    with_penalty, without = grads(params, X, y, LAM), grads(params, X, y, 0.0)
    for name in ("W1", "W2"):
        np.testing.assert_allclose(with_penalty[name] - without[name], LAM * params[name],
                                   rtol=1e-4, atol=1e-6)
    assert float(backprop.penalty(params, LAM)) == pytest.approx(
        LAM / 2 * float(jnp.sum(params["W1"] ** 2) + jnp.sum(params["W2"] ** 2)), rel=1e-6)


def test_forward_keeps_inputs_hidden_activations_and_probabilities():
    params, X, y = _problem()
    J, saved = jax.jit(backprop.forward)(params, X, y, LAM)
    chex.assert_shape(J, ())
    chex.assert_shape((saved.X, saved.H, saved.P), ((32, 20), (32, 16), (32, 5)))
    np.testing.assert_allclose(saved.H, np.tanh(np.asarray(X) @ np.asarray(params["W1"]).T),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(saved.P.sum(axis=1), np.ones(32), rtol=1e-5)


def test_vjp_residuals_list_what_the_forward_pass_keeps():
    params, X, y = _problem()
    jax_lines = backprop.vjp_residuals(backprop.objective, params, X, y, LAM)
    hand_lines = backprop.vjp_residuals(backprop.objective_by_hand, params, X, y, LAM)
    # JAX's reverse mode keeps the hidden activations tanh(Z) (n, h) among its residuals...
    assert any(line.startswith("f32[32,16]") and "tanh" in line for line in jax_lines)
    # ...and the hand-written pass keeps exactly Saved (X, H, P), the labels and the weights.
    shapes = sorted(line.split()[0] for line in hand_lines)
    assert shapes == sorted(["f32[32,20]", "f32[32,16]", "f32[32,5]", "i32[32]",
                             "f32[16,20]", "f32[5,16]"])
