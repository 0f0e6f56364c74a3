"""5.3: hand-written backpropagation against jax.grad and finite differences."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxhw import backprop

pytestmark = pytest.mark.numerical  # rerun under a second CPU ISA by make test

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


def _float64(tree):
    """The same values as float64 arrays (call under jax.enable_x64(True))."""
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a), jnp.float64), tree)


def test_hand_gradients_equal_jax_grad_float32():
    # Two correct float32 computations of the same gradient differ only by rounding, and each
    # is within `rounding_bound` of the exact value (a worst-case analysis from float32's unit
    # roundoff 2**-24, the lengths of the sums (n = 32, d = 20, h = 16, q = 5) and the logits'
    # magnitudes), so they are within twice that of each other whatever order XLA's kernels
    # sum in on this CPU.
    params, X, y = _problem()
    by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
    by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, LAM)
    chex.assert_trees_all_equal_shapes_and_dtypes(by_hand, by_jax)
    bound = backprop.rounding_bound(params, X, y, LAM)
    for name in ("W1", "W2"):
        gap = np.abs(np.asarray(by_hand[name], np.float64) - np.asarray(by_jax[name]))
        assert np.all(gap <= 2 * bound[name]), (name, np.max(gap / bound[name]))


def test_rounding_bound_is_tight_and_holds_against_float64():
    # The bound is a real check: here it stays below 1e-3 of the largest gradient entry, so a
    # wrong formula (a missing factor, a sign) cannot hide under it...
    params, X, y = _problem()
    by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
    bound = backprop.rounding_bound(params, X, y, LAM)
    for name in ("W1", "W2"):
        assert np.max(bound[name]) < 1e-3 * np.max(np.abs(by_hand[name]))
    # ...and it holds: float32 against the same inputs in float64, whose own rounding is 2**29
    # times smaller.
    with jax.enable_x64(True):
        exact = jax.jit(backprop.grads_by_hand)(_float64(params), _float64(X), y, LAM)
    for name in ("W1", "W2"):
        gap = np.abs(np.asarray(by_hand[name], np.float64) - np.asarray(exact[name]))
        assert np.all(gap <= bound[name]), (name, np.max(gap / bound[name]))


def test_rounding_bound_shapes_and_unit_roundoff():
    params, X, y = _problem()
    bound32 = backprop.rounding_bound(params, X, y, LAM)
    bound64 = backprop.rounding_bound(params, X, y, LAM, dtype=np.float64)
    chex.assert_trees_all_equal_shapes(bound32, params)
    for name in ("W1", "W2"):
        assert np.all(bound32[name] > 0)
        # Every term is linear in the unit roundoff: 2**-24 against 2**-53.
        np.testing.assert_allclose(bound32[name] / bound64[name], 2.0**29, rtol=1e-12)


def test_hand_gradients_equal_jax_grad_float64():
    with jax.enable_x64(True):
        params, X, y = _problem(np.float64)
        by_hand = jax.jit(backprop.grads_by_hand)(params, X, y, LAM)
        by_jax = jax.jit(jax.grad(backprop.objective))(params, X, y, LAM)
        chex.assert_type(by_hand["W1"], jnp.float64)
    bound = backprop.rounding_bound(params, X, y, LAM, dtype=np.float64)
    for name in ("W1", "W2"):
        assert np.all(np.abs(by_hand[name] - by_jax[name]) <= 2 * bound[name])


def test_hand_backward_passes_check_grads_float64():
    # objective_by_hand's reverse mode *is* `backward`, so check_grads compares the
    # hand-written pass with central differences of J along a random direction v. Only in
    # float64: float32 differences of J (~7, rounded to ~5e-7) over a step eps carry an error
    # ~ u |J| / eps that swamps any useful tolerance. In float64 the error is the truncation
    # eps^2 |d^3J/dt^3| / 6 (about 180 along check_grads' direction here) plus the rounding
    # 1.1e-16 |J| / eps: with eps = 1e-6 both stay under 1e-9 of dJ.v (0.73), a thousand
    # times below rtol = 1e-6, while a wrong formula is off by far more.
    with jax.enable_x64(True):
        params, X, y = _problem(np.float64)
        check_grads(jax.jit(lambda p: backprop.objective_by_hand(p, X, y, LAM)), (params,),
                    order=1, modes=("rev",), eps=1e-6, rtol=1e-6, atol=1e-8)


def test_check_grads_float64_catches_a_wrong_backward(monkeypatch):
    # The same check fails for a backward pass that drops the penalty's lambda W2.
    original = backprop.backward

    def without_penalty_on_w2(params, saved, y, lam):
        grads = original(params, saved, y, lam)
        return {**grads, "W2": grads["W2"] - lam * params["W2"]}

    monkeypatch.setattr(backprop, "backward", without_penalty_on_w2)
    with jax.enable_x64(True):
        params, X, y = _problem(np.float64)
        with pytest.raises(AssertionError):
            check_grads(jax.jit(lambda p: backprop.objective_by_hand(p, X, y, LAM)), (params,),
                        order=1, modes=("rev",), eps=1e-6, rtol=1e-6, atol=1e-8)


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
