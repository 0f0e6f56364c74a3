"""experiments.bench: a small synthetic A/B run against `--baseline HEAD` (the same jaxhw on both
sides, so both must train alike), and the harness's parts on their own.

Nothing here asserts a time: these machines are shared, and the benchmark's figures are what it
reports, not what it must reach. PyTorch's parts run where torch is installed (CI has none).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from experiments import bench
from experiments.bench_worker import MODELS
from jaxhw.data import fashion_mnist

HAS_TORCH = importlib.util.find_spec("torch") is not None
IN_GIT = bench._git("rev-parse", "--verify", "HEAD").returncode == 0
# Small enough for ~1 minute on 2 cores: the time goes into starting workers and compiling.
# Fresh compile workers are left out here (test_fresh_compiles_alternate covers their logic).
SMALL = {"n_train": 1024, "n_val": 256, "rounds": 2, "compile_rounds": 0, "fresh_runs": 1,
         "gemm_n": 256, "copy_mib": 8, "synthetic": True, "baseline": "HEAD"}


def figures(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every non-string leaf of a JSON value, with its path (booleans and None included)."""
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in figures(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in figures(v, f"{path}[{i}]")]
    return [] if isinstance(value, str) else [(path, value)]


def not_positive_finite(leaves: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(path, v) for path, v in leaves if isinstance(v, bool)
            or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0]


@pytest.fixture(scope="module")
def ab_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """One small A/B run (torch if installed): bench.json, the out folder, what it printed."""
    if not IN_GIT:
        pytest.skip("--baseline needs a git checkout")
    out = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        returned = bench.report(bench.Config.quick_mode(**SMALL), out)
    written = json.loads((out / "bench.json").read_text())
    assert written == json.loads(json.dumps(returned))
    return written, out, printed.getvalue()


def test_ab_run_has_every_worker_and_figure(ab_run: tuple[dict, Path, str]) -> None:
    result, out, _ = ab_run
    wanted = ["jaxhw", "jaxhw_baseline", "d2l_jax"] + (
        ["torch_tuned", "torch_book"] if HAS_TORCH else [])
    assert list(result["workers"]) == wanted and list(result["epochs"]) == wanted
    for models in result["epochs"].values():
        assert list(models) == list(MODELS)
        for e in models.values():
            assert len(e["rounds_s"]) == SMALL["rounds"]
            assert e["min_s"] <= e["median_s"] <= e["max_s"]
            assert 0 <= e["val_acc"] <= 1
    assert result["n_train"] == 1024 and result["n_val"] == 256 and result["data"] == "synthetic"
    assert (out / "bench.png").stat().st_size > 10_000


def test_every_figure_is_positive_and_finite(ab_run: tuple[dict, Path, str]) -> None:
    result, _, _ = ab_run
    measured = {k: result[k] for k in ("epochs", "fits", "compile_s", "limits", "budget")}
    assert len(figures(measured)) > 60  # 81 without torch
    assert not_positive_finite(figures(measured)) == []
    idle = figures(result["idle_cpu_ms_after_request"])  # a worker that never spins uses 0
    assert idle and all(math.isfinite(v) and v >= 0 for _, v in idle)
    # one compile sample per side and model from the round workers (no compile rounds)
    for side in ("jaxhw", "jaxhw_baseline"):
        assert [len(result["compile_s"][side][m]) for m in MODELS] == [1, 1]
        assert [len(result["fits"][side][m]) for m in MODELS] == [SMALL["rounds"]] * 2


def test_baseline_is_exported_and_imported(ab_run: tuple[dict, Path, str]) -> None:
    result, _, _ = ab_run
    head = bench._git("rev-parse", "HEAD").stdout.decode().strip()
    assert result["baseline"] == "HEAD" and result["baseline_commit"] == head
    new, old = (Path(result["workers"][n]["jaxhw_path"]) for n in ("jaxhw", "jaxhw_baseline"))
    assert new == bench.ROOT / "jaxhw"
    assert old.name == "jaxhw" and old.parent.name == "baseline" and bench.ROOT not in old.parents


def test_same_code_on_both_sides_trains_alike(ab_run: tuple[dict, Path, str]) -> None:
    # Same jaxhw, same arrays, same seed and number of epochs: the same compiled programs on the
    # same inputs, which XLA's CPU backend runs deterministically.
    epochs = ab_run[0]["epochs"]
    for model in MODELS:
        assert epochs["jaxhw"][model]["val_acc"] == epochs["jaxhw_baseline"][model]["val_acc"]


def test_budget_table(ab_run: tuple[dict, Path, str]) -> None:
    result, _, printed = ab_run
    rows = result["budget"]
    others = ["d2l_jax"] + (["torch_book", "torch_tuned"] if HAS_TORCH else [])
    assert [r["key"] for r in rows] == (
        ["softmax_epoch", "mlp_epoch", "softmax_compile", "mlp_compile", "softmax_fit", "mlp_fit"]
        + [f"{m}_vs_{name}" for name in others for m in MODELS])
    for row in rows:
        assert row["met"] == ("yes" if eval_budget(row) else "no")
        assert row["ratio_is"] == ("new / reference" if row["reference"] == "baseline"
                                   else "reference / new")
    ab = {r["key"]: r for r in rows}
    assert ab["softmax_epoch"]["budget"] == "<= 1.3" and ab["mlp_epoch"]["budget"] == "<= 1.1"
    assert ab["softmax_compile"]["budget"] == "<= 1.2" and ab["mlp_vs_d2l_jax"]["budget"] == "> 1"
    assert ab["mlp_fit"]["measure"] == f"MLP {bench.FIT_EPOCHS}-epoch fit, s"
    assert "| measure | reference | reference's | new | ratio | budget | met |" in printed
    assert "| softmax regression epoch, s | jaxhw fit (baseline HEAD) |" in printed
    assert "| fresh process to a trained softmax regression, s | (needs FashionMNIST)" in printed
    assert "medians of 2 interleaved rounds" in printed


def eval_budget(row: dict[str, Any]) -> bool:
    """Whether a budget row's ratio meets its budget ("<= 1.3", "> 1")."""
    op, threshold = row["budget"].split()
    return row["ratio"] <= float(threshold) if op == "<=" else row["ratio"] > float(threshold)


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (the optional bench extra)")
def test_torch_runs_as_a_user_gets_it(ab_run: tuple[dict, Path, str]) -> None:
    result, _, printed = ab_run
    for name in ("torch_tuned", "torch_book"):
        info = result["workers"][name]
        assert info["jax_imported"] is False and info["omp_environment"] == {}
        assert info["torch_threads"] >= 1
    assert "PyTorch tuned" in printed and "threads, OpenMP defaults" in printed
    for lib in ("torch", "jax", "numpy"):
        assert result["limits"][f"{lib}_gemm_gflops"] > 0


def test_worker_env_drops_thread_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env, removed = bench.worker_env(tmp_path)
    assert "MKL_NUM_THREADS" in removed and "OMP_WAIT_POLICY" in removed
    assert not any(k.startswith(("OMP_", "GOMP_", "KMP_", "MKL_")) for k in env)
    assert env["PYTHONPATH"] == f"{tmp_path}{os.pathsep}/somewhere"
    assert env["HOME"] == os.environ["HOME"]


def test_families_without_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = bench.Config.quick_mode()
    assert list(bench.families(bench.Config.quick_mode(use_torch=False), None)) == [
        "jaxhw", "d2l_jax"]
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else find_spec(name, *a))
    specs = bench.families(config, tmp_path)
    assert specs == {"jaxhw": ("jaxhw", bench.ROOT), "jaxhw_baseline": ("jaxhw", tmp_path),
                     "d2l_jax": ("d2l_jax", bench.ROOT)}


@pytest.mark.skipif(not IN_GIT, reason="needs a git checkout")
def test_export_tree(tmp_path: Path) -> None:
    commit = bench.export_tree("HEAD", tmp_path / "t")
    assert commit == bench._git("rev-parse", "HEAD").stdout.decode().strip()
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["experiments", "jaxhw"]
    assert sorted(p.name for p in (tmp_path / "t" / "experiments").iterdir()) == [
        "__init__.py", "quickstart.py"]
    assert (tmp_path / "t" / "jaxhw" / "train.py").is_file()
    with pytest.raises(ValueError, match="--baseline must name a commit.*'no-such-rev'"):
        bench.export_tree("no-such-rev", tmp_path / "u")


def stub_tree(root: Path, log: Path, accuracy: float) -> Path:
    """A tree whose `python -m experiments.quickstart` logs its tree and cache dir, then prints
    a val_acc line as the real one does."""
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "__init__.py").write_text("")
    (root / "experiments" / "quickstart.py").write_text(
        "import os\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        f"    f.write({root.name!r} + ' ' + os.environ['JAXHW_CACHE_DIR'] + '\\n')\n"
        f"print('val_acc {accuracy}')\n")
    return root


def test_fresh_processes_alternate_between_trees(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    trees = {"new": stub_tree(tmp_path / "a", log, 0.5),
             "old": stub_tree(tmp_path / "b", log, 0.25)}
    out = bench.fresh_processes(trees, 3, tmp_path / "cache", log=lambda line: None)
    lines = log.read_text().split("\n")[:-1]
    # one cache-filling run each, then alternating rounds: new old, old new, new old
    assert [line.split()[0] for line in lines] == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert {line.split()[1] for line in lines if line.startswith("a")} == {
        str(tmp_path / "cache" / "new")}
    assert out["new"]["val_acc"] == 0.5 and out["old"]["val_acc"] == 0.25
    for side in out.values():
        assert len(side["runs_s"]) == 3 and side["median_s"] == sorted(side["runs_s"])[1]


class ScriptedWorker:
    """Stands in for a jaxhw worker: its n-th fit call takes `calls[n]` seconds."""

    def __init__(self, calls: list[float]) -> None:
        self.calls = iter(calls)

    def ask(self, request: dict[str, str]) -> dict[str, float]:
        return {"call_seconds": next(self.calls)}


def test_fresh_compiles_alternate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    order = []
    # per worker: softmax first and second call, then MLP first and second call
    calls = {"new": iter([[3.0, 1.0, 5.0, 2.0], [4.0, 1.0, 6.0, 2.0]]),
             "old": iter([[2.5, 0.5, 4.5, 1.5], [3.5, 1.5, 5.5, 1.5]])}

    @contextlib.contextmanager
    def started(specs: dict, data_file: Path, seed: int):
        (side, (family, tree)), = specs.items()
        assert family == "jaxhw" and tree == tmp_path / side and seed == 7
        order.append(side)
        yield {side: ScriptedWorker(next(calls[side]))}

    monkeypatch.setattr(bench, "started", started)
    sides = {"new": tmp_path / "new", "old": tmp_path / "old"}
    out = bench.fresh_compiles(sides, tmp_path / "d.npz", 2, 7, log=lambda line: None)
    assert order == ["new", "old", "old", "new"]  # who goes first alternates
    assert out == {"new": {"softmax": [2.0, 3.0], "mlp": [3.0, 4.0]},
                   "old": {"softmax": [2.0, 2.0], "mlp": [3.0, 4.0]}}


def test_a_failing_worker_is_reported(tmp_path: Path) -> None:
    worker = bench.Worker("broken", "jaxhw", tmp_path / "missing.npz", bench.ROOT, 0)
    try:
        with pytest.raises(RuntimeError, match="worker 'broken' failed(.|\n)*missing.npz"):
            worker.ready()
    finally:
        worker.close()
    assert worker.process.returncode == 1


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_process_cpu_seconds() -> None:
    before = bench.process_cpu_seconds(os.getpid())
    np.linalg.inv(np.eye(300) + 1)  # some CPU work in this process
    assert before is not None and bench.process_cpu_seconds(os.getpid()) > before
    assert bench.process_cpu_seconds(2 ** 22 + 1) is None  # above Linux's largest pid


def test_median_ratio() -> None:
    assert bench.median_ratio([2.0, 3.0, 10.0], [1.0, 1.0, 1.0]) == 3.0
    assert bench.median_ratio([1.0, 4.0], [2.0, 2.0]) == 1.25
    with pytest.raises(ValueError):
        bench.median_ratio([1.0], [1.0, 2.0])


def test_bad_options_exit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--rounds", "0"])
    assert "--rounds must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--fresh-runs", "-1"])
    assert "--fresh-runs must be >= 0, got -1" in capsys.readouterr().err
    if IN_GIT:
        with pytest.raises(SystemExit):
            bench.main(["--quick", "--baseline", "no-such-rev"])
        assert "--baseline must name a commit" in capsys.readouterr().err


def test_synthetic_data_when_fashion_mnist_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(*args: Any, **kwargs: Any) -> None:
        raise fashion_mnist.FashionMNISTDataError("no IDX files here")

    monkeypatch.setattr(fashion_mnist, "load", absent)
    data, source = bench.load_data(bench.Config.full())
    assert source == "synthetic"
    (X, y), (Xv, yv) = data.train, data.val
    assert yv.shape == (10000,)
    assert X.shape == (60000, 28, 28, 1) and Xv.shape == (10000, 28, 28, 1)
    assert X.dtype == np.uint8 and y.dtype == np.int32 and 0 <= y.min() and y.max() <= 9
    quick, source = bench.load_data(bench.Config.quick_mode(synthetic=True))
    assert source == "synthetic" and quick.train[0].shape == (4096, 28, 28, 1)


def test_flop_and_byte_counts() -> None:
    # 784x256 and 256x10 layers: forward 2*(784*256 + 256*10) per example; backward the two
    # weight gradients (2*784*256, 2*256*10) and the hidden layer's input gradient (2*256*10).
    assert bench.mlp_flops(1, 0) == 2 * 784 * 256 * 2 + 2 * 256 * 10 * 3
    assert bench.mlp_flops(0, 1) == 2 * (784 * 256 + 256 * 10)
    assert abs(bench.mlp_flops(60000, 10000) / 1e9 - 53.16) < 0.01
    assert bench.softmax_flops(1, 1) == 4 * 7840 + 2 * 7840
    assert bench.epoch_bytes(60000, 10000) == 70000 * 788
