"""Classifiers: softmax regression, scratch and concise MLPs, input checks, training on blobs."""

from __future__ import annotations

import logging

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxhw import optim, train
from jaxhw.models import concise_mlp, linear, mlp, softmax_regression
from jaxhw.models.checks import ParamsError, check_classification_data
from jaxhw.nn import losses
from jaxhw.nn.images import flatten_images

IMAGE_SHAPE = (28, 28, 1)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *IMAGE_SHAPE), dtype=np.uint8)


def _blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 2-D: (n, 2) float32, (n,) int32 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n).astype(np.int32)
    centres = np.array([[0.0, 3.0], [-3.0, -2.0], [3.0, -2.0]], np.float32)
    return (centres[y] + rng.normal(size=(n, 2))).astype(np.float32), y


# ----------------------------------------------------------------------------- shapes and values
# (jit around apply: one compile per test instead of one per primitive op)
@pytest.mark.numerical  # rerun under a second CPU ISA by make test
def test_softmax_regression_init_and_apply():
    params = softmax_regression.init(jax.random.key(0))
    chex.assert_shape(params["W"], (784, 10))
    chex.assert_shape(params["b"], (10,))
    chex.assert_trees_all_equal_dtypes(params, {"W": jnp.zeros(1), "b": jnp.zeros(1)})
    assert float(jnp.std(params["W"])) == pytest.approx(0.01, rel=0.05)
    np.testing.assert_array_equal(params["b"], np.zeros(10))
    X = _images(5)
    logits = jax.jit(softmax_regression.apply)(params, X)
    chex.assert_shape(logits, (5, 10))
    chex.assert_type(logits, jnp.float32)
    expected = (X.reshape(5, 784) / 255.0) @ np.asarray(params["W"]) + np.asarray(params["b"])
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.numerical  # rerun under a second CPU ISA by make test
def test_uint8_images_and_scaled_floats_give_the_same_logits():
    params = softmax_regression.init(jax.random.key(1))
    X = _images(4, seed=1)
    floats = X.reshape(4, 784).astype(np.float32) / 255
    apply = jax.jit(softmax_regression.apply)
    np.testing.assert_allclose(apply(params, X), apply(params, floats), rtol=1e-6, atol=1e-6)


@pytest.mark.numerical  # rerun under a second CPU ISA by make test
def test_scratch_mlp_init_and_apply():
    params = mlp.init(jax.random.key(2))
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (784, 256), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    assert float(jnp.std(params["W1"])) == pytest.approx(0.01, rel=0.05)
    X = _images(3)
    logits = jax.jit(mlp.apply)(params, X)
    chex.assert_shape(logits, (3, 10))
    chex.assert_type(logits, jnp.float32)
    P = {k: np.asarray(v, np.float64) for k, v in params.items()}
    H = np.maximum(X.reshape(3, 784) / 255.0 @ P["W1"] + P["b1"], 0)
    np.testing.assert_allclose(logits, H @ P["W2"] + P["b2"], rtol=1e-4, atol=1e-6)


@pytest.mark.numerical  # rerun under a second CPU ISA by make test
def test_concise_mlp_is_the_same_function_of_its_params():
    params = concise_mlp.init(jax.random.key(3))
    assert isinstance(params, nnx.State)
    assert jax.tree.map(jnp.shape, nnx.to_pure_dict(params)) == {
        "hidden": {"kernel": (784, 256), "bias": (256,)},
        "output": {"kernel": (256, 10), "bias": (10,)}}
    chex.assert_trees_all_equal_dtypes(params, jax.tree.map(jnp.zeros_like, params))
    np.testing.assert_array_equal(params["hidden"]["bias"][...], np.zeros(256))
    # LeCun normal: standard deviation 1/sqrt(fan_in), within 5 % over 200k (2.5k) draws.
    assert float(jnp.std(params["hidden"]["kernel"][...])) == pytest.approx(784 ** -0.5,
                                                                             rel=0.05)
    assert float(jnp.std(params["output"]["kernel"][...])) == pytest.approx(256 ** -0.5,
                                                                             rel=0.05)
    X = _images(6)
    logits = jax.jit(concise_mlp.apply)(params, X)
    chex.assert_shape(logits, (6, 10))
    chex.assert_type(logits, jnp.float32)
    as_scratch = {"W1": params["hidden"]["kernel"][...], "b1": params["hidden"]["bias"][...],
                  "W2": params["output"]["kernel"][...], "b2": params["output"]["bias"][...]}
    np.testing.assert_allclose(logits, jax.jit(mlp.apply)(as_scratch, X), rtol=1e-5, atol=1e-6)


def test_concise_mlp_is_an_nnx_module_split_into_graphdef_and_params():
    model = concise_mlp.MLP(784, 32, 10, rngs=nnx.Rngs(params=jax.random.key(5)))
    graphdef, params = nnx.split(model)
    # apply rebuilds the same structure from the params' shapes: nothing kept between calls.
    assert concise_mlp.graphdef(784, 32, 10) == graphdef
    # init draws the same numbers compiled (jit); XLA may fuse the truncated normal's float32
    # steps differently from eager ops: a few ulps at most.
    chex.assert_trees_all_close(concise_mlp.init(jax.random.key(5), num_hiddens=32), params,
                                rtol=1e-6, atol=1e-7)
    X = _images(3)
    np.testing.assert_array_equal(concise_mlp.apply(params, X), model(X))
    np.testing.assert_array_equal(concise_mlp.apply(params, X),
                                  nnx.merge(graphdef, params)(X))


def test_concise_mlp_sizes_come_from_its_params():
    params = concise_mlp.init(jax.random.key(4), num_inputs=2, num_hiddens=5, num_outputs=3)
    chex.assert_shape(concise_mlp.apply(params, np.zeros((7, 2), np.float32)), (7, 3))
    stack = jax.vmap(concise_mlp.init, in_axes=(0, None, None, None))(
        jax.random.split(jax.random.key(4), 4), 2, 5, 3)
    chex.assert_shape(stack["hidden"]["kernel"][...], (4, 2, 5))
    chex.assert_shape(jax.vmap(concise_mlp.apply, in_axes=(0, None))(
        stack, np.zeros((7, 2), np.float32)), (4, 7, 3))


# ----------------------------------------------------------------------- params that do not fit
def test_another_models_params_are_named_with_what_the_model_wants():
    X = _images(2)
    with pytest.raises(ParamsError, match=r"softmax_regression.apply needs params W \(num_inputs, "
                                          r"num_outputs\), b \(num_outputs,\); params has no W, "
                                          r"b: it holds W1 \(784, 256\), b1 \(256,\), W2 "
                                          r"\(256, 10\), b2 \(10,\) \(the params of another"):
        softmax_regression.apply(mlp.init(jax.random.key(0)), X)
    with pytest.raises(ParamsError, match=r"concise_mlp.apply needs params hidden/kernel "
                                          r"\(num_inputs, num_hiddens\).*params has no "
                                          "hidden/kernel.*it holds W"):
        concise_mlp.apply(softmax_regression.init(jax.random.key(0)), X)
    with pytest.raises(ParamsError, match=r"mlp.apply needs params W1 .*params has no W1, "
                                          r"b1: it holds hidden/bias \(256,\)"):
        mlp.apply(concise_mlp.init(jax.random.key(0)), X)
    with pytest.raises(ParamsError, match="needs params holding W .*; got list"):
        softmax_regression.apply([np.zeros((784, 10)), np.zeros(10)], X)


def test_a_parameter_of_the_wrong_shape_is_named_with_the_shape_wanted():
    X = _images(2)
    params = {**softmax_regression.init(jax.random.key(0)), "b": jnp.zeros(5)}
    with pytest.raises(ParamsError, match=r"softmax_regression.apply: params\['b'\] has shape "
                                          r"\(5,\), but the model wants \(num_outputs,\) = "
                                          r"\(10,\) \(num_outputs = 10 from params\['W'\]\)"):
        softmax_regression.apply(params, X)
    params = concise_mlp.init(jax.random.key(0))
    params["output"]["kernel"].set_value(jnp.zeros((128, 10)))
    with pytest.raises(ParamsError, match=r"params\['output'\]\['kernel'\] has shape \(128, 10\), "
                                          r"but the model wants \(num_hiddens, num_outputs\) = "
                                          r"\(256, 10\) \(num_hiddens = 256 from "
                                          r"params\['hidden'\]\['kernel'\]\)"):
        concise_mlp.apply(params, X)
    with pytest.raises(ParamsError, match=r"linear.apply: params\['w'\] has shape \(3,\), but "
                                          r"the model wants \(num_inputs, 1\)$"):
        linear.apply({"w": jnp.zeros(3), "b": jnp.zeros(1)}, jnp.zeros((2, 3)))


def test_an_extra_parameter_is_named():
    params = {**mlp.init(jax.random.key(0), 4, 3, 2), "W3": jnp.zeros((2, 2))}
    with pytest.raises(ParamsError, match=r"mlp.apply needs params W1 .*; params also holds W3 "
                                          r"\(2, 2\), which it does not use"):
        mlp.apply(params, np.zeros((1, 4), np.float32))


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("model", ["softmax_regression", "scratch_mlp", "concise_mlp"])
def test_classifiers_learn_blobs_through_fit(model):
    init, apply = {
        "softmax_regression": (softmax_regression.init, softmax_regression.apply),
        "scratch_mlp": (mlp.init, mlp.apply),
        "concise_mlp": (concise_mlp.init, concise_mlp.apply),
    }[model]
    kwargs = {"num_inputs": 2, "num_outputs": 3}
    if model != "softmax_regression":
        kwargs["num_hiddens"] = 16
    if model == "scratch_mlp":
        kwargs["sigma"] = 0.5  # N(0, 0.01) is for 784 inputs; 2 inputs need larger weights
    train_data, val_data = _blobs(600, seed=0), _blobs(300, seed=1)
    for name, data in (("train", train_data), ("val", val_data)):
        check_classification_data(data, num_classes=3, input_shape=(2,), name=name)
    params = init(jax.random.key(5), **kwargs)
    loss = train.supervised_loss(apply, losses.cross_entropy)
    metrics = train.classification_metrics(apply)
    before = train.evaluate(loss, params, val_data, metrics=metrics)
    params, history, _ = train.fit(loss, params, optim.sgd(0.5), train_data, val_data,
                                   epochs=5, batch_size=64, key=jax.random.key(6),
                                   metrics=metrics, progress=False)
    assert history["val_acc"][-1] >= 0.95
    assert history["val_loss"][-1] < 0.5 * before["loss"]
    assert history["train_loss"][-1] < history["train_loss"][0]


# ----------------------------------------------------------------------------- bad input
def _check(X, y, name="train"):
    return check_classification_data((X, y), num_classes=10, input_shape=IMAGE_SHAPE, name=name)


def test_good_data_passes():
    y = np.arange(8, dtype=np.int32)
    assert _check(_images(8), y) == (8, 28, 28, 1)
    assert _check(np.zeros((8, 784), np.float32), y) == (8, 784)


def test_labels_out_of_range_are_rejected():
    with pytest.raises(ValueError, match=r"train: y must hold labels in \[0, 10\).*\[0, 10\]"):
        _check(_images(3), np.array([0, 5, 10], np.int32))
    with pytest.raises(ValueError, match=r"val: y must hold labels in \[0, 10\).*\[-1, 2\]"):
        _check(_images(3), np.array([-1, 2, 0], np.int32), name="val")


def test_float_labels_are_rejected():
    with pytest.raises(ValueError, match="train: y must hold integer class labels.*float32"):
        _check(_images(2), np.array([0.0, 1.0], np.float32))


def test_images_of_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match=r"train: X must have shape \(n, 28, 28, 1\).*\(2, 32, "
                                         r"32, 1\)"):
        _check(np.zeros((2, 32, 32, 1), np.uint8), np.array([0, 1], np.int32))


def test_empty_batch_is_rejected():
    with pytest.raises(ValueError, match=r"train: X is an empty batch"):
        _check(np.zeros((0, 28, 28, 1), np.uint8), np.zeros((0,), np.int32))


def test_label_count_must_match_images():
    with pytest.raises(ValueError, match=r"train: y must have shape \(3,\)"):
        _check(_images(3), np.array([0, 1], np.int32))


def test_checks_raise_before_any_compilation(caplog):
    bad = [(_images(2), np.array([0, 11], np.int32)),
           (_images(2), np.array([0.0, 1.0], np.float32)),
           (np.zeros((2, 27, 28, 1), np.uint8), np.array([0, 1], np.int32)),
           (np.zeros((0, 28, 28, 1), np.uint8), np.zeros((0,), np.int32))]
    with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
        for X, y in bad:
            with pytest.raises(ValueError):
                _check(X, y)
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]


def test_apply_rejects_wrong_feature_count_while_tracing():
    params = softmax_regression.init(jax.random.key(7))
    with pytest.raises(ValueError, match=r"X must have shape \(n, \.\.\.\) with 784 values"):
        jax.jit(softmax_regression.apply)(params, jnp.zeros((2, 30, 30), jnp.uint8))
    with pytest.raises(ValueError, match="with 784 values"):
        flatten_images(jnp.zeros((784,)), 784)


def test_apply_rejects_integer_images_other_than_uint8():
    # int64 pixels would skip the 1/255 that uint8 gets: 255x the book's inputs, silently.
    params = softmax_regression.init(jax.random.key(7))
    with pytest.raises(ValueError, match="X must hold uint8 pixels .* got dtype int32"):
        jax.jit(softmax_regression.apply)(params, jnp.zeros((2, 28, 28), jnp.int32))
    chex.assert_trees_all_close(flatten_images(jnp.full((1, 4), 255, jnp.uint8), 4),
                                flatten_images(jnp.ones((1, 4), jnp.float32), 4))


def test_linear_apply_names_a_wrong_feature_count():
    params = linear.init(jax.random.key(0), 2)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\) for these weights, got "
                                         r"\(4, 3\)"):
        linear.apply(params, jnp.zeros((4, 3)))


@pytest.mark.parametrize("init, kwargs, match", [
    (linear.init, {"num_inputs": 2.5}, "num_inputs must be an integer >= 1, got 2.5"),
    (softmax_regression.init, {"num_outputs": 0}, "num_outputs must be an integer >= 1, got 0"),
    (mlp.init, {"num_hiddens": (64, 0, 2.5)}, r"num_hiddens\[1\] and num_hiddens\[2\] must "
                                              "be integers >= 1, got 0, 2.5"),
    (mlp.init, {"num_hiddens": ()}, "num_hiddens must be a width or a non-empty sequence"),
    (concise_mlp.init, {"num_hiddens": -1}, "num_hiddens must be an integer >= 1"),
])
def test_init_names_a_bad_size(init, kwargs, match):
    with pytest.raises(ValueError, match=match):
        init(jax.random.key(0), **kwargs)


@pytest.mark.parametrize("init", [linear.init, softmax_regression.init, mlp.init,
                                  concise_mlp.init])
def test_init_names_a_key_that_is_not_a_prng_key(init):
    args = (2,) if init is linear.init else ()
    with pytest.raises(ValueError, match=r"key must be a PRNG key from jax.random.key\(seed\), "
                                         "got int"):
        init(3, *args)


@pytest.mark.numerical  # rerun under a second CPU ISA by make test
def test_mlp_with_two_hidden_layers():
    params = mlp.init(jax.random.key(8), num_hiddens=[64, 32])
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (784, 64), "b1": (64,), "W2": (64, 32), "b2": (32,), "W3": (32, 10), "b3": (10,)}
    X = _images(3)
    P = {k: np.asarray(v, np.float64) for k, v in params.items()}
    H = np.maximum(X.reshape(3, 784) / 255.0 @ P["W1"] + P["b1"], 0)
    H = np.maximum(H @ P["W2"] + P["b2"], 0)
    np.testing.assert_allclose(jax.jit(mlp.apply)(params, X), H @ P["W3"] + P["b3"], rtol=1e-4,
                               atol=1e-6)
    one = mlp.init(jax.random.key(8))  # one hidden layer: the book's draws, as before
    assert sorted(one) == ["W1", "W2", "b1", "b2"]


@pytest.mark.numerical  # rerun under a second CPU ISA by make test
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_mlp_takes_another_activation(name):
    params = mlp.init(jax.random.key(8), num_inputs=4, num_hiddens=[5, 3], num_outputs=2,
                      sigma=1.0)
    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    P = {k: np.asarray(v, np.float64) for k, v in params.items()}
    act = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[name]
    H = act(act(X @ P["W1"] + P["b1"]) @ P["W2"] + P["b2"])
    # float32 products of 4-5 terms of size ~1: rounding ~1e-6 per layer, well inside 1e-5.
    got = jax.jit(mlp.apply, static_argnames="activation")(params, X,
                                                           activation=getattr(jax.nn, name))
    np.testing.assert_allclose(got, H @ P["W3"] + P["b3"], rtol=1e-5, atol=1e-5)
