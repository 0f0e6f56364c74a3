import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhw.nn.dense import THIN_OUTPUTS, dense


@pytest.mark.parametrize("q", [3, THIN_OUTPUTS + 36], ids=["thin", "wide"])
def test_value_and_gradients_equal_plain_matmul(q):
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    X = jax.random.normal(kx, (32, 20))
    W = jax.random.normal(kw, (20, q))
    G = jax.random.normal(kg, (32, q))
    y = dense(X, W)
    chex.assert_shape(y, (32, q))
    chex.assert_type(y, jnp.float32)
    np.testing.assert_allclose(y, X @ W, rtol=1e-6)
    ours = jax.grad(lambda X, W: jnp.sum(dense(X, W) * G), argnums=(0, 1))(X, W)
    plain = jax.grad(lambda X, W: jnp.sum((X @ W) * G), argnums=(0, 1))(X, W)
    chex.assert_trees_all_close(ours, plain, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_equal_shapes_and_dtypes(ours, (X, W))


def test_jit_and_vmap():
    X = jnp.ones((2, 4, 5))
    W = jnp.ones((2, 5, 3))
    out = jax.jit(jax.vmap(dense))(X, W)
    np.testing.assert_allclose(out, np.full((2, 4, 3), 5.0))
    grads = jax.jit(jax.vmap(jax.grad(lambda X, W: dense(X, W).sum(), argnums=1)))(X, W)
    np.testing.assert_allclose(grads, np.full((2, 5, 3), 4.0))
