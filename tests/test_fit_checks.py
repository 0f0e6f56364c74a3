"""Faults that fit names before training: the array, the pass or the parameter at fault."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhw import fit_checks, optim, train
from jaxhw.models import concise_mlp, mlp, softmax_regression
from jaxhw.models.checks import ParamsError, check_classification_data
from jaxhw.nn.losses import cross_entropy
from jaxhw.sweep import fit_many

SOFTMAX_LOSS = train.supervised_loss(softmax_regression.apply, cross_entropy)
MLP_LOSS = train.supervised_loss(mlp.apply, cross_entropy)


def _images(n, size=28, dtype=np.uint8, seed=0):
    """n random images (n, size, size, 1) and labels (n,) in [0, 10)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, size, size, 1)).astype(dtype)
    return (X / 255 if dtype != np.uint8 else X).astype(dtype), rng.integers(0, 10, n).astype(
        np.int32)


def _fit(train_data, val_data=None, loss=SOFTMAX_LOSS, params=None, **kw):
    params = softmax_regression.init(jax.random.key(0)) if params is None else params
    kw = {"epochs": 1, "batch_size": 16, "key": jax.random.key(1), "progress": False, **kw}
    return train.fit(loss, params, optim.sgd(0.1), train_data, val_data, **kw)


@pytest.fixture
def no_epoch_compiled(caplog):
    """Fails the test if fit compiled its epoch: the fault must be named before that."""
    with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
        yield
    assert not [r for r in caplog.records if "epoch" in r.getMessage()]


# ----------------------------------------------------------------------------- non-finite data
@pytest.mark.parametrize("where", ["train", "val"])
def test_a_nan_pixel_is_named_with_its_array_count_and_first_example(where, no_epoch_compiled):
    # Issue 19: one nan pixel in float training images was reported as a bad label [7].
    X, y = _images(64, dtype=np.float32)
    X[17, 3, 4, 0] = np.nan
    X[40, 0, 0, 0] = np.inf
    X[40, 1, 0, 0] = np.nan
    clean = _images(32, dtype=np.float32, seed=1)
    data = {"train": ((X, y), clean), "val": (clean, (X, y))}[where]
    with pytest.raises(ValueError, match=rf"^{where} X holds 3 non-finite value\(s\) \(nan or "
                                         r"inf\) in 2 example\(s\), the first at index 17; fix "
                                         "or drop those examples before training$"):
        _fit(*data)


def test_non_finite_labels_of_a_regression_are_named_as_y(no_epoch_compiled):
    X = np.zeros((20, 784), np.float32)
    y = np.zeros(20, np.float32)
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"^train y holds 1 non-finite value\(s\).*index 5;"):
        _fit((X, y))


def test_uint8_images_are_not_scanned_for_non_finite_values():
    # FashionMNIST's uint8 pixels cannot be nan; only float arrays pay the pass.
    X, y = _images(32)
    _, hist, _ = _fit((X, y))
    assert np.isfinite(hist["train_loss"][0])


def test_labels_are_blamed_only_when_out_of_range():
    # Huge finite features overflow the logits: the loss turns nan, but every label is in
    # range, so the labels are not blamed; the run is reported as diverged.
    X, y = _images(64, dtype=np.float32)
    X *= np.float32(1e38)
    with pytest.warns(RuntimeWarning, match="training diverged in epoch 1"):
        _, hist, _ = _fit((X, y), on_divergence="stop")
    assert not np.isfinite(hist["train_loss"][0])


# ----------------------------------------------------------------------------- Python lists
def test_python_lists_are_converted_as_numpy_converts_them():
    X, y = _images(32, dtype=np.float32)
    rows = X.reshape(32, 784)
    params = softmax_regression.init(jax.random.key(0))
    as_lists = _fit((rows.tolist(), y.tolist()), (rows[:8].tolist(), tuple(y[:8].tolist())),
                    params=params)
    as_arrays = _fit((rows, y), (rows[:8], y[:8]), params=params)
    np.testing.assert_array_equal(as_lists.params["W"], as_arrays.params["W"])
    np.testing.assert_array_equal(as_lists.history["val_loss"], as_arrays.history["val_loss"])
    ev = train.evaluate(SOFTMAX_LOSS, as_arrays.params, (rows[:8].tolist(), y[:8].tolist()))
    np.testing.assert_array_equal(ev["loss"], train.evaluate(SOFTMAX_LOSS, as_arrays.params,
                                                             (rows[:8], y[:8]))["loss"])


def test_ragged_lists_and_lists_without_an_example_axis_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^train X is a list of rows of different lengths; "
                                         "give every example the same number of values$"):
        _fit(([[0.0, 1.0], [2.0]], [0, 1]), batch_size=1)
    with pytest.raises(ValueError) as err:
        _fit([0.5] * 300)  # one flat list: no (X, y)
    assert str(err.value) == ("train: every array needs a leading example axis; train[0] is a "
                              "single value and 299 more (expected e.g. a pair of arrays (X, y))")


# ----------------------------------------------------------------------------- shapes, by pass
def test_validation_images_of_another_size_name_val(no_epoch_compiled):
    # Issue 19: 32x32 validation images for a 28x28 model said nothing of `val`.
    with pytest.raises(ValueError, match=r"^val: X must have shape \(n, \.\.\.\) with 784 values "
                                         r"per example, got \(16, 32, 32, 1\)"):
        _fit(_images(64), _images(32, size=32), eval_batch_size=16)
    with pytest.raises(ValueError, match=r"^train: X must have shape \(n, \.\.\.\) with 784 "
                                         r"values per example, got \(16, 32, 32, 1\)"):
        _fit(_images(64, size=32), _images(32))


def test_a_shape_error_from_jax_names_the_pass_and_the_shapes(no_epoch_compiled):
    def loss(params, batch):  # a user's model whose weights do not fit the data's features
        X, y = batch
        return cross_entropy(X.reshape(X.shape[0], -1) @ params["W"], y)

    params = {"W": np.zeros((10, 10), np.float32)}
    with pytest.raises(ValueError, match=r"^train: dot_general requires contracting dimensions "
                                         r"to have the same shape, got \(784,\) and \(10,\)\..*"
                                         r"\(tracing the loss on a train minibatch of train X "
                                         r"uint8\[16, 28, 28, 1\], train y int32\[16\], with "
                                         r"params params\['W'\] float32\[10, 10\]\)$"):
        _fit(_images(64), loss=loss, params=params)


# ----------------------------------------------------------------------------- labels
def test_float_and_one_hot_labels_get_the_fix_in_the_message(no_epoch_compiled):
    X, y = _images(32)
    with pytest.raises(ValueError, match=r"^train: cross_entropy: y must hold integer class "
                                         r"labels, got dtype float32.*pass y.astype\(int\)"):
        _fit((X, y.astype(np.float32)))
    one_hot = np.eye(10, dtype=np.float32)[y]
    with pytest.raises(ValueError, match=r"^val: cross_entropy: y must hold integer class "
                                         r"labels.*one-hot.*pass y.argmax\(-1\)"):
        _fit((X, y), (X, one_hot))
    with pytest.raises(ValueError, match=r"^train: cross_entropy: y must have shape \(16,\).*"
                                         r"one-hot.*pass y.argmax\(-1\)"):
        _fit((X, one_hot.astype(np.int32)))
    # check_classification_data sees the values: whole numbers or one-hot rows.
    with pytest.raises(ValueError, match=r"train: y must hold integer class labels, got dtype "
                                         "float32; these are whole numbers stored as floats: "
                                         r"pass y.astype\(int\)"):
        check_classification_data((X, y.astype(np.float32)), num_classes=10,
                                  input_shape=(28, 28, 1), name="train")
    with pytest.raises(ValueError, match=r"train: y must have shape \(32,\) to match X, got "
                                         r"\(32, 10\); these look one-hot \(one 1 per row\): "
                                         r"pass y.argmax\(-1\)"):
        check_classification_data((X, one_hot), num_classes=10, input_shape=(28, 28, 1),
                                  name="train")


# ----------------------------------------------------------------------------- params
def test_another_models_params_are_named_before_training(no_epoch_compiled):
    # Issue 19: the MLP's params handed to softmax regression's loss died with KeyError: 'W'.
    with pytest.raises(ParamsError, match=r"^softmax_regression.apply needs params W \(num_inputs"
                                          r", num_outputs\), b \(num_outputs,\); params has no "
                                          "W, b: it holds W1 "):
        _fit(_images(64), params=mlp.init(jax.random.key(0)))
    with pytest.raises(ParamsError, match=r"^concise_mlp.apply: params\['hidden'\]\['bias'\] has "
                                          r"shape \(128,\), but the model wants \(num_hiddens,\) "
                                          r"= \(256,\) \(num_hiddens = 256 from "
                                          r"params\['hidden'\]\['kernel'\]\)"):
        params = concise_mlp.init(jax.random.key(0))
        params["hidden"]["bias"].set_value(np.zeros(128, np.float32))
        _fit(_images(64), loss=train.supervised_loss(concise_mlp.apply, cross_entropy),
             params=params)


def test_a_key_the_loss_looks_up_in_vain_is_named_with_what_params_hold(no_epoch_compiled):
    def loss(params, batch):  # a user's loss written for other params
        X, y = batch
        return cross_entropy(X.reshape(X.shape[0], -1) / 255 @ params["W"] + params["b"], y)

    params = {"W1": np.zeros((784, 10), np.float32), "b1": np.zeros(10, np.float32)}
    with pytest.raises(ValueError, match=r"^train: the loss looked up 'W', which is not there; "
                                         r"params hold params\['W1'\] float32\[784, 10\], "
                                         r"params\['b1'\] float32\[10\]; a train minibatch holds "
                                         r"train X uint8\[16, 28, 28, 1\], train y int32\[16\] "
                                         r"\(params from another model's init\?\)$"):
        _fit(_images(64), loss=loss, params=params)


def test_stacked_params_are_checked_per_model():
    params = jax.vmap(mlp.init)(jax.random.split(jax.random.key(0), 3))
    with pytest.raises(ParamsError, match="softmax_regression.apply needs params W"):
        fit_many(SOFTMAX_LOSS, params, optax.sgd(0.1), _images(64), epochs=1, batch_size=16,
                 key=jax.random.key(1), progress=False)


# ----------------------------------------------------------------------------- losses and metrics
def test_a_metric_that_is_not_a_float_mean_is_refused(no_epoch_compiled):
    # fit averages each metric over the batches weighted by their sizes: a count would come
    # out as the mean count per batch, not the count.
    def counts(params, batch):
        X, y = batch
        return {"correct": jnp.sum(jnp.argmax(softmax_regression.apply(params, X), -1) == y)}

    with pytest.raises(ValueError, match=r"val: metrics\['correct'\] is int32; each metric must "
                                         r"be a float mean over the batch"):
        _fit(_images(64), _images(32), metrics=counts)


def test_a_loss_that_is_not_a_scalar_is_named(no_epoch_compiled):
    def per_example(params, batch):
        X, y = batch
        return -jax.nn.log_softmax(softmax_regression.apply(params, X))[jnp.arange(len(y)), y]

    with pytest.raises(ValueError, match=r"train: the loss must return a float scalar, the mean "
                                         r"over the batch .*; got float32\[16\]"):
        _fit(_images(64), loss=per_example)


def test_models_that_diverge_alike_are_told_once():
    # Four stacked models; 1-3 each carry one outlier minibatch (of different sizes), and in
    # the second case model 3's epoch is nan: causes that differ only in their figures are
    # said once, with the first model's figures (3.4's 16-model grid gave ~2,000 characters).
    first = np.full((4, 8), 1.0, np.float32)
    second = np.full((4, 8), 0.9, np.float32)
    for m in (1, 2, 3):
        second[m, m] = 1000.0 + m
    history = {"epoch": [0, 1], "batch_loss": [first, second],
               "train_loss": [first.mean(1), second.mean(1)]}
    new = fit_checks.diverged(history, 32)
    assert new.tolist() == [False, True, True, True]
    message = fit_checks.divergence_message(2, history, new, None, 32)
    assert message.count("minibatches carry it") == 1
    assert message.endswith("the worst, minibatch 1, has loss 1001; the median is 0.9): look "
                            "first for bad examples (an outlier target, a corrupted label), then "
                            "lower the learning rate (model 1's figures; model(s) [2, 3] alike)")
    second[3] = np.nan
    history["train_loss"][-1] = second.mean(1)
    message = fit_checks.divergence_message(2, history, fit_checks.diverged(history, 32), None,
                                            32)
    assert "; or model(s) [3]: lower the learning rate" in message
    assert "Likely causes, most likely first: model(s) [1, 2]: 1 of the epoch's 8" in message
