"""jaxhw.gradients.value_and_grad: jax.value_and_grad's numbers, with thin gradients laid out for
a CPU."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhw import gradients, train
from jaxhw.models import mlp
from jaxhw.nn.losses import cross_entropy

pytestmark = pytest.mark.numerical

LOSS = train.supervised_loss(mlp.apply, cross_entropy)


def _problem():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 64).astype(np.int32)
    # W1 (784, 100) is wide, W2 (100, 10) thin: both kinds in one model.
    return mlp.init(jax.random.key(0), 784, 100, 10, sigma=0.1), (X, y)


def test_the_same_value_and_gradients_as_jax():
    params, batch = _problem()
    value, grads = jax.jit(gradients.value_and_grad(LOSS))(params, batch)
    want_value, want = jax.jit(jax.value_and_grad(LOSS))(params, batch)
    chex.assert_trees_all_equal_shapes_and_dtypes(grads, want)
    # Each entry is a sum of 64 products either way, added in another order: float32 rounding
    # of a 64-term sum is at most ~64 eps relative to the sum of magnitudes.
    scale = jax.tree.map(lambda g: 64 * np.finfo(np.float32).eps * float(jnp.abs(g).max()), want)
    for name in want:
        np.testing.assert_allclose(grads[name], want[name], rtol=0, atol=scale[name], err_msg=name)
    assert float(value) == pytest.approx(float(want_value), rel=1e-6)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the layout is a CPU detail")
def test_a_thin_weight_gradient_is_computed_as_G_transposed_times_X():
    params, batch = _problem()
    text = jax.jit(gradients.value_and_grad(LOSS)).lower(params, batch).compile().as_text()
    # W2's gradient (100, 10) comes out of the product in the transposed (column-major) layout,
    # {0,1}: XLA computed G^T H; plain jax.value_and_grad asks for the row-major {1,0} one.
    assert "f32[100,10]{0,1} dot(" in text
    plain = jax.jit(jax.value_and_grad(LOSS)).lower(params, batch).compile().as_text()
    assert "f32[100,10]{0,1} dot(" not in plain and "f32[100,10]{1,0} dot(" in plain


def test_takes_whatever_jax_value_and_grad_takes():
    # Before: a Python-float leaf failed outside jit ("'float' object has no attribute 'ndim'").
    def loss(params, x):
        return params["w"] * x + jnp.sum(params["v"] ** 2) + params["m"][0, 0]

    params = {"w": 2.0, "v": np.ones(3, np.float32), "m": np.ones((4, 2), np.float32)}
    value, grads = gradients.value_and_grad(loss)(params, 3.0)
    want_value, want = jax.value_and_grad(loss)(params, 3.0)
    assert value == want_value == 6.0 + 3.0 + 1.0
    chex.assert_trees_all_equal(grads, want)
