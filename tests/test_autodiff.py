"""jaxhw.autodiff: the book's control-flow f, its jittable twin, and the VJP with ones."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxhw.autodiff import control_flow_f, control_flow_f_jit, vjp_with_ones

pytestmark = pytest.mark.numerical  # rerun under a second CPU ISA by make test

KEYS = 6


def _a_values() -> jax.Array:
    """Random scalars from several keys, each also with its sign flipped: (2 * KEYS,)."""
    draws = jax.vmap(lambda k: jax.random.normal(k, ()))(jax.random.split(jax.random.key(0), KEYS))
    return jnp.concatenate([draws, -draws])


def test_book_f_gradient_is_f_over_a_for_both_signs():
    a_values = _a_values()
    assert bool((a_values < 0).any()) and bool((a_values > 0).any())
    for a in a_values:
        grad = jax.grad(control_flow_f)(a)
        chex.assert_shape(grad, ())
        chex.assert_type(grad, jnp.float32)
        chex.assert_trees_all_close(grad, control_flow_f(a) / a, rtol=0, atol=0)


def test_book_f_values_are_the_books_piecewise_map():
    # 0.3 doubles 12 times to 1228.8; -0.15 doubles 13 times, then the negative branch * 100.
    chex.assert_trees_all_close(control_flow_f(jnp.float32(0.3)), jnp.float32(0.3 * 2**12))
    chex.assert_trees_all_close(control_flow_f(jnp.float32(-0.15)),
                                jnp.float32(-0.15 * 2**13 * 100))
    chex.assert_trees_all_close(jax.grad(control_flow_f)(jnp.float32(-0.15)),
                                jnp.float32(2**13 * 100), rtol=0, atol=0)


def test_jit_of_book_f_fails_on_python_control_flow():
    with pytest.raises(jax.errors.TracerBoolConversionError,
                       match="Attempted boolean conversion of traced array"):
        jax.jit(control_flow_f)(jnp.float32(0.5))


def test_reverse_mode_through_data_dependent_while_loop_is_unsupported():
    def doubled(a):
        return lax.while_loop(lambda b: jnp.abs(b) < 1000, lambda b: b * 2, a)

    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work"):
        jax.grad(doubled)(jnp.float32(0.5))


class JittableFTest(chex.TestCase):
    """The same checks with and without jit, as optax's tests do."""

    @chex.variants(with_jit=True, without_jit=True)
    def test_values_and_grads_equal_the_book_exactly(self):
        f = self.variant(control_flow_f_jit)
        grad_f = self.variant(jax.grad(control_flow_f_jit))
        for a in _a_values():
            chex.assert_trees_all_close(f(a), control_flow_f(a), rtol=0, atol=0)
            chex.assert_trees_all_close(grad_f(a), jax.grad(control_flow_f)(a), rtol=0, atol=0)

    @chex.variants(with_jit=True, without_jit=True)
    def test_vectors_follow_the_norm_and_the_sign_of_the_sum(self):
        a = jnp.array([0.1, -0.3])
        chex.assert_trees_all_close(self.variant(control_flow_f_jit)(a), control_flow_f(a),
                                    rtol=0, atol=0)

    @chex.variants(with_jit=True, without_jit=True)
    def test_tiny_input_does_not_overflow_the_scale(self):
        # 1e-30 doubles 110 times: the slope 2**110 is large but finite.
        a = jnp.float32(1e-30)
        chex.assert_trees_all_close(self.variant(control_flow_f_jit)(a), control_flow_f(a),
                                    rtol=0, atol=0)
        grad = self.variant(jax.grad(control_flow_f_jit))(a)
        chex.assert_tree_all_finite(grad)
        chex.assert_trees_all_close(grad, jax.grad(control_flow_f)(a), rtol=0, atol=0)
        # 2e-38 doubles 135 times and 2**135 > float32 max: one scale factor would overflow
        # to inf; the two balanced halves keep the value exact. The true slope is inf.
        small = jnp.float32(2e-38)
        chex.assert_trees_all_close(self.variant(control_flow_f_jit)(small),
                                    control_flow_f(small), rtol=0, atol=0)
        assert np.isinf(self.variant(jax.grad(control_flow_f_jit))(small))

    @chex.variants(with_jit=True, without_jit=True)
    def test_zero_terminates(self):
        chex.assert_trees_all_close(self.variant(control_flow_f_jit)(jnp.float32(0.0)),
                                    jnp.float32(0.0))

    def test_vmap_of_grad(self):
        a_values = _a_values()
        grads = jax.jit(jax.vmap(jax.grad(control_flow_f_jit)))(a_values)
        chex.assert_shape(grads, a_values.shape)
        expected = jnp.stack([jax.grad(control_flow_f)(a) for a in a_values])
        chex.assert_trees_all_close(grads, expected, rtol=0, atol=0)


def test_book_f_zero_terminates():
    chex.assert_trees_all_close(control_flow_f(jnp.float32(0.0)), jnp.float32(0.0))


def test_vjp_with_ones_is_grad_of_sum():
    x = jnp.arange(4.0)
    vjp = vjp_with_ones(lambda x: x * x, x)
    chex.assert_shape(vjp, (4,))
    chex.assert_type(vjp, jnp.float32)
    chex.assert_trees_all_close(vjp, jnp.array([0.0, 2.0, 4.0, 6.0]), rtol=0, atol=0)
    chex.assert_trees_all_close(vjp_with_ones(jnp.sin, x), jnp.cos(x))
