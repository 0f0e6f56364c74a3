"""The PyTorch anchors of `make bench` (run inside `experiments.bench_worker`): the book's PyTorch,
a tuned PyTorch, and torch's GEMM probe.

PyTorch is measured as a user gets it: this process never imports JAX, and nothing here
touches torch's threads or OpenMP's settings (the parent starts it without any OMP_*, GOMP_*,
KMP_* or MKL_* variable), so torch runs with its defaults: as many threads as cores, OpenMP's
default wait policy.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import torch
import torch.utils.data

from experiments.bench_worker import (
    BATCH_SIZE,
    LR,
    NUM_HIDDENS,
    NUM_INPUTS,
    NUM_OUTPUTS,
    SIGMA,
    Data,
)


def start() -> dict[str, Any]:
    """Torch's version and the threading it chose on its own."""
    return {"torch_version": torch.__version__, "torch_threads": torch.get_num_threads(),
            "parallel_backend": next((line.split(":", 1)[1].strip() for line in
                                      torch.__config__.parallel_info().splitlines()
                                      if line.startswith("ATen parallel backend")), "unknown"),
            "omp_environment": {k: v for k, v in os.environ.items()
                                if k.startswith(("OMP_", "GOMP_", "KMP_", "MKL_"))},
            "numpy_version": np.__version__, "jax_imported": "jax" in sys.modules}


def eval_batch_size(n: int, batch_size: int, cap: int = 2048) -> int:
    """The largest divisor of `n` up to `cap` (the validation batch jaxhw's `fit` picks), unless
    that is smaller than `batch_size`; then `batch_size` (capped at n)."""
    best = max(d for d in range(1, min(n, cap) + 1) if n % d == 0)
    return best if best >= batch_size else min(batch_size, n)


class TorchBook:
    """The book's PyTorch: per-sample Dataset, DataLoader, Python loop, scratch model and SGD."""

    def __init__(self, model: str, data: Data, seed: int) -> None:
        self.model = model
        torch.manual_seed(seed)
        self.train_loader = torch.utils.data.DataLoader(
            PerSampleDataset(*data.train), batch_size=BATCH_SIZE, shuffle=True)
        self.val_loader = torch.utils.data.DataLoader(
            PerSampleDataset(*data.val), batch_size=BATCH_SIZE, shuffle=False)
        shapes = ([(NUM_INPUTS, NUM_OUTPUTS)] if model == "softmax"
                  else [(NUM_INPUTS, NUM_HIDDENS), (NUM_HIDDENS, NUM_OUTPUTS)])
        self.params = []
        for rows, cols in shapes:  # W ~ N(0, sigma^2), b = 0, as 4.4 and 5.2 write them
            self.params.append(torch.normal(0, SIGMA, (rows, cols)).requires_grad_(True))
            self.params.append(torch.zeros(cols, requires_grad=True))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities (4.4's scratch model) or MLP logits (5.2's scratch MLP)."""
        X = X.reshape(-1, NUM_INPUTS)
        if self.model == "softmax":
            W, b = self.params
            X_exp = torch.exp(X @ W + b)
            return X_exp / X_exp.sum(1, keepdim=True)
        W1, b1, W2, b2 = self.params
        H = torch.max(X @ W1 + b1, torch.zeros_like(b1))
        return H @ W2 + b2

    def loss(self, Y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """4.4's cross-entropy on probabilities (fancy indexing), 4.3's F.cross_entropy for MLP."""
        if self.model == "softmax":
            return -torch.log(Y_hat[list(range(len(Y_hat))), y]).mean()
        return torch.nn.functional.cross_entropy(Y_hat, y)

    def epoch(self) -> tuple[float, float, float]:
        """d2l's Trainer.fit_epoch: train batches with scratch SGD, then validation batches:
        (seconds, the same seconds, val_acc)."""
        start = time.perf_counter()
        for X, y in self.train_loader:
            loss = self.loss(self.forward(X), y)
            for p in self.params:  # the book's SGD.zero_grad
                if p.grad is not None:
                    p.grad.zero_()
            loss.backward()
            with torch.no_grad():  # the book's SGD.step
                for p in self.params:
                    p -= LR * p.grad
            loss.item()  # the book plots the loss: the value comes to Python
        correct, count = 0.0, 0
        with torch.no_grad():
            for X, y in self.val_loader:
                Y_hat = self.forward(X)
                self.loss(Y_hat, y).item()
                correct += float((Y_hat.argmax(1) == y).float().sum())
                count += len(y)
        seconds = time.perf_counter() - start
        return seconds, seconds, correct / count


class PerSampleDataset(torch.utils.data.Dataset):
    """A map-style Dataset returning one (1, 28, 28) float tensor in [0, 1] and its label."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        # what torchvision's ToTensor does to one image: HWC uint8 -> CHW float / 255
        return torch.tensor(self.images[i]).permute(2, 0, 1).float().div(255), int(self.labels[i])


class TorchTuned:
    """PyTorch as one would tune it on a CPU: one float tensor, randperm batches, nn + optim."""

    def __init__(self, model: str, data: Data, seed: int) -> None:
        nn = torch.nn
        torch.manual_seed(seed)

        def as_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[Any, Any]:
            X = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255)
            return X, torch.from_numpy(labels.astype(np.int64))

        self.train, self.val = as_tensors(*data.train), as_tensors(*data.val)
        layers = ([nn.Linear(NUM_INPUTS, NUM_OUTPUTS)] if model == "softmax" else
                  [nn.Linear(NUM_INPUTS, NUM_HIDDENS), nn.ReLU(),
                   nn.Linear(NUM_HIDDENS, NUM_OUTPUTS)])
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    layer.weight.normal_(0, SIGMA)
                    layer.bias.zero_()
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR)
        self.generator = torch.Generator().manual_seed(seed)
        # the validation batch `fit` picks by default, so both sides evaluate alike
        self.eval_batch_size = eval_batch_size(len(data.val[1]), BATCH_SIZE)

    def epoch(self) -> tuple[float, float, float]:
        """One randperm-shuffled train pass, then validation in large batches; one sync:
        (seconds, the same seconds, val_acc)."""
        F = torch.nn.functional
        start = time.perf_counter()
        X_all, y_all = self.train
        order = torch.randperm(len(y_all), generator=self.generator)
        total = torch.zeros(())
        for i in range(0, len(y_all), BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            loss = F.cross_entropy(self.net(X_all[idx]), y_all[idx])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach() * len(idx)
        X_val, y_val = self.val
        correct = torch.zeros(())
        with torch.inference_mode():
            for i in range(0, len(y_val), self.eval_batch_size):
                logits = self.net(X_val[i:i + self.eval_batch_size])
                total += F.cross_entropy(logits, y_val[i:i + self.eval_batch_size])
                correct += (logits.argmax(1) == y_val[i:i + self.eval_batch_size]).sum()
        val_acc = float(correct) / len(y_val)  # the epoch's one sync
        float(total)
        seconds = time.perf_counter() - start
        return seconds, seconds, val_acc


def best_time(fn: Any, repeat: int) -> float:
    """The fastest of `repeat` timed calls of `fn`, in seconds (torch on a CPU is synchronous)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def mm_rate(m: int, k: int, n: int, repeat: int) -> float:
    """GFLOP/s of torch.mm on random float32 (m, k) and (k, n) matrices."""
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.random((m, k), np.float32))
    b = torch.from_numpy(rng.random((k, n), np.float32))
    torch.mm(a, b)  # the first call picks its kernel
    return 2 * m * k * n / best_time(lambda: torch.mm(a, b), repeat) / 1e9


def probe(gemm_n: int, copy_mib: int) -> dict[str, float]:
    """torch.mm's GFLOP/s at gemm_n^3 and at the MLP's 256x784x256 (`copy_mib` is for the JAX
    workers' probe)."""
    del copy_mib
    return {"torch_gemm_gflops": mm_rate(gemm_n, gemm_n, gemm_n, repeat=3),
            "torch_mlp_shape_gemm_gflops": mm_rate(BATCH_SIZE, NUM_INPUTS, NUM_HIDDENS, repeat=10)}
