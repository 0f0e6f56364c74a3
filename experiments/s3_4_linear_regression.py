# %% [markdown]
# # 3.4 Linear regression from scratch
# Synthetic data y = X w + b + noise with w = [2, -3.4], b = 4.2; a linear model trained by the
# book's minibatch SGD (written as an optax transformation) through the one compiled `fit`.
# Then the book's exercise: the same with the absolute (L1) loss.

# %%
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.runner import run_as_script
from jaxhw import optim, train
from jaxhw.board import ProgressBoard, plot, save_figure
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear
from jaxhw.nn.losses import absolute_loss, squared_loss

SECTION = "3.4"
TITLE = "Linear regression from scratch"

TRUE_W = jnp.array([2.0, -3.4])
TRUE_B = 4.2


# %%
def train_linear(loss_fn, data, key, *, lr=0.03, batch_size=32, epochs=3, board=None):
    """Train the scratch linear model with `loss_fn`; returns fit's (params, history, _)."""
    (train_data, val_data), init_key, fit_key = data, *jax.random.split(key)
    params = linear.init(init_key, num_inputs=2, sigma=0.01)
    loss = train.supervised_loss(linear.apply, loss_fn)
    return train.fit(loss, params, optim.sgd(lr), train_data, val_data, epochs=epochs,
                     batch_size=batch_size, key=fit_key, board=board, progress=False)


def errors(params):
    """w - w_hat (2,) and b - b_hat, as the book prints them."""
    return np.asarray(TRUE_W - params["w"].reshape(TRUE_W.shape)), float(TRUE_B - params["b"][0])


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    data_key, l2_key, l1_key = jax.random.split(jax.random.key(seed), 3)
    data = synthetic_regression(data_key, TRUE_W, TRUE_B, num_train=1000, num_val=1000,
                                noise=0.01)
    epochs = 3

    # %% Squared loss, the board drawing train and val loss as the book's Trainer does.
    board = ProgressBoard(xlabel="epoch", yscale="log", title="squared loss")
    params, hist, _ = train_linear(squared_loss, data, l2_key, epochs=epochs, board=board)
    board.save(out_dir / "loss.png")
    board.close()
    w_err, b_err = errors(params)
    print(f"error in estimating w: {w_err}\nerror in estimating b: {b_err:.4f}")

    # %% The exercise: absolute (L1) loss with the same data, lr and epochs.
    l1_params, l1_hist, _ = train_linear(absolute_loss, data, l1_key, epochs=epochs)
    l1_w_err, l1_b_err = errors(l1_params)

    # %% Compare both: per-batch training loss, each on its own scale.
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.5))
    steps = np.arange(hist["batch_loss"].size) / hist["batch_loss"].shape[1]
    plot(steps, [hist["batch_loss"].ravel(), l1_hist["batch_loss"].ravel()], "epoch",
         "batch loss", legend=["squared / 2", "absolute"], yscale="log", axes=axes[0])
    plot(np.arange(1, epochs + 1), [hist["val_loss"], l1_hist["val_loss"]], "epoch",
         "val loss", legend=["squared / 2", "absolute"], yscale="log", axes=axes[1])
    fig.suptitle("L2 vs L1 loss, lr 0.03, batch 32")
    save_figure(fig, out_dir / "l2_vs_l1.png")

    return {
        "w_error": w_err, "b_error": b_err,
        "l1_w_error": l1_w_err, "l1_b_error": l1_b_err,
        "train_loss": hist["train_loss"], "val_loss": hist["val_loss"],
        "l1_train_loss": l1_hist["train_loss"], "l1_val_loss": l1_hist["val_loss"],
        "epoch_seconds": hist["epoch_seconds"],
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
