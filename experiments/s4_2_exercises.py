# %% [markdown]
# # 4.2 Exercises: The Image Classification Dataset
#
# The exercises at the end of d2l section 4.2, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Timings depend on the machine and on what else runs on it: the conclusions below rest on
# ratios printed by the cells, not on absolute seconds.

# %% tags=["parameters"]
quick = False  # smoke run: batch sizes 1, 64, 256 only, 256 records read per size (not 1536)
seed = 0  # PRNG seed of the shuffled orders and of the model's initial weights
out_dir = "results/4.2-exercises"  # where the figure and metrics.json go

# %%
import cProfile
import io
import logging
import logging.handlers
import pstats
import re
import textwrap
import time

import jax
import numpy as np
import optax

from jaxhw import notebook, train
from jaxhw.board import plot
from jaxhw.data import fashion_mnist, pass_timing
from jaxhw.models import softmax_regression
from jaxhw.nn.losses import cross_entropy

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
records_per_size = 256 if run.quick else 1536  # records read from the data source per batch size
epochs = 3  # softmax-regression epochs trained to time one (Exercise 2)

# %% [markdown]
# FashionMNIST's training split at its own size, 28x28 (the size 4.4 trains on), in two forms:
# the decoded arrays that `fashion_mnist.load` caches, and the `tfds.data_source` that reads
# record by record and decodes each image's PNG, as the book's `DataLoader` reads and converts
# each image in Python every epoch.

# %%
images, labels = fashion_mnist.load("train")
source = fashion_mnist.data_source("train")
print(images.shape, images.dtype, labels.shape, len(source), "records in the data source")

# %% [markdown]
# ### Exercise 1 — does reducing the batch size (for instance, to 1) affect reading performance?
#
# One pass over the 60,000 training images, shuffled, at batch sizes 1 to 1024 (each
# size costs a compile on the device path, so quick mode tries three), read three ways:
# - **data source**: `pass_timing.time_source_pass`, batched reads of records from the
#   `tfds.data_source` (PNG decoding included), stacked into arrays; three tries of a third of
#   `records_per_size` records each (at least one batch), each extrapolated to the full pass,
#   and the best of the three kept (the machine is shared: the best try is the least
#   disturbed);
# - **host arrays**: the decoded uint8 arrays in memory, one numpy gather per batch (the
#   function below; up to 16,384 examples, best of 3, extrapolated the same way);
# - **device arrays**: `pass_timing.time_device_pass`, the arrays on the device and every batch
#   gathered inside one compiled `lax.scan`, as `fit` does (best of 3 full passes).

# %%
def time_host_pass(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                   max_batches: int, repeats: int = 3) -> float:
    """Seconds for one shuffled pass of numpy gathers (images[idx], labels[idx]) per batch,
    extrapolated from the first `max_batches` batches; the best of `repeats` tries."""
    order = np.random.default_rng(seed).permutation(len(labels))
    num_batches = -(-len(labels) // batch_size)
    timed = min(max_batches, num_batches)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for b in range(timed):
            idx = order[b * batch_size:(b + 1) * batch_size]
            images[idx], labels[idx]
        best = min(best, time.perf_counter() - start)
    return best * num_batches / timed


def time_source_best(source, batch_size: int, seed: int, records: int, tries: int = 3) -> float:
    """Seconds per pass read from `source`: the best of `tries` timings, each of about
    `records / tries` records (at least one batch), extrapolated by `time_source_pass`."""
    max_batches = max(1, records // (tries * batch_size))
    return min(pass_timing.time_source_pass(source, batch_size, seed + t,
                                            max_batches=max_batches)["pass_s"]
               for t in range(tries))


# tfds logs through absl's logger: while this cell times, its messages are kept, then printed
absl_logger, kept = logging.getLogger("absl"), logging.handlers.BufferingHandler(capacity=100)
absl_logger.addHandler(kept)
absl_logger.propagate = False
batch_sizes = [1, 64, 256] if run.quick else [1, 4, 16, 64, 256, 1024]
read_s = {"data source": [], "host arrays": [], "device arrays": []}
for batch_size in batch_sizes:
    read_s["data source"].append(time_source_best(source, batch_size, run.seed,
                                                  records_per_size))
    read_s["host arrays"].append(time_host_pass(images, labels, batch_size, run.seed,
                                                max_batches=max(1, 16384 // batch_size)))
    read_s["device arrays"].append(pass_timing.time_device_pass(
        images, labels, batch_size, run.seed, repeats=3)["pass_s"])
absl_logger.removeHandler(kept)
absl_logger.propagate = True
for record in kept.buffer:
    print(textwrap.fill(f"tfds logged {record.levelname}: {record.getMessage()}", 100))
print("seconds per pass over 60,000 images")
print(f"{'batch size':>10s}" + "".join(f"{name:>15s}" for name in read_s))
for i, batch_size in enumerate(batch_sizes):
    print(f"{batch_size:10d}" + "".join(f"{read_s[name][i]:15.4f}" for name in read_s))
slowdown_1_vs_64 = {name: t[0] / t[batch_sizes.index(64)] for name, t in read_s.items()}
print("batch size 1 against 64, slower by:",
      {name: f"{r:.1f}x" for name, r in slowdown_1_vs_64.items()})
ax = plot(batch_sizes, list(read_s.values()), "batch size", "seconds per pass",
          legend=list(read_s), xscale="log", yscale="log", fmts=("o-", "s--", "^-."),
          figsize=(4.5, 3))
ax.set_title("one pass over the training images")
run.show(ax.figure, "read_time.png")
answers["1"] = {"batch_sizes": batch_sizes, "pass_s": read_s,
                "slowdown_batch_1_vs_64": slowdown_1_vs_64,
                "records_per_size": records_per_size}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes, at the small end: with the data source and with host arrays, batch size 1 reads several
# times slower than 64 (the factors printed). A pass costs
# (records × work per record) + (batches × work per batch). The work per record (reading,
# decoding a PNG) does not depend on the batch size; the work per batch does: for the data
# source a Python call into the reader, its bookkeeping and an `np.stack`; for host arrays a
# Python loop iteration and a numpy gather. With batch size 1 there are 60,000 batches, so that
# fixed cost is paid 60,000 times; by batch size 64 it is shared by 64 images and small beside
# the work per image, so larger batches gain little more: the data source then costs what
# decoding costs. (The data source reads with several threads, and its times at the larger
# batch sizes swing from run to run on a shared machine; compare several runs before reading
# anything into the differences among them.) On the device a batch is one step of a compiled
# loop, cheap enough that even 60,000 of them stay within a fraction of a second (its factor
# is printed too). The data source's column lies orders of magnitude above the other two at
# every batch size: decoding once removes the per-record work. Between host and device arrays
# the printout shows no consistent winner, and the two do not do the same work: the device
# pass also converts every pixel to float32 and sums it, as a model's first step would, but
# it is the form a compiled training epoch can use without leaving the device.
#
# </details>

# %% [markdown]
# ### Exercise 2 — is the data iterator fast enough? Profile it; explore options to improve it
#
# "Fast enough" means: reading an epoch takes less time than training on it, so that the
# model, not the reader, sets the pace. We train softmax regression (4.4's model, learning
# rate 0.1, batch size 256) through `fit` and take its epoch time after the first epoch (which
# includes compiling).

# %%
loss = train.supervised_loss(softmax_regression.apply, cross_entropy)
key_init, key_fit = jax.random.split(jax.random.key(run.seed))
result = train.fit(loss, softmax_regression.init(key_init), optax.sgd(0.1), (images, labels),
                   epochs=epochs, batch_size=256, key=key_fit, progress=False)
train_epoch_s = float(np.median(result.history["epoch_seconds"][1:]))
read_256 = {name: t[batch_sizes.index(256)] for name, t in read_s.items()}
print(f"training epoch (softmax regression, batch 256, median of epochs 2-{epochs}): "
      f"{train_epoch_s:.4f} s; training loss {result.history['train_loss'][-1]:.3f}")
for name, seconds in read_256.items():
    print(f"reading an epoch from {name:13s} {seconds:8.4f} s = "
          f"{seconds / train_epoch_s:7.2f} x the training epoch")
answers["2"] = {"train_epoch_s": train_epoch_s, "read_epoch_s_batch_256": read_256,
                "read_over_train": {k: v / train_epoch_s for k, v in read_256.items()},
                "train_loss_last": float(result.history["train_loss"][-1])}

# %% [markdown]
# Where the data source's time goes: Python's own profiler (`cProfile`) over 8 batches of
# 256 (2 in quick mode), functions sorted by the time spent in their own code (`tottime`),
# then that time summed by the library it belongs to (built-in functions, written in C,
# listed by their own name).

# %%
profiler = cProfile.Profile()
profiler.enable()
profiled_batches = 2 if run.quick else 8
pass_timing.time_source_pass(source, 256, run.seed + 1, max_batches=profiled_batches)
profiler.disable()
report = io.StringIO()
stats = pstats.Stats(profiler, stream=report)
stats.sort_stats("tottime").print_stats(10)
for line in report.getvalue().splitlines()[:22]:
    print(re.sub(r"\S*site-packages/", "", line))


def library_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to, from its file path; a built-in (C)
    function as "C: owner.name"."""
    if filename == "~":
        method = re.match(r"<method '(\w+)' of '([\w.]+)' objects>", function)
        name = f"{method[2]}.{method[1]}" if method else function.strip("<>{}").split()[-1]
        return "C: " + name
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    return "Python's standard library" if "/lib/python" in filename else filename


by_library = {}
for (filename, _, function), (_, _, own_seconds, _, _) in stats.stats.items():
    lib = library_of(filename, function)
    by_library[lib] = by_library.get(lib, 0.0) + own_seconds
total = sum(by_library.values())
shares = dict(sorted(((k, v / total) for k, v in by_library.items()), key=lambda kv: -kv[1]))
print("share of the profiled time, by library:")
for lib, share in list(shares.items())[:8]:
    print(f"  {share:6.1%}  {lib}")
answers["2"]["profile_shares"] = {k: v for k, v in list(shares.items())[:8]}

# %% [markdown]
# <details><summary>Answer</summary>
#
# No, not the book's kind of iterator. Reading an epoch record by record from the data source
# takes many times longer than training softmax regression on it (the ratio printed above), so
# a training loop fed by it would spend most of its time waiting for data; for a model as cheap
# as softmax regression, the reader is the bottleneck. The profile says why: the largest
# shares are PNG decoding (`PIL`, in Python and in its C decoder) and the data source's record
# parsing (`tensorflow_datasets`); the rest is per-record overhead spread thin (waiting for the
# reader's threads, numpy conversions, even a logging call tfds makes for every image). It is
# not one slow function that could be fixed but work done again for every image in every
# epoch.
#
# The options, measured above where this machine allows:
# - **Decode once, keep the arrays.** FashionMNIST is 47 MB as uint8; `fashion_mnist.load`
#   decodes it once and caches the arrays. A pass over the host arrays costs the gathers only
#   (the "host arrays" column).
# - **Keep the data on the device and gather inside the compiled step.** `fit` puts the arrays
#   on the device once and gathers each batch in its `lax.scan` (the "device arrays" column):
#   far below the training epoch, so the model sets the pace again.
# - **Larger batches** cut the per-batch overhead (Exercise 1), up to what the optimiser wants.
# - **A faster decoder.** tfds itself logs, in the output of the first timing cell, that it
#   decodes with PIL because OpenCV is not installed, and that OpenCV is faster; that would
#   shrink the largest share of the profile, but not the per-record overhead (not tried here).
# - **Parallel and ahead-of-time reading** (the `num_workers` of PyTorch's `DataLoader`,
#   `grain` or `tf.data` with prefetching) overlaps reading with training on other cores. It
#   helps when the data cannot be decoded once up front (augmentation, data larger than memory)
#   and there are spare cores; with two shared cores here it was not measured.
#
# For a profile of the compiled side, `jax.profiler.trace` writes a trace that TensorBoard or
# Perfetto shows (not run here: it needs a viewer).
#
# </details>

# %% [markdown]
# ### Exercise 3 — which other datasets does the framework offer?

# %% [markdown]
# <details><summary>Answer</summary>
#
# This machine is offline, so the catalogues could not be browsed or the datasets downloaded
# here; the answer is from the libraries' documentation. TensorFlow Datasets (which
# `fashion_mnist.load` uses, with a local builder) catalogues several hundred datasets, among
# the image classification ones `mnist`, `kmnist`, `emnist`, `cifar10`, `cifar100`,
# `svhn_cropped`, `caltech101`, `oxford_flowers102`, `imagenet2012`;
# `torchvision.datasets` has the same classics (MNIST, KMNIST, QMNIST, EMNIST, CIFAR-10/100,
# SVHN, STL-10, ImageNet, …). What changes when swapping one in:
# - **MNIST and KMNIST** have FashionMNIST's exact shape: 60,000 + 10,000 grayscale 28x28
#   images in 10 classes, in the same IDX file format. Only the files and the class names
#   change; the model, `fit` and this notebook's code run unchanged (they were made as
#   drop-in replacements for one another).
# - **EMNIST** keeps 28x28 grayscale but has 47 or 62 classes (letters and digits): the model
#   needs `num_outputs=47`, and chance accuracy drops.
# - **CIFAR-10** is 32x32 colour: 3,072 inputs per image (`num_inputs=3072`) and channels last
#   (32, 32, 3); **CIFAR-100** adds 100 classes. Linear models and small MLPs do much worse
#   there than on FashionMNIST, which is why the book turns to convolutions.
# - **ImageNet** (1.28 million images of varying size, 1,000 classes, about 150 GB) no longer
#   fits in memory: decoding once and keeping every image on the device (Exercise 2) stops
#   working, and a parallel, prefetching reader becomes necessary.
#
# </details>

# %%
run.save_metrics({"answers": answers,
                  "settings": {"records_per_size": records_per_size, "epochs": epochs,
                               "num_train": len(labels)}})
