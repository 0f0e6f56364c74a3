import math

import chex
import jax
import numpy as np
import optax
import pytest

from jaxhw import sweep, train
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.losses import cross_entropy

LOSS = train.supervised_loss(mlp.apply, cross_entropy)
METRICS = train.classification_metrics(mlp.apply)
LRS = [0.05, 0.2, 0.5]
OPT = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)  # the rate lives in the state
KW = {"epochs": 3, "batch_size": 24, "metrics": METRICS, "progress": False}


@pytest.fixture(scope="module")
def data():
    """203 examples (a partial batch of 11) of 6 features, 3 classes; 40 of them for val."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(203, 6)).astype(np.float32)
    y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0)).astype(np.int32)
    return (X[:163], y[:163]), (X[163:], y[163:])


def _init(key):
    return mlp.init(key, 6, 16, 3, sigma=0.3)


def _model(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


@pytest.fixture(scope="module")
def lr_sweep(data):
    params = _init(jax.random.key(0))
    many, hist, _ = sweep.fit_many(LOSS, sweep.replicate(params, len(LRS)), OPT, *data,
                                   key=jax.random.key(1), learning_rates=LRS, **KW)
    return params, many, hist


@pytest.mark.numerical
def test_learning_rate_sweep_equals_fit_per_rate(data, lr_sweep):
    params, many, hist = lr_sweep
    assert hist["val_acc"].shape == (3, 3) and hist["batch_loss"].shape == (3, 3, 7)
    for i, lr in enumerate(LRS):
        alone, h, _ = train.fit(LOSS, params, optax.sgd(lr), *data, key=jax.random.key(1), **KW)
        chex.assert_trees_all_close(_model(many, i), alone, atol=1e-5, rtol=0)
        for name in ("train_loss", "val_loss", "val_acc", "batch_loss"):
            np.testing.assert_allclose(hist[name][i], h[name], atol=1e-5, rtol=0)
    # The rates matter: larger steps moved the same start further.
    moved = [float(np.abs(_model(many, i)["W1"] - params["W1"]).sum()) for i in range(3)]
    assert moved[0] < moved[1] < moved[2]
    assert hist["val_acc"][2, -1] > hist["val_acc"][0, -1] > 0.5


def test_another_grid_reuses_the_compiled_epoch(data, lr_sweep):
    # The rates are data (in the optimizer state), so a new grid traces nothing new: one
    # compile traces the loss 4 times (scanned and last step, validation batches and rest),
    # and fit's check of each pass once more on an abstract minibatch (train, val).
    params, many, _ = lr_sweep
    loss = chex.assert_max_traces(LOSS, n=6)
    start = sweep.replicate(params, 3)
    again, _, _ = sweep.fit_many(loss, start, OPT, *data, key=jax.random.key(1),
                                 learning_rates=LRS, **KW)
    other, _, _ = sweep.fit_many(loss, start, OPT, *data, key=jax.random.key(1),
                                 learning_rates=[0.5, 0.2, 0.05], **KW)
    chex.assert_trees_all_equal(again, many)
    chex.assert_trees_all_close(_model(other, 0), _model(many, 2), atol=1e-6, rtol=0)


def test_seeds_with_adam_equal_fit_per_seed(data):
    keys = jax.random.split(jax.random.key(2), 4)
    params = jax.vmap(_init)(keys)
    opt = optax.adam(0.02)
    many, hist, _ = sweep.fit_many(LOSS, params, opt, *data, key=keys, **KW)
    for i in (0, 3):
        alone, h, _ = train.fit(LOSS, _model(params, i), opt, *data, key=keys[i], **KW)
        chex.assert_trees_all_close(_model(many, i), alone, atol=1e-5, rtol=0)
        np.testing.assert_allclose(hist["val_acc"][i], h["val_acc"], atol=1e-5, rtol=0)
    assert not np.allclose(hist["batch_loss"][0], hist["batch_loss"][1])  # own batches each
    assert hist["epoch_seconds"].shape == (3,)


def test_nnx_params_stacked_by_vmap_equal_fit_per_model(data):
    # An nnx.State is a pytree like a dict: vmap stacks it, fit_many trains the stack.
    keys = jax.random.split(jax.random.key(5), 3)
    params = jax.vmap(lambda k: concise_mlp.init(k, 6, 16, 3))(keys)
    loss = train.supervised_loss(concise_mlp.apply, cross_entropy)
    kw = {**KW, "metrics": train.classification_metrics(concise_mlp.apply)}
    opt = optax.adam(0.02)
    many, hist, _ = sweep.fit_many(loss, params, opt, *data, key=keys, **kw)
    assert type(many) is type(params)
    chex.assert_shape(many["hidden"]["kernel"][...], (3, 6, 16))
    for i in (0, 2):
        alone, h, _ = train.fit(loss, _model(params, i), opt, *data, key=keys[i], **kw)
        # vmap batches the same float32 products per model; XLA may order their sums
        # differently from the single model's: a few ulps per step over 21 Adam steps.
        chex.assert_trees_all_close(_model(many, i), alone, atol=1e-5, rtol=0)
        np.testing.assert_allclose(hist["val_acc"][i], h["val_acc"], atol=1e-5, rtol=0)


def test_fit_many_continues_with_initial_epoch_bit_for_bit(data, lr_sweep):
    params, many, hist = lr_sweep
    kw = {**KW, "key": jax.random.key(1)}
    first = sweep.fit_many(LOSS, sweep.replicate(params, 3), OPT, *data, learning_rates=LRS,
                           **{**kw, "epochs": 2})
    then = sweep.fit_many(LOSS, first.params, OPT, *data, opt_state=first.opt_state,
                          initial_epoch=first.next_epoch, **kw)
    chex.assert_trees_all_equal(then.params, many)
    np.testing.assert_array_equal(then.history["epoch"], [2])
    np.testing.assert_array_equal(then.history["val_acc"], hist["val_acc"][:, 2:])


def test_diverging_model_warns_and_the_others_train_on(data):
    params = sweep.replicate(_init(jax.random.key(0)), 2)
    with pytest.warns(RuntimeWarning, match=r"model\(s\) \[1\]: training diverged in epoch 1 at "
                                            r"learning rate 1e\+30: train loss nan"):
        _, hist, _ = sweep.fit_many(LOSS, params, OPT, *data, key=jax.random.key(1),
                                    learning_rates=[0.5, 1e30], **{**KW, "epochs": 2})
    assert np.all(np.isfinite(hist["train_loss"][0])) and not np.isfinite(hist["val_loss"][1, -1])


def test_checkpoint_resume_equals_uninterrupted(data, lr_sweep, tmp_path):
    params, many, hist = lr_sweep
    start = sweep.replicate(params, 3)
    kw = {**KW, "key": jax.random.key(1), "learning_rates": LRS}
    sweep.fit_many(LOSS, start, OPT, *data, **{**kw, "epochs": 2}, checkpoint_dir=tmp_path)
    resumed, h, _ = sweep.fit_many(LOSS, start, OPT, *data, **kw, checkpoint_dir=tmp_path,
                                   resume=True)
    chex.assert_trees_all_equal(resumed, many)
    np.testing.assert_array_equal(h["batch_loss"], hist["batch_loss"])
    np.testing.assert_array_equal(h["val_acc"], hist["val_acc"])


@pytest.mark.parametrize("grid, match", [
    ([0.1, -0.1, 0.3], r"positive and finite; got -0\.1 at index 1"),
    ([0.1, 0.2, math.nan], r"got nan at index 2"),
    ([math.inf, 0.0, 0.1], r"got inf at index 0, 0\.0 at index 1"),
    ([], "non-empty 1-D"),
    ([[0.1, 0.2, 0.3]], "non-empty 1-D"),
    (["0.1", "a", "b"], "sequence of numbers"),
])
def test_bad_learning_rate_grid(data, grid, match):
    params = sweep.replicate(_init(jax.random.key(0)), 3)
    with pytest.raises(ValueError, match=match):
        sweep.fit_many(LOSS, params, OPT, *data, key=jax.random.key(1),
                       learning_rates=grid, **KW)


@pytest.mark.parametrize("kwargs, match", [
    ({"learning_rates": [0.1, 0.2]}, "learning_rates has 2 values but params stack 3 models"),
    ({"optimizer": optax.sgd(0.1)}, "with learning_rates, the optimizer must keep its learning "
                                    r"rate in its state: build it with optax.inject_hyperparams"),
    ({"optimizer": optax.sgd}, "optimizer must be an optax.GradientTransformation"),
    ({"key": jax.random.split(jax.random.key(0), 2)}, r"one key or 3 keys .* shape \(2,\)"),
    ({"key": 0}, r"key \(one key, or one per model\) must be a PRNG key from jax.random.key"),
    ({"params": _init(jax.random.key(0))}, r"leading model axis .*M copies of one start are "
                                           r"sweep.replicate\(params, M\)"),
])
def test_bad_arguments(data, kwargs, match):
    args = {"params": sweep.replicate(_init(jax.random.key(0)), 3), "optimizer": OPT,
            "key": jax.random.key(1), "learning_rates": LRS, **KW, **kwargs}
    with pytest.raises(ValueError, match=match):
        sweep.fit_many(LOSS, args.pop("params"), args.pop("optimizer"), *data, **args)


def test_check_learning_rates_returns_the_grid_unrounded():
    grid = sweep.check_learning_rates((1, 0.5, 2e-3))
    assert grid.dtype == np.float64
    np.testing.assert_array_equal(grid, [1, 0.5, 2e-3])


def test_fit_many_takes_the_key_as_fit_does(data):
    params = sweep.replicate(_init(jax.random.key(0)), 3)
    with pytest.raises(TypeError, match="fit_many takes the key as key=, as fit does"):
        sweep.fit_many(LOSS, params, OPT, *data, keys=jax.random.key(1), learning_rates=LRS,
                       **KW)


def test_a_board_draws_the_models_mean_and_range(data):
    # Issue 21: a board given to fit_many was silently ignored.
    from jaxhw.board import ProgressBoard

    board = ProgressBoard(display=False)
    start = sweep.replicate(_init(jax.random.key(0)), 3)
    _, hist, _ = sweep.fit_many(LOSS, start, OPT, *data, key=jax.random.key(1),
                                learning_rates=LRS, board=board, **{**KW, "epochs": 2})
    assert [len(board.data[k]) for k in ("train_loss", "val_loss", "val_acc")] == [4, 2, 2]
    np.testing.assert_allclose(board.data["val_acc"][-1][1], hist["val_acc"][:, -1])
    board.close()


def test_zero_epochs_give_models_first_histories(data):
    # Issue 21: fit_many(epochs=0) gave train_loss (0,), not (M, 0), and no val_* at all.
    start = sweep.replicate(_init(jax.random.key(0)), 3)
    run = {e: sweep.fit_many(LOSS, start, OPT, *data, key=jax.random.key(1), learning_rates=LRS,
                             **{**KW, "epochs": e}).history for e in (0, 1)}
    assert sorted(run[0]) == sorted(run[1])
    for name, filled in run[1].items():
        empty = run[0][name]
        want = (0,) if name in ("epoch", "epoch_seconds") else (3, 0, *filled.shape[2:])
        assert empty.shape == want and empty.dtype == filled.dtype, name


def test_learning_rates_keep_float64_under_x64(data):
    # Issue 21: the grid went through float32 on its way to a float64 state.
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: np.asarray(a, np.float64),
                              sweep.replicate(_init(jax.random.key(0)), 2))
        state = sweep.init_opt_state(OPT, params, [0.1, 0.3])
        assert state.hyperparams["learning_rate"].dtype == np.float64
        np.testing.assert_array_equal(state.hyperparams["learning_rate"], [0.1, 0.3])
