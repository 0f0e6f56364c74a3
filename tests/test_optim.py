import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from jaxhw import optim, train
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear
from jaxhw.nn.losses import squared_loss

pytestmark = pytest.mark.numerical  # rerun under a second CPU ISA by make test


class SgdTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_update_is_minus_lr_times_grad(self):
        grads = {"w": jnp.array([[1.0], [-2.0]]), "b": jnp.array([0.5])}
        opt = optim.sgd(0.1)
        state = opt.init(grads)
        updates, _ = self.variant(opt.update)(grads, state)
        chex.assert_trees_all_close(updates, {"w": jnp.array([[-0.1], [0.2]]),
                                              "b": jnp.array([-0.05])})
        chex.assert_trees_all_equal_shapes_and_dtypes(updates, grads)

    def test_same_params_as_optax_sgd_through_fit(self):
        (tr, va) = synthetic_regression(jax.random.key(0), jnp.array([2.0, -3.4]), 4.2,
                                        num_train=200, num_val=50)
        params = linear.init(jax.random.key(1), 2)
        loss = train.supervised_loss(linear.apply, squared_loss)
        kwargs = dict(epochs=2, batch_size=16, key=jax.random.key(2), progress=False)
        ours, _, _ = train.fit(loss, params, optim.sgd(0.03), tr, va, **kwargs)
        theirs, _, _ = train.fit(loss, params, optax.sgd(0.03), tr, va, **kwargs)
        chex.assert_trees_all_close(ours, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        optim.sgd(lr)


def test_a_traced_learning_rate_works_through_inject_hyperparams():
    opt = optax.inject_hyperparams(optim.sgd)(learning_rate=0.5)
    grads = {"w": jnp.array([2.0])}
    state = opt.init(grads)
    updates, state = jax.jit(opt.update)(grads, state)
    chex.assert_trees_all_close(updates, {"w": jnp.array([-1.0])})
    assert float(state.hyperparams["learning_rate"]) == 0.5
