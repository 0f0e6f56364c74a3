import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhw.data import batches


def test_epoch_permutation_is_a_permutation_and_keyed():
    a = batches.epoch_permutation(jax.random.key(0), 1000)
    b = batches.epoch_permutation(jax.random.key(0), 1000)
    c = batches.epoch_permutation(jax.random.key(1), 1000)
    chex.assert_shape(a, (1000,))
    chex.assert_type(a, jnp.int32)
    np.testing.assert_array_equal(np.sort(a), np.arange(1000))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_split_batches_keeps_every_index_once():
    order = jnp.arange(10)
    full, rest = batches.split_batches(order, 4)
    chex.assert_shape(full, (2, 4))
    chex.assert_shape(rest, (2,))
    np.testing.assert_array_equal(np.concatenate([full.ravel(), rest]), np.arange(10))


def test_reshape_batches_and_take():
    X = jnp.arange(20.0).reshape(10, 2)
    y = jnp.arange(10)
    full, rest = batches.reshape_batches((X, y), 3)
    chex.assert_shape(full[0], (3, 3, 2))
    chex.assert_shape(rest[1], (1,))
    got = batches.take((X, y), jnp.array([9, 0]))
    np.testing.assert_array_equal(got[1], [9, 0])
    np.testing.assert_array_equal(got[0], [[18.0, 19.0], [0.0, 1.0]])
    images = jnp.arange(5 * 28 * 28, dtype=jnp.int32).astype(jnp.uint8).reshape(5, 28, 28, 1)
    picked = batches.take((images,), jnp.array([[4, 1], [1, 0]]))[0]
    chex.assert_shape(picked, (2, 2, 28, 28, 1))
    chex.assert_type(picked, jnp.uint8)
    np.testing.assert_array_equal(picked[0, 0], images[4])


def test_to_device_copies_numpy_arrays():
    # On the CPU, jax.device_put may share an aligned numpy array's memory; to_device must not.
    buffer = np.zeros(4096 * 3, np.uint8)
    start = -buffer.ctypes.data % 4096
    X = buffer[start:start + 4096].reshape(64, 64)
    dev = batches.to_device((X, np.arange(64)))
    X[0, 0] = 7
    assert int(dev[0][0, 0]) == 0
    chex.assert_type(dev[1], jnp.int32)


def test_to_device_names_the_argument_holding_non_numbers():
    with pytest.raises(ValueError, match="train: arrays must hold numbers or booleans.*object"):
        batches.to_device((np.array([object(), object()]), np.arange(2)), "train")
    with pytest.raises(ValueError, match="val: arrays must hold numbers.*<U1"):
        batches.to_device((np.array(["a", "b"]), np.arange(2)), "val")
    halves = batches.to_device((np.ones(2, jnp.bfloat16), np.array([True, False])))
    chex.assert_type(halves, (jnp.bfloat16, jnp.bool_))


def test_num_examples_errors_name_the_argument():
    with pytest.raises(ValueError, match="train.*different lengths"):
        batches.num_examples((np.zeros((3, 2)), np.zeros(4)), "train")
    with pytest.raises(ValueError, match="val holds no arrays"):
        batches.num_examples((), "val")
    with pytest.raises(ValueError, match="leading example axis"):
        batches.num_examples((np.float32(1.0),), "train")


def test_to_device_keeps_uint8():
    X = np.zeros((4, 28, 28, 1), np.uint8)
    dev = batches.to_device((X, np.arange(4, dtype=np.int32)))
    chex.assert_type(dev[0], jnp.uint8)
    chex.assert_type(dev[1], jnp.int32)
    assert isinstance(dev[0], jax.Array)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4096, 60000, 65537])
def test_epoch_permutation_is_a_permutation_for_all_sizes(n):
    perm = jax.jit(batches.epoch_permutation, static_argnums=1)(jax.random.key(n), n)
    chex.assert_shape(perm, (n,))
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))


def test_shuffle_positions_are_uniform():
    # Over 1000 keys, where index 0 lands and what lands first, in 10 bins: chi-square with
    # 9 degrees of freedom stays below 30 (p < 5e-4) for a uniform shuffle.
    n, keys = 4096, jax.random.split(jax.random.key(5), 1000)
    perms = np.asarray(jax.vmap(lambda k: batches.epoch_permutation(k, n))(keys))
    for values in (perms[:, 0], np.argmax(perms == 0, axis=1), perms[:, n // 2]):
        counts = np.bincount(values * 10 // n, minlength=10)
        assert ((counts - 100) ** 2 / 100).sum() < 30
    assert abs(np.corrcoef(perms[:, :-1].ravel(), perms[:, 1:].ravel())[0, 1]) < 0.01
    # Neighbours end up independent: where 1 lands relative to 0, in 10 bins.
    where = np.argsort(perms, axis=1)
    counts = np.bincount((where[:, 1] - where[:, 0]) % n * 10 // n, minlength=10)
    assert ((counts - 100) ** 2 / 100).sum() < 30


@pytest.mark.parametrize("n", [3, 4, 5])
def test_every_order_of_a_small_set_is_equally_likely(n):
    # All n! orders appear, about equally often: chi-square over 100 draws per order stays
    # below the 0.9995 quantile of its distribution (a uniform shuffle fails 1 run in 2000).
    orders = math.factorial(n)
    keys = jax.random.split(jax.random.key(n), 100 * orders)
    perms = np.asarray(jax.vmap(lambda k: batches.epoch_permutation(k, n))(keys))
    _, counts = np.unique(perms @ n ** np.arange(n), return_counts=True)
    assert counts.size == orders
    chi2 = ((counts - 100) ** 2 / 100).sum()
    assert chi2 < {6: 22.1, 24: 52.0, 120: 176.4}[orders]


def test_shuffle_rounds_grow_with_log_n():
    assert [batches.shuffle_rounds(n) for n in (1, 2, 5, 4096, 60000)] == [10, 10, 14, 32, 40]


def test_any_key_implementation_drives_the_whole_order():
    # Issue 21: the round constants came from the key's first and last words only, so rbg
    # keys (four words) that differed in the middle gave the same order.
    words = np.array([0, 1, 2, 3], np.uint32)
    changed = [words.copy() for _ in words]
    for i, w in enumerate(changed):
        w[i] += 99  # each word in turn
    orders = [np.asarray(batches.epoch_permutation(jax.random.wrap_key_data(w, impl="rbg"), 1000))
              for w in (words, *changed)]
    for i, order in enumerate(orders):
        np.testing.assert_array_equal(np.sort(order), np.arange(1000))
        assert not any(np.array_equal(order, other) for other in orders[i + 1:])
