"""The README's example as a program: softmax regression (4.4) on FashionMNIST, 10 epochs.

`python -m experiments.quickstart` goes from a fresh process to a trained model and prints its
validation accuracy; `make bench` times exactly this, once the dataset and the compiled programs
are cached.
"""

import gc

import jax
import optax

from jaxhw import compile_cache, train
from jaxhw.data import fashion_mnist
from jaxhw.models import softmax_regression as model
from jaxhw.nn.losses import cross_entropy


def main() -> float:
    """Train the book's softmax regression and return its final validation accuracy."""
    compile_cache.enable()                             # a second process skips XLA's compile
    train_data = fashion_mnist.load("train")           # uint8 images stay uint8 on the device
    val_data = fashion_mnist.load("test")
    loss = train.supervised_loss(model.apply, cross_entropy)
    params, history, _ = train.fit(loss, model.init(jax.random.key(0)), optax.sgd(0.1),
                                   train_data, val_data, epochs=10, batch_size=256,
                                   key=jax.random.key(1),
                                   metrics=train.classification_metrics(model.apply))
    return float(history["val_acc"][-1])


if __name__ == "__main__":
    # A program's choice, not the library's: the objects alive now (jax's modules, mostly) live
    # as long as the process, so keep Python's garbage collector from walking them again, here
    # and in its last collection at exit (docs/DESIGN.md, "A fresh process").
    gc.freeze()
    print(f"val_acc {main():.4f}")
