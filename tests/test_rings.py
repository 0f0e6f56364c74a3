"""jaxhw.data.rings: three noisy rings, each class centred on the origin (4.3)."""

from __future__ import annotations

import chex
import jax
import numpy as np
import pytest

from jaxhw.data.rings import rings


def test_shapes_dtypes_and_labels():
    X, y = rings(jax.random.key(0), 300)
    chex.assert_shape([X, y], [(300, 2), (300,)])
    chex.assert_type([X, y], [np.float32, np.int32])
    assert set(np.unique(y).tolist()) == {0, 1, 2}


def test_without_noise_each_point_lies_on_its_ring():
    X, y = rings(jax.random.key(1), 500, num_classes=4, noise=0.0)
    radius = np.linalg.norm(np.asarray(X, np.float64), axis=1)
    # cos and sin in float32, scaled by k + 1 <= 4: a few eps of the radius.
    np.testing.assert_allclose(radius, np.asarray(y) + 1, rtol=1e-6)


def test_every_class_is_centred_on_the_origin():
    X, y = rings(jax.random.key(2), 30000)
    X, y = np.asarray(X, np.float64), np.asarray(y)
    for k in range(3):
        points = X[y == k]
        # a coordinate of ring k has std about (k + 1) / sqrt(2); its mean's std is that over
        # sqrt(count) ~ 0.02 for ~10,000 points: 0.1 is five of those
        assert np.abs(points.mean(axis=0)).max() < 0.1


def test_same_key_same_data_other_key_other_data():
    a, b = rings(jax.random.key(3), 50), rings(jax.random.key(3), 50)
    c = rings(jax.random.key(4), 50)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0}, "n must be an integer >= 1"),
    ({"n": 2.5}, "n must be an integer >= 1"),
    ({"n": 10, "num_classes": 0}, "num_classes must be an integer >= 1"),
    ({"n": 10, "noise": -0.1}, "noise must be a number >= 0"),
    ({"n": 10, "noise": float("nan")}, "noise must be a number >= 0"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rings(jax.random.key(0), **kwargs)


def test_bad_key_is_named():
    with pytest.raises(ValueError, match="key must be a PRNG key"):
        rings(0, 10)
