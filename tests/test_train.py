import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhw import optim, train
from jaxhw.data import batches
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear, softmax_regression
from jaxhw.nn.losses import cross_entropy, squared_loss

LOSS = train.supervised_loss(linear.apply, squared_loss)
TRUE_W, TRUE_B = jnp.array([2.0, -3.4]), 4.2


@pytest.fixture(scope="module")
def data():
    return synthetic_regression(jax.random.key(0), TRUE_W, TRUE_B)


def _fit(data, optimizer=None, params=None, **kw):
    tr, va = data
    params = linear.init(jax.random.key(1), 2) if params is None else params
    kw = {"epochs": 3, "batch_size": 32, "key": jax.random.key(2), "progress": False, **kw}
    return train.fit(LOSS, params, optimizer or optim.sgd(0.03), tr, va, **kw)


def test_history_shapes_and_decreasing_loss(data):
    params, hist = _fit(data)
    chex.assert_shape(params["w"], (2, 1))
    chex.assert_type(params["w"], jnp.float32)
    assert set(hist) == {"train_loss", "batch_loss", "epoch_seconds", "val_loss"}
    chex.assert_shape(hist["train_loss"], (3,))
    chex.assert_shape(hist["batch_loss"], (3, 32))  # 31 full batches + the partial one of 8
    assert np.all(np.diff(hist["train_loss"]) < 0)
    assert np.all(np.diff(hist["val_loss"]) < 0)


def test_book_hyperparameters_reach_the_books_error(data):
    # The book (3.4, lr 0.03, batch 32, 3 epochs) prints errors of about 0.1-0.2: 96 SGD steps
    # shrink the initial error by about (1 - 0.03)^96 ~ 0.05 only.
    params, _ = _fit(data)
    w_err = TRUE_W - params["w"][:, 0]
    b_err = TRUE_B - params["b"][0]
    assert np.all(np.abs(w_err) < 0.3) and abs(b_err) < 0.35


def test_converges_below_0_05(data):
    # The first edition's batch size 10 (300 steps in 3 epochs) gets the errors below 0.05.
    params, hist = _fit(data, batch_size=10)
    np.testing.assert_allclose(params["w"][:, 0], TRUE_W, atol=0.05)
    np.testing.assert_allclose(params["b"][0], TRUE_B, atol=0.05)
    assert hist["val_loss"][-1] < 1e-3


def test_train_loss_is_example_weighted_mean_of_batch_losses(data):
    _, hist = _fit(data, epochs=1)
    losses = hist["batch_loss"][0]
    sizes = np.array([32] * 31 + [8])
    np.testing.assert_allclose(hist["train_loss"][0], np.sum(losses * sizes) / 1000, rtol=1e-6)


def test_val_loss_equals_evaluate(data):
    params, hist = _fit(data, epochs=1)
    ev = train.evaluate(LOSS, params, data[1], batch_size=300)
    full = float(LOSS(params, data[1]))
    np.testing.assert_allclose(hist["val_loss"][0], full, rtol=1e-5)
    np.testing.assert_allclose(ev["loss"], full, rtol=1e-5)


def test_same_seed_bitwise_identical(data):
    a, ha = _fit(data)
    b, hb = _fit(data)
    chex.assert_trees_all_equal(a, b)
    np.testing.assert_array_equal(ha["batch_loss"], hb["batch_loss"])
    c, _ = _fit(data, key=jax.random.key(3))
    assert not np.array_equal(a["w"], c["w"])


def test_no_recompile_on_second_fit(data):
    _fit(data, epochs=1)
    before = train._epoch._cache_size()
    _fit(data, epochs=2, key=jax.random.key(7))
    assert train._epoch._cache_size() == before


def test_any_optax_optimizer_and_zero_epochs(data):
    params, hist = _fit(data, optimizer=optax.adam(0.1), epochs=5)
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    same, hist0 = _fit(data, epochs=0, params=params)
    chex.assert_trees_all_equal(same, params)
    assert hist0["train_loss"].shape == (0,)


def test_metrics_and_classification_accuracy():
    Y_hat = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = jnp.array([0, 2])
    assert float(train.accuracy(Y_hat, y)) == 0.5
    np.testing.assert_array_equal(train.accuracy(Y_hat, y, averaged=False), [0.0, 1.0])


def test_board_is_fed_once_per_epoch(data):
    from jaxhw.board import ProgressBoard

    board = ProgressBoard()
    _fit(data, board=board)
    assert len(board.data["val_loss"]) == 3
    assert len(board.data["train_loss"]) == 6  # two points per epoch, as in d2l
    board.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"batch_size": 1001}, r"batch_size \(1001\) is larger than the training data"),
    ({"batch_size": 2.5}, "batch_size must be an integer"),
    ({"epochs": -1}, "epochs must be >= 0"),
    ({"key": 3}, "key must be a PRNG key"),
])
def test_bad_arguments(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _fit(data, **kwargs)


def test_mismatched_lengths(data):
    (X, y), val = data
    with pytest.raises(ValueError, match="train.*different lengths"):
        train.fit(LOSS, linear.init(jax.random.key(0), 2), optim.sgd(0.1), (X, y[:-1]), val,
                  epochs=1, batch_size=8, key=jax.random.key(0))
    with pytest.raises(ValueError, match="val.*different lengths"):
        train.fit(LOSS, linear.init(jax.random.key(0), 2), optim.sgd(0.1), (X, y),
                  (val[0][:5], val[1]), epochs=1, batch_size=8, key=jax.random.key(0))


def test_non_finite_loss_names_the_epoch(data):
    with pytest.raises(ValueError, match="non-finite in epoch 1"):
        _fit(data, optimizer=optim.sgd(1e6))


def test_optimizer_must_be_optax(data):
    with pytest.raises(ValueError, match="optimizer must be an optax"):
        _fit(data, optimizer=lambda g: g)


def test_progress_bar_runs(data, capsys):
    _, hist = _fit(data, epochs=1, progress=True)
    assert math.isfinite(hist["train_loss"][0])


def test_default_eval_batch_size():
    assert train._default_eval_batch_size(10000, 256) == 2000
    assert train._default_eval_batch_size(1000, 32) == 1000
    assert train._default_eval_batch_size(10007, 256) == 256  # prime: remainder batch instead
    assert train._default_eval_batch_size(100, 256) == 100


@pytest.mark.parametrize("in_scan", [True, False], ids=["partial-in-scan", "partial-own-step"])
@pytest.mark.parametrize("optimizer", [optim.sgd(0.03), optax.adam(0.05)], ids=["sgd", "adam"])
def test_epoch_equals_a_step_by_step_loop(data, optimizer, in_scan, monkeypatch):
    # The partial batch (1000 = 31 x 32 + 8) runs inside the scan as two full batches (small
    # models) or as its own step; the epoch must equal the book's loop either way: 31 steps,
    # then one on the last 8 examples. A weight penalty (a parameter-only term of the loss)
    # must come out once, as in the book.
    monkeypatch.setattr(train, "PARTIAL_IN_SCAN_MAX_PARAMS", 10**9 if in_scan else 0)

    def penalized(params, batch):
        return LOSS(params, batch) + 0.1 * jnp.sum(params["w"] ** 2)

    tr, va = data
    params = linear.init(jax.random.key(1), 2)
    key = jax.random.key(2)
    got, hist = train.fit(penalized, params, optimizer, tr, va, epochs=2, batch_size=32,
                          key=key, progress=False)
    want, opt_state, losses = params, optimizer.init(params), []
    step = jax.jit(lambda c, b: train._train_step(penalized, optimizer, c, b))
    for epoch in range(2):
        order = np.asarray(batches.epoch_permutation(jax.random.fold_in(key, epoch), 1000))
        for start in range(0, 1000, 32):
            idx = order[start:start + 32]
            (want, opt_state), value = step((want, opt_state), (tr[0][idx], tr[1][idx]))
            losses.append(float(value))
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist["batch_loss"].ravel(), losses, rtol=1e-5, atol=1e-6)


def test_compiled_epoch_uses_the_cpu_options():
    # On the CPU the epoch is compiled without YNNPACK fusions (train.CPU_COMPILER_OPTIONS):
    # XLA's Eigen matmuls are faster for thin products. Elsewhere nothing is passed.
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (300, 784), dtype=np.uint8),
            rng.integers(0, 10, 300).astype(np.int32))
    loss = train.supervised_loss(softmax_regression.apply, cross_entropy)
    params = softmax_regression.init(jax.random.key(1))
    opt = optim.sgd(0.1)
    on_device = batches.to_device(data)
    args = (params, opt.init(params), on_device, on_device, jax.random.key(2), 0)
    kw = {"loss": loss, "optimizer": opt, "metrics": None, "batch_size": 256,
          "eval_batch_size": 300}
    text = train._epoch.lower(*args, **kw).compile().as_text()
    plain = jax.jit(train._epoch_body, static_argnames=tuple(kw)).lower(*args, **kw)
    assert "ynn_fusion" in plain.compile().as_text()  # the default that the option turns off
    assert ("ynn_fusion" in text) == (jax.default_backend() != "cpu")
