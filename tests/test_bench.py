"""`python -m experiments.bench --quick`: the keys of bench.json, every figure positive and finite.

Nothing here asserts a time: these machines are shared, and the benchmark's figures are what it
reports, not what it must reach.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from experiments import bench
from jaxhw.data import fashion_mnist

REQUIRED = ("softmax_epoch_s", "mlp_epoch_s", "fit_compile_s", "gemm_gflops", "mlp_peak_fraction",
            "d2l_jax_softmax_epoch_s", "d2l_jax_mlp_epoch_s", "device", "jax_version")
WITH_TORCH = ("torch_d2l_softmax_epoch_s", "torch_d2l_mlp_epoch_s",
              "torch_tuned_softmax_epoch_s", "torch_tuned_mlp_epoch_s",
              "softmax_speedup_vs_torch_tuned", "mlp_speedup_vs_torch_d2l")
RATIOS = ("softmax_speedup_vs_d2l_jax", "mlp_speedup_vs_d2l_jax", "softmax_bound_fraction",
          "mlp_shape_fraction", "vec_loop_over_jit", "mem_copy_gbps", "softmax_memory_bound_s",
          "mlp_peak_bound_s", "data_device_pass_s", "softmax_first_epoch_s",
          "d2l_jax_mlp_first_epoch_s")


def figures(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every non-string leaf of a JSON value, with its path (booleans and None included)."""
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in figures(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in figures(v, f"{path}[{i}]")]
    return [] if isinstance(value, str) else [(path, value)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """One quick benchmark run (torch if installed, FashionMNIST if cached): json, out, stdout."""
    out = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        returned = bench.main(["--quick", "--out", str(out)])
    written = json.loads((out / "bench.json").read_text())
    assert written == json.loads(json.dumps(returned))
    return written, out, printed.getvalue()


def test_quick_run_writes_every_key(quick_run: tuple[dict, Path, str]) -> None:
    result, out, _ = quick_run
    wanted = REQUIRED + RATIOS + (WITH_TORCH if bench.torch_or_none() is not None else ())
    assert [k for k in wanted if k not in result] == []
    assert result["mode"] == "quick" and result["data"] in ("fashion_mnist", "synthetic")
    assert (out / "bench.png").stat().st_size > 10_000


def test_every_figure_is_positive_and_finite(quick_run: tuple[dict, Path, str]) -> None:
    result, _, _ = quick_run
    leaves = figures(result)
    assert len(leaves) > 40
    bad = [(path, v) for path, v in leaves
           if isinstance(v, bool) or not isinstance(v, int | float)
           or not math.isfinite(v) or v <= 0]
    assert bad == []


def test_targets_and_table(quick_run: tuple[dict, Path, str]) -> None:
    result, _, printed = quick_run
    targets = result["targets"]
    assert {"mlp_peak_fraction", "softmax_speedup_vs_d2l_jax", "fit_compile_s"} <= set(targets)
    assert {t["met"] for t in targets.values()} <= {"yes", "no", "n/a (subset)"}
    assert targets["softmax_epoch_s"]["met"] == "n/a (subset)"  # quick mode: not all the data
    assert "| jaxhw fit (scanned epoch) |" in printed and "| target |" in printed
    if result["data"] == "fashion_mnist":
        assert result["data_tfds_over_device"] > 0
        assert min(result["val_acc"].values()) > 0.5  # every contender really trains
        # experiments.quickstart trains on all of FashionMNIST: the book's ~0.83 after 10 epochs
        assert result["fresh_process_val_acc"] > 0.8
        assert "| fresh process to a trained softmax regression" in printed


def test_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # restored after the test
    assert bench.torch_or_none() is None
    assert bench.torch_or_none(wanted=False) is None


def test_synthetic_data_when_fashion_mnist_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(*args: Any, **kwargs: Any) -> None:
        raise fashion_mnist.FashionMNISTDataError("no IDX files here")

    monkeypatch.setattr(fashion_mnist, "load", absent)
    data = bench.load_data(bench.Config.full())
    assert data.source == "synthetic"
    (X, y), (Xv, yv) = data.train, data.val
    assert yv.shape == (10000,)
    assert X.shape == (60000, 28, 28, 1) and Xv.shape == (10000, 28, 28, 1)
    assert X.dtype == np.uint8 and y.dtype == np.int32 and 0 <= y.min() and y.max() <= 9
    quick = bench.load_data(bench.Config.quick_mode(synthetic=True))
    assert quick.source == "synthetic" and quick.train[0].shape == (4096, 28, 28, 1)


def test_flop_and_byte_counts() -> None:
    # 784x256 and 256x10 layers: forward 2*(784*256 + 256*10) per example; backward the two
    # weight gradients (2*784*256, 2*256*10) and the hidden layer's input gradient (2*256*10).
    assert bench.mlp_flops(1, 0) == 2 * 784 * 256 * 2 + 2 * 256 * 10 * 3
    assert bench.mlp_flops(0, 1) == 2 * (784 * 256 + 256 * 10)
    assert abs(bench.mlp_flops(60000, 10000) / 1e9 - 53.16) < 0.01
    assert bench.softmax_flops(1, 1) == 4 * 7840 + 2 * 7840
    assert bench.epoch_bytes(60000, 10000) == 70000 * 788


def test_bad_rounds_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--rounds", "0"])
    assert "--rounds must be >= 1" in capsys.readouterr().err


def test_top_ops_reads_a_perfetto_trace(tmp_path: Path) -> None:
    events = [{"ph": "X", "name": "dot", "dur": 30}, {"ph": "X", "name": "dot", "dur": 50},
              {"ph": "X", "name": "ynn_fusion.3", "dur": 100},
              {"ph": "X", "name": "$train.py:212 fit", "dur": 1000},
              {"ph": "X", "name": "ThunkExecutor::Execute", "dur": 1000},
              {"ph": "X", "name": "DevicePut", "dur": 1000}, {"ph": "i", "name": "dot"}]
    trace = tmp_path / "t.trace.json.gz"
    trace.write_bytes(gzip.compress(json.dumps({"traceEvents": events}).encode()))
    assert bench.top_ops(trace) == {
        "ynn_fusion.3": {"ms": 0.1, "calls": 1, "mean_us": 100.0},
        "dot": {"ms": 0.08, "calls": 2, "mean_us": 40.0}}
