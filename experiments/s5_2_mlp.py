# %% [markdown]
# # 5.2 Implementation of multilayer perceptrons
# FashionMNIST through one hidden layer of 256 ReLU units, twice: from scratch (weights
# N(0, 0.01), as the book) and concisely with Flax (Dense 256, relu, Dense 10, Flax's default
# initialisation). Both are an init/apply pair, so both go through the same loss, the same
# scratch SGD (lr 0.1, batch 256, 10 epochs) and the same compiled `fit`.

# %%
from __future__ import annotations

from pathlib import Path

import jax

from experiments.runner import run_as_script
from experiments.s4_4_softmax_regression import load_data, steady_epoch_seconds
from jaxhw import optim, train
from jaxhw.board import ProgressBoard
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.losses import cross_entropy

SECTION = "5.2"
TITLE = "Multilayer perceptrons from scratch and concise"
LR, BATCH_SIZE, EPOCHS, NUM_HIDDENS = 0.1, 256, 10, 256
QUICK_EPOCHS = 2


# %%
def train_mlp(name: str, init, apply, data, key: jax.Array, *, epochs: int, out_dir: Path,
              **hparams) -> dict:
    """Train one MLP with the book's settings; its board goes to `<name>.png`."""
    train_data, val_data = data
    init_key, fit_key = jax.random.split(key)
    params = init(init_key, num_inputs=784, num_hiddens=NUM_HIDDENS, num_outputs=10, **hparams)
    board = ProgressBoard(xlabel="epoch", title=f"{name} MLP")
    _, history, _ = train.fit(train.supervised_loss(apply, cross_entropy), params, optim.sgd(LR),
                           train_data, val_data, epochs=epochs, batch_size=BATCH_SIZE,
                           key=fit_key, metrics=train.classification_metrics(apply),
                           board=board, progress=False)
    board.save(out_dir / f"{name}.png")
    board.close()
    print(f"{name}: val acc {history['val_acc'][-1]:.4f}, "
          f"{steady_epoch_seconds(history) * 1e3:.0f} ms per epoch after compile")
    return history


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    data = load_data(quick)
    epochs = QUICK_EPOCHS if quick else EPOCHS
    scratch_key, concise_key = jax.random.split(jax.random.key(seed))

    # %% From scratch: W1 (784, 256), W2 (256, 10) ~ N(0, 0.01), biases zero.
    scratch = train_mlp("scratch", mlp.init, mlp.apply, data, scratch_key, epochs=epochs,
                        out_dir=out_dir, sigma=0.01)

    # %% Concise: the Flax Linen module behind the same init/apply contract.
    concise = train_mlp("concise", concise_mlp.init, concise_mlp.apply, data, concise_key,
                        epochs=epochs, out_dir=out_dir)

    return {
        "scratch_val_acc": float(scratch["val_acc"][-1]),
        "concise_val_acc": float(concise["val_acc"][-1]),
        "epoch_seconds": {"scratch": steady_epoch_seconds(scratch),
                          "concise": steady_epoch_seconds(concise)},
        "scratch_val_loss": float(scratch["val_loss"][-1]),
        "concise_val_loss": float(concise["val_loss"][-1]),
        "scratch_val_acc_per_epoch": scratch["val_acc"],
        "concise_val_acc_per_epoch": concise["val_acc"],
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
