# %% [markdown]
# # 4.4 Softmax regression implementation from scratch
# FashionMNIST through a single affine layer 784 -> 10 with weights N(0, 0.01), trained by the
# book's SGD (lr 0.1, batch 256, 10 epochs) through the one compiled `fit`. The model returns
# logits; the loss is the stable cross-entropy from log-softmax. The book's own softmax and
# cross-entropy are shown beside it: equal on ordinary logits, nan on large ones.

# %%
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import run_as_script
from jaxhw import optim, train
from jaxhw.board import ProgressBoard, save_figure, show_images
from jaxhw.data import fashion_mnist
from jaxhw.models import softmax_regression
from jaxhw.nn.losses import book_cross_entropy, cross_entropy
from jaxhw.nn.softmax import book_softmax, softmax

SECTION = "4.4"
TITLE = "Softmax regression from scratch"
LR, BATCH_SIZE, EPOCHS = 0.1, 256, 10
QUICK_TRAIN, QUICK_VAL, QUICK_EPOCHS = 10000, 2000, 2


# %% [markdown]
# ## The data
# The test split serves as validation, as in the book. Arrays stay uint8; the model scales them
# inside the compiled step. The checks run on the host, before anything is compiled.

# %%
def load_data(quick: bool) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """FashionMNIST train and val `(X (n, 28, 28, 1) uint8, y (n,) int32)`, checked."""
    return fashion_mnist.load_splits(*((QUICK_TRAIN, QUICK_VAL) if quick else (None, None)))


def steady_epoch_seconds(history: dict) -> float:
    """Median seconds of an epoch after the first (which includes compilation)."""
    seconds = np.asarray(history["epoch_seconds"])
    return float(np.median(seconds[1:] if seconds.size > 1 else seconds))


# %% [markdown]
# ## The book's softmax overflows
# exp(1000) is inf in float32, so the book's exp / row-sum gives inf / inf = nan, and its
# cross-entropy of that is nan too. The stable versions subtract the row maximum first.

# %%
@jax.jit
def book_and_stable(logits: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    """Softmax (n, q) and mean cross-entropy () of `logits` (n, q), the book's way and stably."""
    return {"book_softmax": book_softmax(logits), "softmax": softmax(logits),
            "book_cross_entropy": book_cross_entropy(book_softmax(logits), y),
            "cross_entropy": cross_entropy(logits, y)}


def overflow_demo() -> dict[str, list | float]:
    """Book vs stable softmax and cross-entropy on the logits [[100, 1000, 0]], label 0."""
    logits = jnp.array([[100.0, 1000.0, 0.0]])
    out = jax.device_get(book_and_stable(logits, jnp.array([0])))
    return {"logits": logits[0].tolist(), "book_softmax": out["book_softmax"][0].tolist(),
            "softmax": out["softmax"][0].tolist(),
            "book_cross_entropy": float(out["book_cross_entropy"]),
            "cross_entropy": float(out["cross_entropy"])}


# %% [markdown]
# ## Predictions
# The misclassified validation images, titled with the true and the predicted class.

# %%
def misclassified(params, val_data, count: int) -> tuple[np.ndarray, list[str]]:
    """The first `count` wrongly predicted val images and titles "true\\npredicted"."""
    X, y = val_data
    preds = np.asarray(jax.jit(softmax_regression.apply)(params, X).argmax(axis=1))
    wrong = np.flatnonzero(preds != np.asarray(y))[:count]
    titles = [f"{t}\n{p}" for t, p in zip(fashion_mnist.text_labels(np.asarray(y)[wrong]),
                                         fashion_mnist.text_labels(preds[wrong]), strict=True)]
    return np.asarray(X)[wrong], titles


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    start = time.perf_counter()
    train_data, val_data = load_data(quick)
    load_seconds = time.perf_counter() - start
    epochs = QUICK_EPOCHS if quick else EPOCHS

    # %% Training: the board draws train loss, val loss and val accuracy per epoch.
    init_key, fit_key = jax.random.split(jax.random.key(seed))
    params = softmax_regression.init(init_key, num_inputs=784, num_outputs=10, sigma=0.01)
    apply = softmax_regression.apply
    board = ProgressBoard(xlabel="epoch", title="softmax regression")
    params, history, _ = train.fit(train.supervised_loss(apply, cross_entropy), params,
                                optim.sgd(LR), train_data, val_data, epochs=epochs,
                                batch_size=BATCH_SIZE, key=fit_key,
                                metrics=train.classification_metrics(apply), board=board,
                                progress=False)
    board.save(out_dir / "training.png")
    board.close()
    print(f"val acc {history['val_acc'][-1]:.4f}, val loss {history['val_loss'][-1]:.4f}, "
          f"{steady_epoch_seconds(history) * 1e3:.1f} ms per epoch after compile")

    # %% Misclassified validation images.
    images, titles = misclassified(params, val_data, count=8)
    axes = show_images(images, 1, len(images), titles=titles)
    save_figure(axes[0].figure, out_dir / "misclassified.png")

    # %% The overflow demo.
    demo = overflow_demo()
    print(f"book softmax of {demo['logits']}: {demo['book_softmax']}; stable: {demo['softmax']}")

    return {
        "val_acc": float(history["val_acc"][-1]),
        "val_loss": float(history["val_loss"][-1]),
        "epoch_seconds": steady_epoch_seconds(history),
        "first_epoch_seconds": float(history["epoch_seconds"][0]),
        "train_loss": history["train_loss"],
        "val_acc_per_epoch": history["val_acc"],
        "load_seconds": load_seconds,
        "overflow_demo": demo,
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
