"""Building blocks: softmax, cross-entropy, activations, information theory."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhw.nn import activations, information, losses
from jaxhw.nn.softmax import book_softmax, log_softmax, softmax

pytestmark = pytest.mark.numerical  # rerun under a second CPU ISA by make test

BOOK_PROBS = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
BOOK_LABELS = jnp.array([0, 2])
RNG = np.random.default_rng  # test data from NumPy: eager jax.random ops each compile


def _logits_and_labels(seed: int, n: int, scale: float, q: int = 10):
    rng = RNG(seed)
    return (jnp.asarray(scale * rng.normal(size=(n, q)), jnp.float32),
            jnp.asarray(rng.integers(0, q, size=n), jnp.int32))


def _distributions(seed: int, shape: tuple[int, ...]):
    e = np.exp(RNG(seed).normal(size=shape))
    return jnp.asarray(e / e.sum(axis=-1, keepdims=True), jnp.float32)


# ----------------------------------------------------------------------------- softmax
class SoftmaxTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_rows_sum_to_one(self):
        X = jnp.asarray(RNG(0).normal(size=(2, 5)), jnp.float32)
        for fn in (book_softmax, softmax):
            probs = self.variant(fn)(X)
            chex.assert_shape(probs, (2, 5))
            chex.assert_type(probs, jnp.float32)
            np.testing.assert_allclose(probs.sum(axis=1), [1.0, 1.0], rtol=1e-6)
            assert bool(jnp.all(probs > 0))

    @chex.variants(with_jit=True, without_jit=True)
    def test_book_and_stable_agree_on_moderate_logits(self):
        X = jnp.asarray(5 * RNG(1).normal(size=(8, 10)), jnp.float32)
        chex.assert_trees_all_close(self.variant(book_softmax)(X), self.variant(softmax)(X),
                                    rtol=1e-5, atol=1e-7)
        chex.assert_trees_all_close(self.variant(log_softmax)(X),
                                    jnp.log(self.variant(book_softmax)(X)), rtol=1e-5, atol=1e-6)


def test_book_softmax_value():
    X = jnp.array([[1.0, 2.0, 3.0]])
    expected = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(book_softmax(X)[0], expected, rtol=1e-6)
    np.testing.assert_allclose(softmax(X)[0], expected, rtol=1e-6)


def test_book_softmax_overflows_and_stable_does_not():
    X = jnp.array([[100.0, 1000.0, 0.0], [-1000.0, -1001.0, -1002.0]])
    book = book_softmax(X)
    assert bool(jnp.isnan(book[0, 1]))  # exp(1000) = inf, inf / inf = nan
    assert bool(jnp.all(jnp.isnan(book[1])))  # exp(-1000) = 0 everywhere, 0 / 0 = nan
    stable = softmax(X)
    np.testing.assert_allclose(stable[0], [0.0, 1.0, 0.0], atol=1e-30)
    e = np.exp([0.0, -1.0, -2.0])
    np.testing.assert_allclose(stable[1], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(log_softmax(X)[0], [-900.0, 0.0, -1000.0], rtol=1e-6)


# ----------------------------------------------------------------------------- cross-entropy
def test_book_cross_entropy_value():
    assert float(losses.book_cross_entropy(BOOK_PROBS, BOOK_LABELS)) == pytest.approx(
        1.4979, abs=1e-4)
    expected = -(math.log(0.1) + math.log(0.5)) / 2
    assert float(losses.book_cross_entropy(BOOK_PROBS, BOOK_LABELS)) == pytest.approx(
        expected, rel=1e-6)


def test_stable_cross_entropy_from_logits_matches_book_value():
    # Rows of BOOK_PROBS sum to 1, so their logs are logits whose softmax is BOOK_PROBS.
    value = losses.cross_entropy(jnp.log(BOOK_PROBS), BOOK_LABELS)
    assert float(value) == pytest.approx(1.4979, abs=1e-4)
    chex.assert_shape(value, ())


def test_cross_entropy_book_and_stable_agree():
    logits, y = _logits_and_labels(2, 16, scale=3)
    assert float(losses.cross_entropy(logits, y)) == pytest.approx(
        float(losses.book_cross_entropy(book_softmax(logits), y)), rel=1e-5)


def test_cross_entropy_overflow():
    logits = jnp.array([[100.0, 1000.0, 0.0], [0.0, 0.0, 1000.0]])
    y = jnp.array([1, 0])
    assert not bool(jnp.isfinite(losses.book_cross_entropy(book_softmax(logits), y)))
    # Row 0 is certain and right (loss 0); row 1 puts exp(-1000) on the truth (loss 1000).
    assert float(losses.cross_entropy(logits, y)) == pytest.approx(500.0, rel=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    y = jnp.array([2, 0])
    grad = jax.grad(losses.cross_entropy)(logits, y)
    expected = (softmax(logits) - jax.nn.one_hot(y, 3)) / 2
    chex.assert_trees_all_close(grad, expected, rtol=1e-6, atol=1e-7)


def test_cross_entropy_matches_optax():
    import optax

    logits, y = _logits_and_labels(3, 32, scale=4)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    assert float(losses.cross_entropy(logits, y)) == pytest.approx(float(expected), rel=1e-6)


def test_cross_entropy_of_a_label_out_of_range_is_nan():
    # fit checks labels on the host; a direct call must not quietly score a bad label as 0.
    logits = jnp.zeros((2, 3))
    for bad in (3, -1):
        assert np.isnan(float(losses.cross_entropy(logits, jnp.array([0, bad]))))
    assert float(losses.cross_entropy(logits, jnp.array([0, 2]))) == pytest.approx(np.log(3))


def test_book_cross_entropy_of_a_label_out_of_range_is_nan():
    # Plain indexing would clamp 3 to class 2 and wrap -1 to class 2: a wrong, finite loss.
    y_hat = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    for bad in (3, -1):
        assert np.isnan(float(losses.book_cross_entropy(y_hat, jnp.array([0, bad]))))
        assert np.isnan(float(jax.jit(losses.book_cross_entropy)(y_hat, jnp.array([0, bad]))))
    expected = -(np.log(0.1) + np.log(0.5)) / 2
    assert float(losses.book_cross_entropy(y_hat, jnp.array([0, 2]))) == pytest.approx(expected)


@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.book_cross_entropy])
def test_cross_entropy_needs_one_label_per_row(loss):
    # y of shape (1,) for 4 rows used to broadcast one label to every row.
    scores = jnp.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=rf"{loss.__name__}: y must have shape \(4,\), one "
                                         r"label per row of the predictions of shape \(4, 3\); "
                                         r"got \(1,\)"):
        loss(scores, jnp.array([1]))
    with pytest.raises(ValueError, match=r"got \(4, 1\)"):
        jax.jit(loss)(scores, jnp.zeros((4, 1), jnp.int32))


def test_regression_losses_name_mismatched_shapes():
    y_hat = jnp.zeros((5, 1))
    assert float(losses.squared_loss(y_hat, jnp.ones(5))) == pytest.approx(0.5)  # (n,) ~ (n, 1)
    for loss in (losses.squared_loss, losses.absolute_loss):
        with pytest.raises(ValueError, match=rf"{loss.__name__}: y has shape \(5, 3\) but the "
                                             r"predictions have shape \(5, 1\)"):
            loss(y_hat, jnp.zeros((5, 3)))


def test_the_absolute_loss_is_a_mean_where_the_books_exercise_sums():
    # Issue 21: help(absolute_loss) said "mean" but not that 3.4's exercise writes a sum, whose
    # gradient (and SGD step) is batch-size times larger.
    y_hat, y = jnp.array([[1.0], [-2.0], [0.5], [4.0]]), jnp.zeros(4)
    mean = losses.absolute_loss(y_hat, y)
    grad_sum = jax.grad(lambda p: jnp.abs(p - y[:, None]).sum())(y_hat)
    np.testing.assert_allclose(grad_sum, 4 * jax.grad(losses.absolute_loss)(y_hat, y))
    assert float(mean) == 7.5 / 4
    assert "(y_hat - y).abs().sum()" in losses.absolute_loss.__doc__
    assert "lr * batch_size" in losses.absolute_loss.__doc__


def test_cross_entropy_rejects_float_labels():
    # A float label matches no class through the mask: 2.5 would silently score 0.
    logits = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="y must hold integer class labels, got dtype float32"):
        losses.cross_entropy(logits, jnp.array([0.0, 2.5]))
    with pytest.raises(ValueError, match="integer class labels, got dtype float32"):
        jax.jit(losses.cross_entropy)(logits, jnp.array([0.0, 2.0]))


# ----------------------------------------------------------------------------- activations
X_GRID = jnp.arange(-8.0, 8.0, 0.1)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("name, closed_form", [
    ("relu", lambda x: (x > 0).astype(np.float32)),
    ("sigmoid", lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    ("tanh", lambda x: 1 - np.tanh(x) ** 2),
    ("swish", lambda x: _sigmoid(x) + x * _sigmoid(x) * (1 - _sigmoid(x))),
    ("prelu", lambda x: np.where(x > 0, 1.0, 0.2)),
])
def test_activation_derivatives_match_closed_forms(name, closed_form):
    f = activations.activations()[name]
    grad = activations.derivative(f)(X_GRID)
    chex.assert_shape(grad, X_GRID.shape)
    chex.assert_type(grad, jnp.float32)
    x = np.asarray(X_GRID, np.float64)
    np.testing.assert_allclose(grad, closed_form(x), rtol=1e-5, atol=1e-6)


def test_activation_values():
    x = jnp.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(activations.relu(x), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(activations.prelu(x), [-0.4, -0.1, 0, 0.5, 2], rtol=1e-6)
    np.testing.assert_allclose(activations.prelu(x, alpha=0.5), [-1, -0.25, 0, 0.5, 2])
    np.testing.assert_allclose(activations.sigmoid(x), _sigmoid(np.asarray(x)), rtol=1e-6)
    np.testing.assert_allclose(activations.tanh(x), np.tanh(np.asarray(x)), rtol=1e-6)
    np.testing.assert_allclose(activations.swish(x), np.asarray(x) * _sigmoid(np.asarray(x)),
                               rtol=1e-6)
    assert float(activations.sigmoid(jnp.float32(0))) == 0.5


def test_relu_derivative_at_zero_is_zero():
    # jnp.maximum's gradient at the tie is 0.5; the book (and PyTorch) take 0.
    assert float(jax.grad(activations.relu)(0.0)) == 0.0
    assert float(jax.grad(activations.relu)(1e-6)) == 1.0


def test_sigmoid_gradient_finite_far_out():
    grad = activations.derivative(activations.sigmoid)(jnp.array([-200.0, 200.0]))
    np.testing.assert_array_equal(grad, [0.0, 0.0])


# ----------------------------------------------------------------------------- information
def test_entropy_of_uniform_is_log_q():
    assert float(information.entropy(jnp.full(10, 0.1))) == pytest.approx(math.log(10), rel=1e-6)
    assert float(information.entropy(jnp.array([1.0, 0.0, 0.0]))) == 0.0  # 0 log 0 = 0


def test_entropy_batched_shape():
    p = _distributions(4, (3, 4, 6))
    chex.assert_shape(information.entropy(p), (3, 4))
    chex.assert_shape(information.cross_entropy(p, p), (3, 4))


def test_surprisal():
    np.testing.assert_allclose(information.surprisal(jnp.array([1.0, 0.5, 0.25])),
                               [0.0, math.log(2), math.log(4)], rtol=1e-6)


def test_cross_entropy_is_entropy_plus_kl():
    p, q = _distributions(5, (7, 5)), _distributions(6, (7, 5))
    chex.assert_trees_all_close(information.cross_entropy(p, q),
                                information.entropy(p) + information.kl_divergence(p, q),
                                rtol=1e-5)
    assert bool(jnp.all(information.kl_divergence(p, q) > 0))
    np.testing.assert_allclose(information.kl_divergence(p, p), np.zeros(7), atol=1e-6)


def test_kl_value():
    p, q = jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert float(information.kl_divergence(p, q)) == pytest.approx(expected, rel=1e-6)


def test_information_cross_entropy_matches_loss_for_one_hot_targets():
    p = jax.nn.one_hot(BOOK_LABELS, 3)
    per_example = information.cross_entropy(p, BOOK_PROBS)
    assert float(per_example.mean()) == pytest.approx(1.4979, abs=1e-4)
