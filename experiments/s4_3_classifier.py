# %% [markdown]
# # 4.3 The base classification model
# What the book's `Classifier` adds to `Module`: validation accuracy next to validation loss,
# drawn per epoch. Here that is `train.classification_metrics(apply)` passed to the one `fit`,
# which feeds the board; any model with the init/apply pair can be put through it. We train two
# on 2-D data with three concentric rings as classes: the linear softmax regression, which
# cannot separate rings, and the concise Flax MLP, which can.

# %%
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import run_as_script
from jaxhw import optim, train
from jaxhw.board import ProgressBoard
from jaxhw.models import concise_mlp, softmax_regression
from jaxhw.models.checks import check_classification_data
from jaxhw.nn.losses import cross_entropy

SECTION = "4.3"
TITLE = "The base classification model"
NUM_CLASSES = 3


# %%
@functools.partial(jax.jit, static_argnames="n")
def rings(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """X (n, 2) float32 points on three noisy rings of radius 1, 2, 3; y (n,) int32 ring index."""
    k_label, k_angle, k_noise = jax.random.split(key, 3)
    y = jax.random.randint(k_label, (n,), 0, NUM_CLASSES)
    angle = jax.random.uniform(k_angle, (n,), maxval=2 * jnp.pi)
    radius = (y + 1) + 0.3 * jax.random.normal(k_noise, (n,))
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], axis=1), y


def train_classifier(name: str, init, apply, data, key: jax.Array, *, epochs: int, lr: float,
                     out_dir: Path, **hparams) -> dict:
    """Fit one classifier on `data`, its board drawing train loss, val loss and val accuracy."""
    train_data, val_data = data
    for split, arrays in (("train", train_data), ("val", val_data)):
        check_classification_data(arrays, num_classes=NUM_CLASSES, input_shape=(2,), name=split)
    init_key, fit_key = jax.random.split(key)
    params = init(init_key, num_inputs=2, num_outputs=NUM_CLASSES, **hparams)
    board = ProgressBoard(xlabel="epoch", title=name, ylim=(0, 1.5))
    _, history, _ = train.fit(train.supervised_loss(apply, cross_entropy), params, optim.sgd(lr),
                           train_data, val_data, epochs=epochs, batch_size=64, key=fit_key,
                           metrics=train.classification_metrics(apply), board=board,
                           progress=False)
    board.save(out_dir / f"{name.replace(' ', '_')}.png")
    board.close()
    return history


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    k_train, k_val, k_softmax, k_mlp = jax.random.split(jax.random.key(seed), 4)
    n_train, n_val, epochs = (1024, 512, 4) if quick else (4096, 1024, 20)
    data = (rings(k_train, n_train), rings(k_val, n_val))

    # %% The book's accuracy example: one of two rows right.
    book_acc = float(train.accuracy(jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]),
                                    jnp.array([0, 2])))

    # %% Two classifiers through the same fit, each with its board.
    linear = train_classifier("softmax regression", softmax_regression.init,
                              softmax_regression.apply, data, k_softmax, epochs=epochs, lr=0.1,
                              out_dir=out_dir, sigma=0.01)
    deep = train_classifier("concise MLP", concise_mlp.init, concise_mlp.apply, data, k_mlp,
                            epochs=epochs, lr=0.5, out_dir=out_dir, num_hiddens=32)
    for name, h in (("softmax regression", linear), ("concise MLP", deep)):
        print(f"{name}: val loss {h['val_loss'][-1]:.3f}, val acc {h['val_acc'][-1]:.3f}")

    return {
        "accuracy_book_example": book_acc,
        "softmax_regression_val_acc": float(linear["val_acc"][-1]),
        "softmax_regression_val_loss": np.asarray(linear["val_loss"]),
        "mlp_val_acc": float(deep["val_acc"][-1]),
        "mlp_val_loss": np.asarray(deep["val_loss"]),
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
