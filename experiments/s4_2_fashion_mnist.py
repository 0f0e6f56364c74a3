"""d2l 4.2 The Image Classification Dataset: FashionMNIST through TFDS, offline, on device.

The book wraps torchvision's FashionMNIST in DataLoaders and times one pass (6.09 s there).
Here a TFDS builder turns the local IDX files into `array_record` once, `load` caches the split
as uint8 arrays, and a batch is a gather from device-resident arrays inside one jitted scan.
"""

# %%
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import data_bench
from experiments.runner import run_as_script
from jaxhw.board import save_figure
from jaxhw.data import fashion_mnist

SECTION = "4.2"
TITLE = "The Image Classification Dataset"
RESIZE = (32, 32)
BATCH_SIZE = 64
QUICK_SOURCE_BATCHES = 20  # quick mode times this many data_source batches and extrapolates


# %% [markdown]
# ## 4.2.1 Loading the dataset
# The first run prepares the dataset (a minute on two cores) and caches it; later runs load
# the cached uint8 arrays in well under a second.

# %%
def load_dataset(resize: tuple[int, int] = RESIZE) -> dict[str, np.ndarray | float | bool]:
    """Train and validation (the test split, as in the book) arrays, resized, and load time."""
    warm = all(fashion_mnist.is_cached(s, resize=resize) for s in ("train", "val"))
    start = time.perf_counter()
    train_images, train_labels = fashion_mnist.load("train", resize=resize)
    val_images, val_labels = fashion_mnist.load("val", resize=resize)
    return {"train_images": train_images, "train_labels": train_labels,
            "val_images": val_images, "val_labels": val_labels,
            "load_s": time.perf_counter() - start, "cache_was_warm": warm}


# %% [markdown]
# ## 4.2.2 Reading a minibatch
# A batch is `images[indices]` on device: uint8 in, scaled to float32 inside the compiled step.

# %%
def first_batch(images: jax.Array, labels: jax.Array, seed: int,
                batch_size: int = BATCH_SIZE) -> tuple[jax.Array, jax.Array]:
    """The first shuffled batch of an epoch: X (batch, H, W, 1) uint8, y (batch,) int32."""
    index = jax.random.permutation(jax.random.key(seed), images.shape[0])[:batch_size]
    return images[index], labels[index]


def time_passes(data: dict, seed: int, quick: bool) -> dict[str, float | int | bool]:
    """One pass over train in batches of 64: `tfds.data_source` reads vs device-resident gathers."""
    source = fashion_mnist.data_source("train")
    tfds_pass = data_bench.time_source_pass(
        source, BATCH_SIZE, seed, QUICK_SOURCE_BATCHES if quick else None)
    device = data_bench.time_device_pass(data["train_images"], data["train_labels"], BATCH_SIZE,
                                         seed)
    return {"tfds_pass_s": tfds_pass["pass_s"],
            "tfds_pass_extrapolated": tfds_pass["extrapolated"],
            "tfds_batches_timed": tfds_pass["batches_timed"],
            "device_pass_s": device["pass_s"],
            "device_shuffle_s": device["shuffle_s"],
            "device_compile_and_run_s": device["compile_and_run_s"]}


# %% [markdown]
# ## 4.2.3 Visualization

# %%
def plot_validation_grid(images: np.ndarray, labels: np.ndarray, path: Path) -> list[str]:
    """Save 8 validation images titled with their text labels; return the titles."""
    axes = fashion_mnist.visualize(images[:8], labels[:8], nrows=1, ncols=8)
    save_figure(axes[0].figure, path)
    return fashion_mnist.text_labels(labels[:8])


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    """Load FashionMNIST offline, read a batch, time a pass both ways, save an image grid."""
    out_dir = Path(out_dir)
    data = load_dataset()
    images = jax.device_put(data["train_images"])
    labels = jax.device_put(data["train_labels"])
    X, y = first_batch(images, labels, seed)
    passes = time_passes(data, seed, quick)
    titles = plot_validation_grid(data["val_images"], data["val_labels"],
                                  out_dir / "val_images.png")
    scaled = X.astype(jnp.float32) / 255.0
    print(f"train {len(data['train_labels'])}, val {len(data['val_labels'])}; one image "
          f"{data['train_images'].shape[1:]}; batch X {X.shape} {X.dtype}, y {y.shape} "
          f"{y.dtype}; pass in batches of {BATCH_SIZE}: tfds.data_source "
          f"{passes['tfds_pass_s']:.2f} s, device-resident {passes['device_pass_s']:.4f} s")
    return {
        "num_train": len(data["train_labels"]),
        "num_val": len(data["val_labels"]),
        "image_shape": list(data["train_images"].shape[1:]),
        "batch_shape": list(X.shape),
        "batch_dtype": str(X.dtype),
        "label_batch_shape": list(y.shape),
        "label_batch_dtype": str(y.dtype),
        "scaled_batch_dtype": str(scaled.dtype),
        "scaled_batch_range": [float(scaled.min()), float(scaled.max())],
        **passes,
        "load_s": data["load_s"],
        "cache_was_warm": data["cache_was_warm"],
        "val_titles": titles,
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
