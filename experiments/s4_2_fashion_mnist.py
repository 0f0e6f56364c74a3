# %% [markdown]
# # 4.2 The Image Classification Dataset
#
# *Dive into Deep Learning*, section 4.2, in JAX. Fashion-MNIST: 70,000 grayscale images of
# clothing in 10 classes, 60,000 for training and 10,000 for validation (the test split, as in
# the book). The book wraps torchvision's dataset in a `DataLoader`; here a TFDS builder turns
# the local IDX files into `array_record` once (offline, no TensorFlow), `fashion_mnist.load`
# caches each split as one uint8 array, and a minibatch is a gather from that array on the
# device, inside the compiled training step.
#
# Each code cell that prints a value starts with `# reference:` and what the PyTorch notebook
# this project reproduces printed there; the output under the cell is this notebook's.

# %% tags=["parameters"]
quick = False  # smoke run: time 20 batches of the tfds.data_source pass and extrapolate
seed = 0  # PRNG seed of the shuffled first batch and of the timed passes
out_dir = "results/4.2"  # where val_images.png and metrics.json go

# %%
import time

import jax
import jax.numpy as jnp

from jaxhw import notebook
from jaxhw.data import batches, fashion_mnist, pass_timing

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)

# %% [markdown]
# ## 4.2.1 Loading the Dataset
# The book resizes the 28x28 images to 32x32 (bilinear), as here. The first run prepares the
# dataset from the IDX files (about a minute on two cores) and caches the arrays, the resized
# ones too; later runs read the cache in well under a second.

# %%
resize = (32, 32)
cache_was_warm = all(fashion_mnist.is_cached(s, resize=resize) for s in ("train", "val"))
tic = time.perf_counter()
train_images, train_labels = fashion_mnist.load("train", resize=resize)
val_images, val_labels = fashion_mnist.load("val", resize=resize)
load_s = time.perf_counter() - tic
print(f"loaded in {load_s:.2f} s ({'from the cache' if cache_was_warm else 'prepared, cached'})")

# %%
# reference: (60000, 10000)
len(train_labels), len(val_labels)

# %% [markdown]
# One image is 32x32 with one channel. PyTorch puts the channel first, (1, 32, 32), as a float
# tensor in [0, 1]; JAX and Flax put it last, (32, 32, 1), and the pixels stay uint8 (a quarter
# of float32's memory) until a model scales them by 1/255 inside its compiled step.

# %%
# reference: torch.Size([1, 32, 32])
train_images[0].shape, train_images.dtype

# %% [markdown]
# The ten classes, in label order (`fashion_mnist.text_labels` maps labels to these names).

# %%
fashion_mnist.TEXT_LABELS

# %% [markdown]
# ## 4.2.2 Reading a Minibatch
# The book's training `DataLoader` shuffles and yields float32 batches, channel first, with
# int64 labels. Here the split goes to the device once; a batch is `images[order[:64]]`, where
# `order` is the epoch's permutation drawn from a key (as `fit` shuffles). The labels are int32:
# JAX keeps 64-bit types off unless asked (`jax_enable_x64`).

# %%
# reference: torch.Size([64, 1, 32, 32]) torch.float32 torch.Size([64]) torch.int64
batch_size = 64
images, labels = jax.device_put(train_images), jax.device_put(train_labels)
order = batches.epoch_permutation(jax.random.key(run.seed), len(train_labels))
X, y = images[order[:batch_size]], labels[order[:batch_size]]
print(X.shape, X.dtype, y.shape, y.dtype)

# %% [markdown]
# What a model sees of that batch: float32 in [0, 1], like the reference's tensor.

# %%
scaled = X.astype(jnp.float32) / 255
print(scaled.shape, scaled.dtype, f"[{float(scaled.min())}, {float(scaled.max())}]")

# %% [markdown]
# The book times one pass over the training set in batches of 64: 6.09 s on the reference's
# machine. The nearest thing here is reading the same shuffled batches from
# `tfds.data_source`: per-record reads and PNG decoding in Python, as the book's loader decodes
# (and resizes) every image in Python, every epoch. Its time is of the same kind, seconds to
# tens of seconds; the exact figure depends on the machine (the reference's loader also runs
# worker processes in parallel; two shared cores here), so only its order is comparable. What
# training here actually does is the device-resident pass below: one compiled program
# gathering every batch from the array already on the device, resized once at load, in
# milliseconds. (Quick mode reads 20 batches from the data source and extrapolates.)

# %%
# reference: '6.09 sec'
source = fashion_mnist.data_source("train")
tfds_pass = pass_timing.time_source_pass(source, batch_size, run.seed,
                                         max_batches=20 if run.quick else None)
if tfds_pass["extrapolated"]:
    print(f"extrapolated from {tfds_pass['batches_timed']} of {tfds_pass['batches']} batches")
f"{tfds_pass['pass_s']:.2f} sec"

# %%
device = pass_timing.time_device_pass(train_images, train_labels, batch_size, run.seed)
print(f"device-resident pass: {device['pass_s']:.4f} sec (first call, compiling: "
      f"{device['compile_and_run_s']:.2f} sec; the shuffle alone: {device['shuffle_s']:.4f} sec)")

# %% [markdown]
# ## 4.2.3 Visualization
# The book shows the first validation batch: the validation loader does not shuffle, so these
# are the first eight images of the test files, which `load` keeps in the files' order.

# %%
# reference: the book's figure: ankle boot, pullover, trouser, trouser, shirt, trouser, coat, shirt
axes = fashion_mnist.visualize(val_images[:8], val_labels[:8], nrows=1, ncols=8)
run.show(axes[0].figure, "val_images.png")
val_titles = fashion_mnist.text_labels(val_labels[:8])
val_titles

# %% [markdown]
# ## Results
# `metrics.json` keeps the sizes, shapes, dtypes, times and titles (tests/test_sections_ch4.py).

# %%
run.save_metrics({
    "num_train": len(train_labels),
    "num_val": len(val_labels),
    "image_shape": train_images.shape[1:],
    "image_dtype": str(train_images.dtype),
    "batch_shape": X.shape,
    "batch_dtype": str(X.dtype),
    "label_batch_shape": y.shape,
    "label_batch_dtype": str(y.dtype),
    "scaled_batch_dtype": str(scaled.dtype),
    "scaled_batch_range": [float(scaled.min()), float(scaled.max())],
    "tfds_pass_s": tfds_pass["pass_s"],
    "tfds_pass_extrapolated": tfds_pass["extrapolated"],
    "tfds_batches_timed": tfds_pass["batches_timed"],
    "device_pass_s": device["pass_s"],
    "device_shuffle_s": device["shuffle_s"],
    "device_compile_and_run_s": device["compile_and_run_s"],
    "load_s": load_s,
    "cache_was_warm": cache_was_warm,
    "val_first_labels": val_labels[:8],
    "val_titles": val_titles,
})
