import gc
import logging
import math
import warnings
import weakref

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhw import optim, sweep, train
from jaxhw.data import batches
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear, mlp
from jaxhw.nn.losses import absolute_loss, cross_entropy, squared_loss

LOSS = train.supervised_loss(linear.apply, squared_loss)
SGD = optim.sgd(0.03)  # one object: fits with the same shapes reuse its compiled epoch
TRUE_W, TRUE_B = jnp.array([2.0, -3.4]), 4.2


@pytest.fixture(scope="module")
def data():
    return synthetic_regression(jax.random.key(0), TRUE_W, TRUE_B)


def _fit(data, optimizer=None, params=None, loss=LOSS, **kw):
    tr, va = data
    params = linear.init(jax.random.key(1), 2) if params is None else params
    kw = {"epochs": 3, "batch_size": 32, "key": jax.random.key(2), "progress": False, **kw}
    return train.fit(loss, params, optimizer or SGD, tr, va, **kw)


def test_history_shapes_and_decreasing_loss(data):
    params, hist, _ = _fit(data)
    chex.assert_shape(params["w"], (2, 1))
    chex.assert_type(params["w"], jnp.float32)
    assert set(hist) == {"epoch", "train_loss", "batch_loss", "epoch_seconds", "val_loss"}
    np.testing.assert_array_equal(hist["epoch"], [0, 1, 2])
    chex.assert_shape(hist["train_loss"], (3,))
    chex.assert_shape(hist["batch_loss"], (3, 32))  # 31 full batches + the partial one of 8
    assert np.all(np.diff(hist["train_loss"]) < 0)
    assert np.all(np.diff(hist["val_loss"]) < 0)


def test_book_hyperparameters_reach_the_books_error(data):
    # The book (3.4, lr 0.03, batch 32, 3 epochs) prints errors of about 0.1-0.2: 96 SGD steps
    # shrink the initial error by about (1 - 0.03)^96 ~ 0.05 only.
    params, _, _ = _fit(data)
    w_err = TRUE_W - params["w"][:, 0]
    b_err = TRUE_B - params["b"][0]
    assert np.all(np.abs(w_err) < 0.3) and abs(b_err) < 0.35


def test_converges_below_0_05(data):
    # The first edition's batch size 10 (300 steps in 3 epochs) gets the errors below 0.05.
    params, hist, _ = _fit(data, batch_size=10)
    np.testing.assert_allclose(params["w"][:, 0], TRUE_W, atol=0.05)
    np.testing.assert_allclose(params["b"][0], TRUE_B, atol=0.05)
    assert hist["val_loss"][-1] < 1e-3


def test_train_loss_is_example_weighted_mean_of_batch_losses(data):
    _, hist, _ = _fit(data, epochs=1)
    losses = hist["batch_loss"][0]
    sizes = np.array([32] * 31 + [8])
    np.testing.assert_allclose(hist["train_loss"][0], np.sum(losses * sizes) / 1000, rtol=1e-6)


def test_val_loss_equals_evaluate(data):
    params, hist, _ = _fit(data, epochs=1)
    ev = train.evaluate(LOSS, params, data[1], batch_size=300)
    full = float(LOSS(params, data[1]))
    np.testing.assert_allclose(hist["val_loss"][0], full, rtol=1e-5)
    np.testing.assert_allclose(ev["loss"], full, rtol=1e-5)


def test_same_seed_bitwise_identical(data):
    a, ha, _ = _fit(data)
    b, hb, _ = _fit(data)
    chex.assert_trees_all_equal(a, b)
    np.testing.assert_array_equal(ha["batch_loss"], hb["batch_loss"])
    c, _, _ = _fit(data, key=jax.random.key(3))
    assert not np.array_equal(a["w"], c["w"])


def test_no_recompile_on_second_fit(data):
    # One compile traces the loss 4 times: the scanned step, the smaller last step, the scanned
    # validation batches and the validation remainder; fit's check of each pass traces it once
    # more on an abstract minibatch of each (train, val). A second fit with the same loss and
    # optimizer objects and shapes must reuse the compiled epoch and those checks' traces.
    tr, va = data
    loss = chex.assert_max_traces(LOSS, n=6)
    optimizer = optim.sgd(0.03)
    kw = {"batch_size": 32, "progress": False, "eval_batch_size": 300}
    params = linear.init(jax.random.key(1), 2)
    train.fit(loss, params, optimizer, tr, va, epochs=1, key=jax.random.key(2), **kw)
    train.fit(loss, params, optimizer, tr, va, epochs=2, key=jax.random.key(7), **kw)


def test_any_optax_optimizer_and_zero_epochs(data):
    params, hist, _ = _fit(data, optimizer=optax.adam(0.1), epochs=5)
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    same, hist0, _ = _fit(data, epochs=0, params=params)
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


def test_non_finite_loss_warns_naming_the_epoch_and_stops(data):
    with pytest.warns(RuntimeWarning, match="training diverged in epoch 1 at learning rate 1e"
                                            r"\+06: train loss nan"):
        params, hist, _ = _fit(data, optimizer=optim.sgd(1e6))
    assert hist["train_loss"].shape == (1,)  # nothing left to learn: stopped after epoch 1
    assert not np.isfinite(hist["train_loss"][0])
    chex.assert_shape(params["w"], (2, 1))


def test_optimizer_must_be_optax(data):
    with pytest.raises(ValueError, match="optimizer must be an optax"):
        _fit(data, optimizer=lambda g: g)


def test_progress_bar_runs(data, capsys):
    _, hist, _ = _fit(data, epochs=1, progress=True)
    assert math.isfinite(hist["train_loss"][0])


def test_default_eval_batch_size():
    assert train.default_eval_batch_size(10000, 256) == 2000
    assert train.default_eval_batch_size(1000, 32) == 1000
    assert train.default_eval_batch_size(10007, 256) == 256  # prime: remainder batch instead
    assert train.default_eval_batch_size(100, 256) == 100


@pytest.mark.parametrize("optimizer", [optim.sgd(0.03), optax.adam(0.05)], ids=["sgd", "adam"])
@pytest.mark.numerical
def test_epoch_equals_a_step_by_step_loop(data, optimizer):
    # 1000 = 31 x 32 + 8: the epoch must equal the book's loop, 31 steps, then one on the last
    # 8 examples. A weight penalty (a parameter-only term of the loss) must come out once.
    def penalized(params, batch):
        return LOSS(params, batch) + 0.1 * jnp.sum(params["w"] ** 2)

    tr, va = data
    params = linear.init(jax.random.key(1), 2)
    key = jax.random.key(2)
    got, hist, _ = train.fit(penalized, params, optimizer, tr, va, epochs=2, batch_size=32,
                             key=key, progress=False)
    want, opt_state, losses = params, optimizer.init(params), []

    @jax.jit
    def step(params, opt_state, X, y):
        value, grads = jax.value_and_grad(penalized)(params, (X, y))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    for epoch in range(2):
        order = np.asarray(batches.epoch_permutation(jax.random.fold_in(key, epoch), 1000))
        for start in range(0, 1000, 32):
            idx = order[start:start + 32]
            want, opt_state, value = step(want, opt_state, tr[0][idx], tr[1][idx])
            losses.append(float(value))
    # Float32 sums over at most 32 examples, in whichever order XLA adds them: a few ulps per
    # step, compounded over 64 steps of a well-conditioned problem.
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist["batch_loss"].ravel(), losses, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- continuing, optax
def test_fit_returns_the_optimizer_state_to_continue_from(data):
    opt = optax.adam(0.05)
    params, _, opt_state = _fit(data, optimizer=opt, epochs=2)
    assert int(opt_state[0].count) == 2 * 32  # Adam counted every step: 31 full + 1 smaller
    _, _, later = _fit(data, optimizer=opt, params=params, opt_state=opt_state, epochs=1)
    assert int(later[0].count) == 3 * 32


CONTINUED = {
    # A decaying schedule (optax counts its steps in the state), weight decay and momentum.
    "sgd_schedule_decay": optax.chain(optax.add_decayed_weights(1e-2), optax.sgd(
        optax.exponential_decay(0.1, transition_steps=10, decay_rate=0.8), momentum=0.9)),
    "adam": optax.adam(optax.cosine_decay_schedule(0.02, decay_steps=120)),
}


@pytest.mark.parametrize("name", list(CONTINUED))
def test_three_epochs_then_three_more_equal_six_bit_for_bit(name):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0)).astype(np.int32)
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    params = mlp.init(jax.random.key(0), 6, 16, 3, sigma=0.3)
    kw = {"batch_size": 32, "key": jax.random.key(1), "progress": False,
          "metrics": train.classification_metrics(mlp.apply)}
    opt, tr, va = CONTINUED[name], (X[:250], y[:250]), (X[250:], y[250:])
    six = train.fit(loss, params, opt, tr, va, epochs=6, **kw)
    first = train.fit(loss, params, opt, tr, va, epochs=3, **kw)
    assert first.next_epoch == 3
    params3, history3, opt_state3 = first  # three fields still unpack
    then = train.fit(loss, params3, opt, tr, va, opt_state=opt_state3,
                     initial_epoch=first.next_epoch, epochs=6, **kw)
    chex.assert_trees_all_equal(then.params, six.params)
    chex.assert_trees_all_equal(then.opt_state, six.opt_state)
    np.testing.assert_array_equal(then.history["epoch"], [3, 4, 5])
    assert then.next_epoch == 6
    for k in ("train_loss", "batch_loss", "val_loss", "val_acc"):
        np.testing.assert_array_equal(then.history[k], six.history[k][3:])
        np.testing.assert_array_equal(history3[k], six.history[k][:3])
    # Without initial_epoch, the second call replays epochs 0-2's orders: not the same run.
    replayed = train.fit(loss, params3, opt, tr, va, opt_state=opt_state3, epochs=3, **kw)
    assert not np.array_equal(replayed.params["W1"], six.params["W1"])


@pytest.mark.parametrize("kwargs, match", [
    ({"initial_epoch": -1}, "initial_epoch must be >= 0, got -1"),
    ({"initial_epoch": 1.0}, "initial_epoch must be an integer, got 1.0"),
    ({"initial_epoch": 4}, r"initial_epoch \(4\) is past epochs \(3\); epochs is the epoch to "
                           "stop at, as in Keras: to train 3 more epochs after 4, pass epochs=7"),
    ({"initial_epoch": 1, "resume": "auto", "checkpoint_dir": "unused"},
     "pass initial_epoch or resume, not both"),
])
def test_bad_initial_epoch_is_refused(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _fit(data, **kwargs)


def test_initial_epoch_equal_to_epochs_runs_nothing(data):
    params = linear.init(jax.random.key(1), 2)
    same, hist, _ = result = _fit(data, params=params, initial_epoch=3, epochs=3)
    chex.assert_trees_all_equal(same, params)
    assert hist["epoch"].shape == (0,) and hist["epoch"].dtype == np.int64
    with pytest.raises(ValueError, match="this fit ran no epoch"):
        result.next_epoch  # noqa: B018 (a property that raises)


def test_the_loss_value_reaches_the_optimizer(data):
    # reduce_on_plateau needs update(..., value=loss): fit passes each minibatch's loss.
    opt = optax.chain(optax.sgd(0.03), optax.contrib.reduce_on_plateau(patience=2, factor=0.5))
    _, hist, opt_state = _fit(data, optimizer=opt, epochs=2)
    best = float(opt_state[1].best_value)
    assert np.isfinite(best) and best <= hist["batch_loss"][0, 0]


def test_opt_state_of_another_optimizer_is_refused(data):
    with pytest.raises(ValueError, match=r"opt_state does not match this optimizer and params"):
        _fit(data, opt_state=(1, 2))
    params = linear.init(jax.random.key(1), 2)
    with pytest.raises(ValueError, match="opt_state does not match"):
        _fit(data, optimizer=optax.adam(0.1), opt_state=optax.sgd(0.1).init(params))


# ----------------------------------------------------------------------------- bad input
def test_a_dict_batch_says_supervised_loss_expects_a_pair(data):
    (X, y), _ = data
    with pytest.raises(ValueError, match=r"supervised_loss expects each batch as a pair \(X, y\)"
                                         ".*got dict"):
        train.fit(LOSS, linear.init(jax.random.key(0), 2), optim.sgd(0.1), {"X": X, "y": y},
                  epochs=1, batch_size=8, key=jax.random.key(0), progress=False)


def test_empty_validation_and_evaluation_data_are_refused(data):
    (X, y), _ = data
    with pytest.raises(ValueError, match="val holds no examples"):
        train.fit(
            LOSS, linear.init(jax.random.key(0), 2), optim.sgd(0.1), (X, y), (X[:0], y[:0]),
            epochs=1, batch_size=8, key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="data holds no examples"):
        train.evaluate(LOSS, linear.init(jax.random.key(0), 2), (X[:0], y[:0]))


def test_unknown_on_divergence_is_refused(data):
    with pytest.raises(ValueError, match="on_divergence must be 'warn' or 'stop', got 'ignore'"):
        _fit(data, on_divergence="ignore")


@pytest.mark.parametrize("label", [10, -1])
def test_a_bad_training_label_is_reported_as_a_label_not_a_learning_rate(label):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32) * 9
    y[17] = label
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    params = mlp.init(jax.random.key(0), 4, 8, 10, sigma=0.3)
    with pytest.raises(ValueError, match=rf"train: label\(s\) \[{label}\] give a non-finite loss "
                                         r"even at the starting parameters.*\[0, number of "
                                         "classes\\).*the learning rate is not the cause"):
        train.fit(loss, params, optim.sgd(0.1), (X, y), epochs=2, batch_size=32,
                  key=jax.random.key(1), progress=False)


# ----------------------------------------------------------------------------- divergence
def test_a_loss_that_climbs_10x_warns_and_stop_returns_what_there_is(data):
    # Gradient ascent (a negative rate) climbs away from the minimum: 10x the first loss soon.
    with pytest.warns(RuntimeWarning, match=r"training diverged in epoch \d+ at learning rate "
                                            r"-0\.1: train loss"):
        _, hist, _ = _fit(data, optimizer=optax.sgd(-0.1), epochs=4)
    assert hist["train_loss"].shape == (4,)  # "warn" trains on while the loss is finite
    assert hist["train_loss"][-1] > 10 * hist["batch_loss"][0, 0]
    with pytest.warns(RuntimeWarning, match="training diverged in epoch"):
        _, stopped, _ = _fit(data, optimizer=optax.sgd(-0.1), epochs=4, on_divergence="stop")
    assert stopped["train_loss"].shape[0] < 4
    np.testing.assert_array_equal(stopped["train_loss"], hist["train_loss"][:len(
        stopped["train_loss"])])


def test_the_divergence_warning_names_an_injected_learning_rate(data):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=1e6)
    with pytest.warns(RuntimeWarning, match=r"diverged in epoch 1 at learning rate 1e\+06"):
        _fit(data, optimizer=opt)


def test_a_healthy_run_gives_no_warning(data, recwarn):
    _fit(data)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_two_hidden_layers_train_through_fit():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1]) > 0).astype(np.int32)  # XOR of signs: needs the hidden layers
    params = mlp.init(jax.random.key(0), 2, (16, 16), 2, sigma=0.5)
    assert sorted(params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    _, hist, _ = train.fit(loss, params, optax.adam(0.02), (X[:300], y[:300]), (X[300:], y[300:]),
                           epochs=30, batch_size=32, key=jax.random.key(1), progress=False,
                           metrics=train.classification_metrics(mlp.apply))
    assert hist["val_acc"][-1] > 0.9


def test_an_mlp_at_learning_rate_100_warns():
    # Issue 15: lr=100 drove the MLP to chance with no word.
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, size=(512, 28, 28, 1), dtype=np.uint8)
    y = (X[:, 10:18, 10:18].mean(axis=(1, 2, 3)) > 127.5).astype(np.int32)
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    with pytest.warns(RuntimeWarning, match=r"training diverged in epoch 1 at learning rate 100"):
        train.fit(loss, mlp.init(jax.random.key(0), num_outputs=2), optim.sgd(100.0), (X, y),
                  epochs=2, batch_size=64, key=jax.random.key(1), progress=False)


# ----------------------------------------------------------------------------- divergence (21)
def test_continuing_a_converged_regression_with_batch_size_1_raises_no_false_alarm(data):
    # Issue 21: judged against its first minibatch (one example), a flat continuation stopped
    # in 1 of 4 seeds ("train loss 5.548e-05, first minibatch loss 3.045e-06"). Epoch means
    # are the levels now: 20 seeds (one per model) and a continuation at epoch 10 all run on.
    tr, va = data
    converged, _, _ = _fit(data, batch_size=10, epochs=10)
    keys = jax.random.split(jax.random.key(7), 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _, hist, _ = sweep.fit_many(LOSS, sweep.replicate(converged, 20), SGD, tr, va, key=keys,
                                    epochs=3, batch_size=1, progress=False,
                                    on_divergence="stop")
        _, alone, _ = train.fit(LOSS, converged, SGD, tr, va, epochs=13, initial_epoch=10,
                                batch_size=1, key=keys[0], progress=False, on_divergence="stop")
    assert hist["train_loss"].shape == (20, 3) and alone["train_loss"].shape == (3,)
    assert hist["train_loss"].max() < 1.2 * hist["train_loss"].min()  # flat: the noise floor


def test_every_diverging_run_warns_even_with_the_same_message(data):
    # Python's warning registry shows a repeated message from one line once; two identical
    # diverging runs must both say so.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(2):
            _fit(data, optimizer=optim.sgd(1e6), epochs=1)
    assert [str(w.message)[:40] for w in caught] == ["training diverged in epoch 1 at learning"] * 2


def test_an_outlier_target_is_named_before_the_learning_rate(data):
    # One corrupted target: a single minibatch carries the rise, so the data are suspected
    # first; a rise of the whole epoch (gradient ascent) blames the learning rate.
    (X, y), val = data
    y = np.asarray(y).copy()
    y[17] = 1e4
    with pytest.warns(RuntimeWarning, match=r"1 of the epoch's 32 minibatches carry it .*look "
                                            r"first for bad examples .*then lower the learning"):
        train.fit(LOSS, linear.init(jax.random.key(1), 2), SGD, (X, y), val, epochs=1,
                  batch_size=32, key=jax.random.key(2), progress=False)
    with pytest.warns(RuntimeWarning, match="Likely causes, most likely first: lower the "
                                            "learning rate"):
        _fit(data, optimizer=optax.sgd(-0.1), epochs=4, on_divergence="stop")


def test_a_loss_that_can_be_negative_is_judged_by_differences(data):
    # A ratio means nothing across 0: the squared loss minus 1 ends near -1 (at 5e-5 above
    # it). Training it, and going on at its floor, warns of nothing; gradient ascent does.
    def shifted(params, batch):
        return LOSS(params, batch) - 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        params, hist, _ = _fit(data, optimizer=optim.sgd(0.1), epochs=4, loss=shifted)
        train.fit(shifted, params, optim.sgd(0.1), *data, epochs=4, batch_size=32,
                  key=jax.random.key(3), progress=False)
    assert hist["train_loss"][-1] < -0.99
    with pytest.warns(RuntimeWarning, match="training diverged"):
        _fit(data, optimizer=optax.sgd(-0.1), epochs=4, loss=shifted, on_divergence="stop")


def test_a_stop_returns_the_epoch_it_checked_while_the_next_one_ran(data):
    # The next epoch is dispatched before this one's loss is read: a stop must still return
    # this epoch's params and state, the same bits as a fit that ran exactly that far.
    opt = optax.adam(-0.05)  # ascent: climbs past 10x within a few epochs
    with pytest.warns(RuntimeWarning, match="training diverged"):
        stopped = _fit(data, optimizer=opt, epochs=8, on_divergence="stop")
    ran = len(stopped.history["epoch"])
    assert 1 <= ran < 8
    with pytest.warns(RuntimeWarning, match=f"training diverged in epoch {ran} "):
        exact = _fit(data, optimizer=opt, epochs=ran, on_divergence="stop")
    chex.assert_trees_all_equal(stopped.params, exact.params)
    chex.assert_trees_all_equal(stopped.opt_state, exact.opt_state)


# ----------------------------------------------------------------------------- compiled epochs (21)
def test_the_epoch_takes_over_copies_of_the_callers_params_and_state(data):
    # Donated buffers (the epoch's results may reuse them) and the caller's arrays still valid.
    tr, va = data
    params = linear.init(jax.random.key(1), 2)
    opt = optax.adam(0.1)
    opt_state = opt.init(params)
    settings = train.Settings(LOSS, opt, None, 32, 1000)
    lowered = train.epoch_program(settings).lower(params, opt_state, tr, va, jax.random.key(0), 0)
    assert lowered.as_text().count("tf.aliasing_output") == len(jax.tree.leaves(
        (params, opt_state)))
    out = train.fit(LOSS, params, opt, tr, va, opt_state=opt_state, epochs=2, batch_size=32,
                    key=jax.random.key(0), progress=False)
    assert not any(a.is_deleted() for a in jax.tree.leaves((params, opt_state)))
    assert all(isinstance(a, jax.Array) for a in jax.tree.leaves((out.params, out.opt_state)))


def test_a_learning_rate_loop_compiles_the_epoch_once(data, caplog):
    # Issue 21: each optax.sgd(lr) was a new static argument, a compile per rate, all kept.
    # With the rate in the optimizer's state (inject_hyperparams), 50 fits with new optimizer
    # and loss objects compile one epoch; a program is kept by what it computes.
    tr, va = data
    params = linear.init(jax.random.key(1), 2)
    rates = np.geomspace(1e-3, 0.1, 50)
    with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
        finals = [train.fit(train.supervised_loss(linear.apply, squared_loss), params,
                            optax.inject_hyperparams(optax.sgd)(learning_rate=lr),
                            (tr[0][:200], tr[1][:200]), epochs=1, batch_size=50,
                            key=jax.random.key(2), progress=False).history["train_loss"][0]
                  for lr in rates]
    compiles = [r for r in caplog.records if "Finished XLA compilation of jit(epoch" in
                r.getMessage()]
    assert len(compiles) == 1
    assert np.all(np.diff(finals) < 0)  # each rate was used: larger rates learn faster


def test_at_most_PROGRAMS_compiled_epochs_are_kept(data):
    # A compiled epoch lives as long as its jitted function; the cache drops the least
    # recently used one once PROGRAMS are kept, and nothing else holds on to it.
    tr, va = data
    params = linear.init(jax.random.key(1), 2)
    train.fit(LOSS, params, optax.sgd(0.5), tr, epochs=1, batch_size=500, key=jax.random.key(0),
              progress=False)
    first = weakref.ref(train.epoch_program(train.Settings(LOSS, optax.sgd(0.5), None, 500)))
    for lr in range(train.PROGRAMS):  # new programs, not compiled until called
        train.epoch_program(train.Settings(LOSS, optax.sgd(lr + 1.0), None, 500))
    gc.collect()
    assert first() is None
    assert train.epoch_program.cache_info().currsize == train.PROGRAMS


def test_equal_settings_share_a_program_and_different_ones_never_do():
    same = train.Settings(LOSS, optax.adam(0.1), None, 32)
    assert same == train.Settings(train.supervised_loss(linear.apply, squared_loss),
                                  optax.adam(0.1), None, 32)
    for other in [train.Settings(LOSS, optax.adam(0.2), None, 32),
                  train.Settings(LOSS, optax.adamw(0.1), None, 32),
                  train.Settings(train.supervised_loss(linear.apply, absolute_loss),
                                 optax.adam(0.1), None, 32),
                  train.Settings(LOSS, optax.adam(0.1), None, 64)]:
        assert same != other


# ----------------------------------------------------------------------------- metrics (21)
def _per_class(params, batch):
    """The fraction of each of 3 classes in the batch: a (3,) mean over the batch."""
    _, y = batch
    return {"share": jnp.mean(jax.nn.one_hot(y, 3), axis=0)}


@pytest.mark.numerical
@pytest.mark.parametrize("n_val", [99, 100], ids=["remainder", "divides"])
def test_a_metric_of_any_shape_is_a_mean_over_the_batch_axis(n_val):
    # Issue 21: a (10,) metric came back as shape (1,) value 1.0, or (1, 10) near 0.87.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = rng.integers(0, 3, 300).astype(np.int32)
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    params = mlp.init(jax.random.key(0), 4, 8, 3)
    _, hist, _ = train.fit(loss, params, optim.sgd(0.1), (X[:200], y[:200]),
                           (X[200:200 + n_val], y[200:200 + n_val]), epochs=2, batch_size=20,
                           eval_batch_size=10, metrics=_per_class, key=jax.random.key(1),
                           progress=False)
    share = np.bincount(y[200:200 + n_val], minlength=3) / n_val
    chex.assert_shape(hist["val_share"], (2, 3))
    # float32 sums of 10 batch means in [0, 1], then a division: a few ulps of 1.
    np.testing.assert_allclose(hist["val_share"], np.stack([share] * 2), atol=1e-6)
    got = train.evaluate(loss, params, (X[200:200 + n_val], y[200:200 + n_val]),
                         batch_size=10, metrics=_per_class)
    assert isinstance(got["loss"], float) and got["share"].shape == (3,)
    np.testing.assert_allclose(got["share"], share, atol=1e-6)


@pytest.mark.numerical
def test_a_bfloat16_loss_is_averaged_in_float32(data):
    # Each batch's bfloat16 mean is rounded to 8 bits; summing 100 of them in bfloat16 erred
    # by 0.6 %. In float32 the sum errs by at most 100 float32 roundings (~6e-6 relative).
    (X, y), val = data

    def bf16_loss(params, batch):
        return LOSS(params, batch).astype(jnp.bfloat16)

    params, hist, _ = train.fit(bf16_loss, linear.init(jax.random.key(1), 2), SGD, (X, y), val,
                                epochs=1, batch_size=10, eval_batch_size=10,
                                key=jax.random.key(0), progress=False)
    per_batch = np.asarray(jax.vmap(lambda b: bf16_loss(params, b))(
        (val[0].reshape(100, 10, 2), val[1].reshape(100, 10, 1))), np.float64)
    assert hist["val_loss"].dtype == np.float32 and hist["train_loss"].dtype == np.float32
    np.testing.assert_allclose(hist["val_loss"][0], per_batch.mean(), rtol=1e-5)


# ----------------------------------------------------------------------------- history (21)
def test_zero_epochs_give_the_history_a_run_would_have(data):
    # Same keys, shapes (0 epochs) and dtypes as one epoch's, val_* included.
    kw = {"metrics": lambda p, b: {"err": jnp.abs(LOSS(p, b))}}
    one = _fit(data, epochs=1, **kw).history
    none = _fit(data, epochs=0, **kw).history
    assert sorted(none) == sorted(one)
    for name in one:
        assert none[name].shape == (0, *one[name].shape[1:]), name
        assert none[name].dtype == one[name].dtype, name


def test_params_come_back_as_jax_arrays_whatever_went_in(data):
    as_numpy = jax.tree.map(np.asarray, linear.init(jax.random.key(1), 2))
    for epochs in (0, 1):
        params, _, opt_state = _fit(data, params=as_numpy, epochs=epochs,
                                    optimizer=optax.adam(0.1))
        assert all(isinstance(a, jax.Array) for a in jax.tree.leaves((params, opt_state)))


def test_accuracy_refuses_scores_without_a_class_axis():
    # Issue 21: (n,) logits compared their argmax (one index) with every label: 0.25.
    with pytest.raises(ValueError, match=r"accuracy needs scores Y_hat of shape \(n, q\).*got "
                                         r"Y_hat \(4,\) for Y \(4,\)"):
        train.accuracy(jnp.array([2.0, -1.0, 3.0, 0.5]), jnp.array([1, 0, 1, 1]))
    assert float(train.accuracy(jnp.zeros((2, 3, 4)).at[..., 1].set(1), jnp.ones((2, 3),
                                                                                  int))) == 1.0


WEIGHT = {"penalty": 0.0}  # a setting a loss reads from its module, changed between fits


def _penalized(params, batch):
    return LOSS(params, batch) + WEIGHT["penalty"] * jnp.sum((params["w"] - 10.0) ** 2)


@pytest.mark.numerical
def test_a_global_the_loss_reads_is_part_of_its_program(data):
    # With the loss as a static argument of one jit, a changed global was never seen again:
    # the second fit reused the first program. The program key holds the values a function
    # reads, so the changed penalty compiles anew and counts.
    first = _fit(data, loss=_penalized, epochs=1)
    WEIGHT["penalty"] = 1.0
    try:
        second = _fit(data, loss=_penalized, epochs=1)
    finally:
        WEIGHT["penalty"] = 0.0
    w = linear.init(jax.random.key(1), 2)["w"]
    # The first minibatch's loss differs by the penalty at the start, about 200: float32
    # values near 216 round by 1.5e-5 each, under 1e-6 of the difference.
    np.testing.assert_allclose(second.history["batch_loss"][0, 0] - first.history["batch_loss"][
        0, 0], float(jnp.sum((w - 10.0) ** 2)), rtol=1e-5)


def test_a_resume_with_nothing_left_gives_jax_arrays(data, tmp_path):
    _fit(data, epochs=2, checkpoint_dir=tmp_path)
    with pytest.warns(RuntimeWarning, match="nothing is left to train"):
        params, hist, opt_state = _fit(data, epochs=2, checkpoint_dir=tmp_path, resume=True,
                                       optimizer=SGD)
    assert all(isinstance(a, jax.Array) for a in jax.tree.leaves((params, opt_state)))
    assert hist["train_loss"].shape == (2,) and hist["val_loss"].dtype == np.float32
