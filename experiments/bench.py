"""`make bench`: jaxhw's epochs against the d2l-jax shape, PyTorch, this machine's limits, and
(with `--baseline REV`) against jaxhw at an older commit, all timed in the same rounds.

`python -m experiments.bench [--out DIR] [--quick] [--baseline REV] [--rounds N]
[--compile-rounds N] [--fresh-runs N] [--synthetic] [--no-torch]` writes `DIR/bench.json`,
`DIR/bench.png` (a bar chart) and prints markdown tables: the contenders' epochs, the budget
table (old / new / ratio / budget / met) and the limits. docs/bench.md says what each row
means; in short:

- Every contender family runs in a process of its own (`experiments.bench_worker`): jaxhw's
  `fit` (this tree; with `--baseline REV` a second worker imports REV's `jaxhw` exported by
  `git archive`), the d2l-jax shape and, when torch is installed, PyTorch tuned and the
  book's PyTorch. Workers get the user's environment minus OpenMP/MKL tuning variables, so
  every anchor runs at its defaults. All train on the same arrays, loaded once here.
- Rounds: after one warm-up epoch each (compile included), each round asks every worker for
  one epoch of each model in turn (the order reversed every other round) and for one probe;
  a figure is the median over rounds and a ratio the median of per-round ratios. Before each
  request the previous worker must be idle (its threads no longer spinning).
- Compile of a fit: a first `fit` call minus a steady one, in the round workers and in
  `--compile-rounds` pairs of fresh workers (persistent compile cache off).
- Fresh process: `python -m experiments.quickstart` from each tree, one cache-filling run
  each, then `--fresh-runs` runs alternating between the trees (FashionMNIST only).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.bench_worker import (
    BATCH_SIZE,
    MODELS,
    NUM_HIDDENS,
    NUM_INPUTS,
    NUM_OUTPUTS,
    Data,
    save_data,
)
from jaxhw.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
MODEL_NAMES = {"softmax": "softmax regression", "mlp": "MLP 784-256-10"}
NEW, OLD = "jaxhw", "jaxhw_baseline"
FIT_EPOCHS = 3  # the many-epoch fit the A/B pair also times, once per model and round
LABELS = {NEW: "jaxhw fit (this tree)", OLD: "jaxhw fit (baseline {rev})",
          "d2l_jax": "d2l-jax shape (jit step per host batch)", "torch_tuned": "PyTorch tuned",
          "torch_book": "PyTorch book (Dataset + DataLoader)"}
# What the A/B compares (issue 13): (key, what, budget on new / old).
AB_BUDGETS = (("softmax_epoch", "softmax regression epoch, s", 1.3),
              ("mlp_epoch", "MLP epoch, s", 1.1),
              ("softmax_compile", "compile of a fit (softmax), s", 1.2),
              ("mlp_compile", "compile of a fit (MLP), s", 1.2),
              ("fresh_process", "fresh process to a trained softmax regression, s", 1.2),
              # issue 21: donated buffers, the next epoch dispatched before the host's work
              ("softmax_fit", f"softmax regression {FIT_EPOCHS}-epoch fit, s", 1.1),
              ("mlp_fit", f"MLP {FIT_EPOCHS}-epoch fit, s", 1.1))
# What git archive exports of a baseline: the library and the quickstart it times.
EXPORTED = ("jaxhw", "experiments/__init__.py", "experiments/quickstart.py")
# Threading knobs a worker must not inherit: anchors run at their defaults.
THREAD_VARIABLES = ("OMP_", "GOMP_", "KMP_", "MKL_")
IDLE_WINDOW_S, IDLE_CPU_S, IDLE_TIMEOUT_S = 0.02, 0.001, 2.0
# Who measures the machine's limits each round: one process per library, neither of the A/B
# pair (so old and new jaxhw run in processes that do the same work).
PROBE_WORKERS = ("d2l_jax", "torch_tuned")


@dataclasses.dataclass(frozen=True)
class Config:
    """What one benchmark run measures; `full()` and `quick_mode()` are the two presets."""

    quick: bool
    n_train: int | None  # None: the whole split
    n_val: int | None
    rounds: int  # timed epochs per contender and model, after one warm-up epoch
    compile_rounds: int  # fresh workers per side timing a first fit
    fresh_runs: int  # quickstart runs per tree, after one cache-filling run
    gemm_n: int
    copy_mib: int
    baseline: str | None = None
    use_torch: bool = True
    synthetic: bool = False
    seed: int = 0

    @classmethod
    def full(cls, **overrides: Any) -> Config:
        """All of FashionMNIST, 5 rounds, 3 compile rounds, 5 fresh processes per tree."""
        return cls(**{"quick": False, "n_train": None, "n_val": None, "rounds": 5,
                      "compile_rounds": 3, "fresh_runs": 5, "gemm_n": 2048, "copy_mib": 256,
                      **overrides})

    @classmethod
    def quick_mode(cls, **overrides: Any) -> Config:
        """Smoke run: 4096 train / 1000 val examples, 2 rounds, 1 compile round, 1 fresh run."""
        return cls(**{"quick": True, "n_train": 4096, "n_val": 1000, "rounds": 2,
                      "compile_rounds": 1, "fresh_runs": 1, "gemm_n": 1024, "copy_mib": 64,
                      **overrides})


# ----------------------------------------------------------------------------- data
def synthetic_data(n_train: int, n_val: int, seed: int = 0) -> Data:
    """Random uint8 images and int32 labels of FashionMNIST's shapes (when the data is absent)."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return (rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                rng.integers(0, NUM_OUTPUTS, n).astype(np.int32))

    return Data(split(n_train), split(n_val))


def load_data(config: Config) -> tuple[Data, str]:
    """FashionMNIST (a quick run only takes it if already cached), else synthetic data; and
    which it is: "fashion_mnist" or "synthetic"."""
    from jaxhw.data import fashion_mnist

    n_train, n_val = config.n_train or 60000, config.n_val or 10000
    usable = not config.synthetic and (not config.quick or all(
        fashion_mnist.is_cached(split) for split in fashion_mnist.SPLITS))
    if usable:
        try:
            train, val = fashion_mnist.load("train"), fashion_mnist.load("test")
        except fashion_mnist.FashionMNISTDataError as err:
            print(f"FashionMNIST not available ({err}); using synthetic data", file=sys.stderr)
        else:
            return Data(tuple(a[:n_train] for a in train),
                        tuple(a[:n_val] for a in val)), "fashion_mnist"
    return synthetic_data(n_train, n_val, config.seed), "synthetic"


# ----------------------------------------------------------------------------- FLOPs and bytes
def mlp_flops(n_train: int, n_val: int) -> int:
    """Matmul FLOPs of one MLP epoch: forward + weight gradients per train example, forward on
    val (the input needs no gradient, so dX of the first layer is never computed)."""
    forward = 2 * (NUM_INPUTS * NUM_HIDDENS + NUM_HIDDENS * NUM_OUTPUTS)
    backward = 2 * NUM_INPUTS * NUM_HIDDENS + 2 * 2 * NUM_HIDDENS * NUM_OUTPUTS
    return n_train * (forward + backward) + n_val * forward


def softmax_flops(n_train: int, n_val: int) -> int:
    """Matmul FLOPs of one softmax-regression epoch: X W forward, X^T G backward, val forward."""
    return n_train * 2 * 2 * NUM_INPUTS * NUM_OUTPUTS + n_val * 2 * NUM_INPUTS * NUM_OUTPUTS


def epoch_bytes(n_train: int, n_val: int) -> int:
    """Bytes an epoch must read at least: every uint8 image and int32 label once."""
    return (n_train + n_val) * (NUM_INPUTS + 4)


# ----------------------------------------------------------------------------- trees
def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)


def describe_tree() -> str:
    """This tree's commit, `-dirty` when it has uncommitted changes ("unknown" outside git)."""
    done = _git("describe", "--always", "--dirty")
    return done.stdout.decode().strip() if done.returncode == 0 else "unknown"


def resolve_commit(rev: str) -> str:
    """The full hash of git revision `rev` in this checkout (ValueError if there is none)."""
    done = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode:
        raise ValueError(f"--baseline must name a commit of the git checkout at {ROOT}, got "
                         f"{rev!r} ({done.stderr.decode().strip() or 'not found'})")
    return done.stdout.decode().strip()


def export_tree(rev: str, dest: Path) -> str:
    """Export REV's jaxhw/ and experiments/quickstart.py into `dest` with `git archive`;
    return REV's full commit hash."""
    commit = resolve_commit(rev)
    archive = _git("archive", "--format=tar", commit, *EXPORTED)
    if archive.returncode:
        raise ValueError(f"--baseline {rev}: git archive of {', '.join(EXPORTED)} failed: "
                         f"{archive.stderr.decode().strip()}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return commit


# ----------------------------------------------------------------------------- workers
def worker_env(pythonpath: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The user's environment without OpenMP/MKL threading variables (anchors run at their
    defaults), with `pythonpath` first on PYTHONPATH; and the names it left out."""
    removed = sorted(k for k in os.environ if k.startswith(THREAD_VARIABLES))
    env = {k: v for k, v in os.environ.items() if k not in removed}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    return env, removed


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by every thread of process `pid` (None where /proc is absent)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):  # a thread may end while we read
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
    except OSError:
        return None
    return total / 1e9


class Worker:
    """A contender family in its own process: ask it one request, read its one-line answer."""

    def __init__(self, name: str, family: str, data_file: Path, tree: Path, seed: int) -> None:
        self.name = name
        env, _ = worker_env()
        command = [sys.executable, "-m", "experiments.bench_worker", family, "--data",
                   str(data_file), "--tree", str(tree), "--seed", str(seed)]
        # stderr is inherited: a worker's warnings and tracebacks show up in the bench's log
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.info: dict[str, Any] | None = None
        self.idle_cpu_s: list[float] = []  # CPU time it used after answering, while settling

    def ready(self) -> dict[str, Any]:
        """Wait until the worker has set up; return what it says about itself."""
        if self.info is None:
            self.info = self._answer()["ready"]
        return self.info

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, return the answer, then wait until the worker is idle again."""
        with contextlib.suppress(BrokenPipeError):  # a dead worker: _answer says so
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        answer = self._answer()
        self.wait_idle()
        return answer

    def _answer(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"bench worker {self.name!r} exited (code {self.process.wait()}) "
                               "without answering; its messages are above")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"bench worker {self.name!r} failed:\n{answer['error']}")
        return answer

    def wait_idle(self) -> None:
        """Return once the worker used under IDLE_CPU_S of CPU in an IDLE_WINDOW_S window (its
        OpenMP or XLA threads stopped spinning), or after IDLE_TIMEOUT_S; without /proc, sleep
        ten windows."""
        first = last = process_cpu_seconds(self.process.pid)
        if first is None:
            time.sleep(10 * IDLE_WINDOW_S)
            return
        deadline = time.perf_counter() + IDLE_TIMEOUT_S
        while time.perf_counter() < deadline:
            time.sleep(IDLE_WINDOW_S)
            now = process_cpu_seconds(self.process.pid)
            if now is None or now - last < IDLE_CPU_S:
                break
            last = now
        self.idle_cpu_s.append(last - first)

    def finish(self) -> None:
        """Close its stdin: the worker exits."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def close(self) -> None:
        """Finish it and reap it; kill it if it does not exit in 60 s."""
        self.finish()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def started(specs: dict[str, tuple[str, Path]], data_file: Path, seed: int
            ) -> Iterator[dict[str, Worker]]:
    """Workers {name: (family, tree)}, started together and set up; all closed on exit."""
    workers: dict[str, Worker] = {}
    try:
        for name, (family, tree) in specs.items():
            workers[name] = Worker(name, family, data_file, tree, seed)
        for worker in workers.values():
            worker.ready()
        yield workers
    finally:
        for worker in workers.values():
            worker.finish()  # all exit at once
        for worker in workers.values():
            worker.close()


# ----------------------------------------------------------------------------- measurements
def time_rounds(workers: dict[str, Worker], rounds: int, probe: dict[str, int],
                log: Callable[[str], None]) -> dict[str, Any]:
    """One warm-up epoch per worker and model, then `rounds` rounds: one epoch of every worker
    and model in turn (reversed every other round, so no one always follows the same
    neighbour), a FIT_EPOCHS-epoch fit of each jaxhw worker and model (the same way round),
    then one probe of every worker that has a probe."""
    slots = [(name, model) for model in MODELS for name in workers]
    fit_slots = [(name, model) for model in MODELS for name in (NEW, OLD) if name in workers]
    first = {slot: workers[slot[0]].ask({"epoch": slot[1]}) for slot in slots}
    log("  warm-up: " + ", ".join(f"{n}/{m} {a['call_seconds']:.3g} s"
                                  for (n, m), a in first.items()))
    epochs: dict[tuple[str, str], list[dict]] = {slot: [] for slot in slots}
    fits: dict[tuple[str, str], list[dict]] = {slot: [] for slot in fit_slots}
    probes: list[dict[str, float]] = []
    for r in range(rounds):
        for name, model in slots if r % 2 == 0 else slots[::-1]:
            epochs[name, model].append(workers[name].ask({"epoch": model}))
        for name, model in fit_slots if r % 2 == 0 else fit_slots[::-1]:
            fits[name, model].append(workers[name].ask({"fit": model, "epochs": FIT_EPOCHS}))
        rates: dict[str, float] = {}
        for name in PROBE_WORKERS:
            if name in workers:
                rates.update(workers[name].ask({"probe": probe}))
        probes.append(rates)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n}/{m} {v[-1]['seconds']:.3g}" for (n, m), v in epochs.items()) + "; fits " +
            ", ".join(f"{n}/{m} {v[-1]['call_seconds']:.3g}" for (n, m), v in fits.items()))
    return {"first": first, "epochs": epochs, "fits": fits, "probes": probes}


def fresh_compiles(sides: dict[str, Path], data_file: Path, rounds: int, seed: int,
                   log: Callable[[str], None]) -> dict[str, dict[str, list[float]]]:
    """Compile of a fit in fresh workers: per round and side (alternating which goes first),
    a new jaxhw worker's first `fit` call minus its second, for each model (wall seconds)."""
    out: dict[str, dict[str, list[float]]] = {side: {m: [] for m in MODELS} for side in sides}
    names = list(sides)
    for r in range(rounds):
        for side in names if r % 2 == 0 else names[::-1]:
            with started({side: ("jaxhw", sides[side])}, data_file, seed) as workers:
                for model in MODELS:
                    first, second = (workers[side].ask({"epoch": model}) for _ in range(2))
                    out[side][model].append(first["call_seconds"] - second["call_seconds"])
            log(f"  compile round {r + 1}/{rounds}, {side}: " + ", ".join(
                f"{m} {v[-1]:.3g} s" for m, v in out[side].items()))
    return out


def fresh_processes(trees: dict[str, Path], runs: int, cache_root: Path,
                    log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Wall seconds of `python -m experiments.quickstart` in new processes, each from its own
    tree (cwd and PYTHONPATH) with its own compile cache: one run per tree fills the cache, then
    `runs` runs per tree alternating between trees; and the val_acc each printed last."""

    def once(side: str) -> tuple[float, float]:
        env, _ = worker_env(trees[side])
        env["JAXHW_CACHE_DIR"] = str(cache_root / side)
        command = [sys.executable, "-m", "experiments.quickstart"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=trees[side], env=env, capture_output=True,
                              text=True, check=False)
        seconds = time.perf_counter() - start
        words = done.stdout.split()
        if done.returncode or not words:
            raise RuntimeError(f"{' '.join(command)} in {trees[side]} failed or printed "
                               f"nothing:\n{done.stderr[-3000:]}")
        return seconds, float(words[-1])  # it ends by printing "val_acc 0.8338"

    names = list(trees)
    for side in names:
        once(side)
    out: dict[str, dict[str, Any]] = {side: {"runs_s": []} for side in names}
    for r in range(runs):
        for side in names if r % 2 == 0 else names[::-1]:
            seconds, out[side]["val_acc"] = once(side)
            out[side]["runs_s"].append(seconds)
        log(f"  fresh process {r + 1}/{runs}: " + ", ".join(
            f"{side} {out[side]['runs_s'][-1]:.3g} s" for side in names))
    for side in names:
        out[side]["median_s"] = statistics.median(out[side]["runs_s"])
    return out


# ----------------------------------------------------------------------------- summaries
def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of per-pair ratios: pairs measured side by side, so drift between pairs
    cancels."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def epoch_table(timed: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per worker and model: median, min and max epoch seconds over rounds, the warm-up
    call's seconds, the last val_acc and every round's seconds."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (name, model), answers in timed["epochs"].items():
        seconds = [a["seconds"] for a in answers]
        out.setdefault(name, {})[model] = {
            "median_s": statistics.median(seconds), "min_s": min(seconds),
            "max_s": max(seconds), "first_s": timed["first"][name, model]["call_seconds"],
            "val_acc": answers[-1]["val_acc"], "rounds_s": seconds}
    return out


def compile_samples(timed: dict[str, Any], fresh: dict[str, dict[str, list[float]]]
                    ) -> dict[str, dict[str, list[float]]]:
    """Compile of a fit per jaxhw side and model: the round worker's first call minus its
    median steady call, then the fresh workers' samples (paired across sides by position)."""
    out: dict[str, dict[str, list[float]]] = {}
    for side, models in fresh.items():
        for model in MODELS:
            steady = statistics.median(a["call_seconds"] for a in timed["epochs"][side, model])
            first = timed["first"][side, model]["call_seconds"]
            out.setdefault(side, {})[model] = [first - steady, *models[model]]
    return out


def limits(timed: dict[str, Any], n_train: int, n_val: int, cpu: bool) -> dict[str, float]:
    """This run's machine limits and how close jaxhw's epochs come to them, per round (the
    fastest GEMM and copy rate of the round, against that round's jaxhw epochs)."""
    probes = timed["probes"]
    libraries = ("jax", "numpy", "torch") if cpu else ("jax",)  # on an accelerator, jnp only

    def best(kind: str) -> np.ndarray:
        return np.array([max(p[f"{lib}_{kind}"] for lib in libraries if f"{lib}_{kind}" in p)
                         for p in probes])

    shape_rate = best("mlp_shape_gemm_gflops")
    peak = np.maximum(best("gemm_gflops"), shape_rate)
    copy_rate = best("copy_gbps")
    mlp = np.array([a["seconds"] for a in timed["epochs"][NEW, "mlp"]])
    softmax = np.array([a["seconds"] for a in timed["epochs"][NEW, "softmax"]])
    flops, sm_flops = mlp_flops(n_train, n_val), softmax_flops(n_train, n_val)
    nbytes = epoch_bytes(n_train, n_val)
    softmax_bound = np.maximum(nbytes / copy_rate, sm_flops / peak) / 1e9
    out = {"gemm_peak_gflops": np.median(peak), "mlp_shape_gemm_gflops": np.median(shape_rate),
           "mem_copy_gbps": np.median(copy_rate), "mlp_flops_per_epoch": flops,
           "mlp_gflops": np.median(flops / mlp / 1e9),
           "mlp_peak_fraction": np.median(flops / mlp / 1e9 / peak),
           "mlp_peak_bound_s": np.median(flops / peak / 1e9),
           "softmax_bytes_per_epoch": nbytes, "softmax_flops_per_epoch": sm_flops,
           "softmax_bound_s": np.median(softmax_bound),
           "softmax_bound_fraction": np.median(softmax_bound / softmax)}
    for lib in ("jax", "numpy", "torch"):
        for kind in ("gemm_gflops", "mlp_shape_gemm_gflops", "copy_gbps"):
            if all(f"{lib}_{kind}" in p for p in probes):
                out[f"{lib}_{kind}"] = statistics.median(p[f"{lib}_{kind}"] for p in probes)
    return {k: float(v) for k, v in out.items()}


def budget_rows(timed: dict[str, Any], compiles: dict[str, dict[str, list[float]]],
                fresh: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The budget table: new vs old (ratio new / old, at most the budget) when there is a
    baseline, then new vs every other contender (ratio theirs / new, above 1: faster)."""

    def seconds(name: str, model: str) -> list[float]:
        return [a["seconds"] for a in timed["epochs"][name, model]]

    rows = []
    if OLD in compiles:
        pairs = {f"{m}_epoch": (seconds(OLD, m), seconds(NEW, m)) for m in MODELS}
        pairs.update({f"{m}_compile": (compiles[OLD][m], compiles[NEW][m]) for m in MODELS})
        pairs.update({f"{m}_fit": tuple([a["call_seconds"] for a in timed["fits"][side, m]]
                                        for side in (OLD, NEW)) for m in MODELS})
        if fresh is not None:
            pairs["fresh_process"] = (fresh[OLD]["runs_s"], fresh[NEW]["runs_s"])
        for key, what, budget in AB_BUDGETS:
            if key not in pairs:
                continue
            old, new = pairs[key]
            ratio = median_ratio(new, old)
            rows.append({"key": key, "measure": what, "reference": "baseline",
                         "reference_s": statistics.median(old), "new_s": statistics.median(new),
                         "ratio": ratio, "ratio_is": "new / reference",
                         "budget": f"<= {budget:g}", "met": "yes" if ratio <= budget else "no"})
    others = sorted({name for name, _ in timed["epochs"]} - {NEW, OLD})
    for name in others:
        for model in MODELS:
            theirs, new = seconds(name, model), seconds(NEW, model)
            ratio = median_ratio(theirs, new)
            rows.append({"key": f"{model}_vs_{name}", "measure": f"{MODEL_NAMES[model]} epoch, s",
                         "reference": name, "reference_s": statistics.median(theirs),
                         "new_s": statistics.median(new), "ratio": ratio,
                         "ratio_is": "reference / new", "budget": "> 1",
                         "met": "yes" if ratio > 1 else "no"})
    return rows


# ----------------------------------------------------------------------------- the run
def families(config: Config, baseline_tree: Path | None) -> dict[str, tuple[str, Path]]:
    """The round workers {name: (family, tree)}: jaxhw (and its baseline), the d2l-jax shape,
    PyTorch's two when wanted and installed (looked up without importing torch here)."""
    specs = {NEW: ("jaxhw", ROOT)}
    if baseline_tree is not None:
        specs[OLD] = ("jaxhw", baseline_tree)
    specs["d2l_jax"] = ("d2l_jax", ROOT)
    if config.use_torch and importlib.util.find_spec("torch") is not None:
        specs["torch_tuned"] = ("torch_tuned", ROOT)
        specs["torch_book"] = ("torch_book", ROOT)
    return specs


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() where that is absent)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(config: Config, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every measurement of `config`; return bench.json's content."""
    data, source = load_data(config)
    n_train, n_val = len(data.train[1]), len(data.val[1])
    result: dict[str, Any] = {
        "cpu": _cpu_model(), "cpu_cores": os.cpu_count() or 1,
        "python_version": platform.python_version(), "tree": describe_tree(),
        "baseline": config.baseline, "data": source, "n_train": n_train, "n_val": n_val,
        "batch_size": BATCH_SIZE, "rounds": config.rounds, "gemm_n": config.gemm_n, "mode":
        "quick" if config.quick else "full", "environment_removed": worker_env()[1],
        "load_average_at_start": _load_average()}
    with tempfile.TemporaryDirectory(prefix="jaxhw-bench-") as tmp:
        tmp_path = Path(tmp)
        data_file = save_data(data, tmp_path / "data.npz")
        baseline_tree = None
        if config.baseline is not None:
            baseline_tree = tmp_path / "baseline"
            result["baseline_commit"] = export_tree(config.baseline, baseline_tree)
        specs = families(config, baseline_tree)
        log(f"data: {source}, {n_train} train / {n_val} val; workers: {', '.join(specs)}")
        with started(specs, data_file, config.seed) as workers:
            result["workers"] = {name: w.ready() for name, w in workers.items()}
            check_trees(result["workers"], specs)
            log(f"epochs: 1 warm-up + {config.rounds} rounds")
            timed = time_rounds(workers, config.rounds,
                                {"gemm_n": config.gemm_n, "copy_mib": config.copy_mib}, log)
            result["idle_cpu_ms_after_request"] = {
                name: {"median": 1e3 * statistics.median(w.idle_cpu_s),
                       "max": 1e3 * max(w.idle_cpu_s)}
                for name, w in workers.items() if w.idle_cpu_s}
        sides = {name: tree for name, (family, tree) in specs.items() if family == "jaxhw"}
        log(f"compile of a fit: {config.compile_rounds} round(s) of fresh workers")
        compiles = compile_samples(timed, fresh_compiles(sides, data_file,
                                                         config.compile_rounds, config.seed, log))
        fresh = None
        if source == "fashion_mnist" and config.fresh_runs:
            log("fresh process: python -m experiments.quickstart")
            fresh = fresh_processes(sides, config.fresh_runs, tmp_path / "xla-cache", log)
    result["epochs"] = epoch_table(timed)
    result["fits"] = {}
    for (name, model), answers in timed["fits"].items():
        result["fits"].setdefault(name, {})[model] = [a["call_seconds"] for a in answers]
    result["compile_s"] = compiles
    if fresh is not None:
        result["fresh_process"] = fresh
    cpu = result["workers"][NEW]["backend"] == "cpu"
    result["limits"] = limits(timed, n_train, n_val, cpu)
    result["budget"] = budget_rows(timed, compiles, fresh)
    result["load_average_at_end"] = _load_average()
    return result


def check_trees(infos: dict[str, dict[str, Any]], specs: dict[str, tuple[str, Path]]) -> None:
    """Every jaxhw worker imported jaxhw from its own tree (else an A/B would time one tree
    twice)."""
    for name, (family, tree) in specs.items():
        if family == "jaxhw":
            found = Path(infos[name]["jaxhw_path"]).resolve()
            if found != (tree / "jaxhw").resolve():
                raise RuntimeError(f"bench worker {name!r} imported jaxhw from {found}, "
                                   f"expected {tree / 'jaxhw'}")


# ----------------------------------------------------------------------------- output
def _fmt(value: float, digits: int = 3) -> str:
    """A figure with `digits` significant digits, never in exponent form for table values."""
    if abs(value) >= 10 ** digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 else f"{value:.2e}"


def _label(name: str, r: dict[str, Any]) -> str:
    return LABELS[name].format(rev=r.get("baseline") or "")


def format_table(r: dict[str, Any]) -> str:
    """The markdown tables printed on stdout (and pasted into docs/DESIGN.md)."""
    new = r["workers"][NEW]
    torch = r["workers"].get("torch_tuned")
    torch_text = (f"torch {torch['torch_version']} ({torch['torch_threads']} threads, "
                  f"{torch['parallel_backend']} defaults)" if torch else "torch not run")
    baseline = (f"; baseline {r['baseline']} = {r['baseline_commit'][:10]}"
                if r.get("baseline") else "")
    lines = [f"{r['cpu']}, {r['cpu_cores']} cores, {new['devices']}; jax {new['jax_version']}, "
             f"{torch_text}; tree {r['tree']}{baseline}; data {r['data']} "
             f"{r['n_train']}/{r['n_val']}, batch {r['batch_size']}; medians of {r['rounds']} "
             f"interleaved rounds, each contender in its own process; load average "
             f"{r['load_average_at_start']} -> {r['load_average_at_end']}",
             "",
             "| epoch (train + val), s | softmax median | (min-max) | MLP median | (min-max) "
             "| 1st call s (softmax / MLP) | val_acc (softmax / MLP) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    spread = []
    for name, models in r["epochs"].items():
        cells = [_label(name, r)]
        for model in MODELS:
            e = models[model]
            cells += [_fmt(e["median_s"]), f"{_fmt(e['min_s'])}-{_fmt(e['max_s'])}"]
            if e["max_s"] > 1.5 * e["min_s"]:
                spread.append(f"{name}/{model}")
        cells += [f"{_fmt(models['softmax']['first_s'])} / {_fmt(models['mlp']['first_s'])}",
                  f"{models['softmax']['val_acc']:.3f} / {models['mlp']['val_acc']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if spread:
        lines += ["", f"Rounds spread over 1.5x (max/min) for {', '.join(spread)}: contended "
                      "rounds; the medians of the interleaved rounds are reported."]
    lines += ["", "| measure | reference | reference's | new | ratio | budget | met |",
              "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for row in r["budget"]:
        reference = _label(OLD if row["reference"] == "baseline" else row["reference"], r)
        lines.append(f"| {row['measure']} | {reference} | {_fmt(row['reference_s'])} | "
                     f"{_fmt(row['new_s'])} | {_fmt(row['ratio'])} | {row['ratio_is']} "
                     f"{row['budget']} | {row['met']} |")
    if r.get("baseline") and "fresh_process" not in r:
        lines.append("| fresh process to a trained softmax regression, s | (needs FashionMNIST) "
                     "| | | | | not measured |")
    lim, compiles = r["limits"], r["compile_s"][NEW]
    lines += ["", "| this tree's jaxhw and this machine's limits (medians) | measured |",
              "| --- | ---: |",
              f"| compile of a fit (first call minus a steady one, {len(compiles['softmax'])} "
              f"workers), s: softmax / MLP | {_fmt(statistics.median(compiles['softmax']))} / "
              f"{_fmt(statistics.median(compiles['mlp']))} |"]
    if "fresh_process" in r:
        fresh = r["fresh_process"][NEW]
        lines.append(f"| fresh process to a trained softmax regression (`python -m "
                     f"experiments.quickstart`, val_acc {fresh['val_acc']:.4f}), s | "
                     f"{_fmt(fresh['median_s'])} |")
    lines += [f"| float32 GEMM peak, GFLOP/s (fastest of jnp, NumPy, torch; {r['gemm_n']}^3 or "
              f"the MLP's 256x784x256) | {lim['gemm_peak_gflops']:.0f} |",
              f"| MLP: {lim['mlp_flops_per_epoch'] / 1e9:.1f} GFLOP an epoch; bound s, jaxhw's "
              f"GFLOP/s (fraction of peak) | {_fmt(lim['mlp_peak_bound_s'])}, "
              f"{lim['mlp_gflops']:.0f} ({lim['mlp_peak_fraction']:.2f}) |",
              f"| memory copy, GB/s | {lim['mem_copy_gbps']:.1f} |",
              f"| softmax: {lim['softmax_bytes_per_epoch'] / 1e6:.0f} MB and "
              f"{lim['softmax_flops_per_epoch'] / 1e9:.2f} GFLOP an epoch; bound s (fraction "
              f"reached) | {_fmt(lim['softmax_bound_s'])} ({lim['softmax_bound_fraction']:.2f}) |"]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> Path:
    """Bar chart: median epoch seconds per contender for both models, with the measured limit."""
    from matplotlib.figure import Figure  # no pyplot: no backend, no global figure state

    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, 2)
    limit = {"softmax": r["limits"]["softmax_bound_s"], "mlp": r["limits"]["mlp_peak_bound_s"]}
    for ax, model in zip(axes, MODELS, strict=True):
        labels = [_label(name, r) for name in r["epochs"]] + [
            "limit (memory copy or GEMM peak)" if model == "softmax" else "limit (GEMM peak)"]
        values = [models[model]["median_s"] for models in r["epochs"].values()] + [limit[model]]
        colors = [f"C{i}" for i in range(len(values) - 1)] + ["0.6"]
        y = np.arange(len(values))[::-1]
        ax.barh(y, values, color=colors)
        for yi, value in zip(y, values, strict=True):
            ax.text(value, yi, f" {_fmt(value)} s", va="center", fontsize=8)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, max(values) * 8)
        ax.set_xlabel("seconds per epoch (log scale)")
        ax.set_title(f"{MODEL_NAMES[model]}, batch {BATCH_SIZE}", fontsize=10)
    fig.suptitle(f"{r['cpu']} ({r['cpu_cores']} cores), {r['data']} {r['n_train']}/"
                 f"{r['n_val']}, median of {r['rounds']} interleaved rounds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: run, write bench.json and bench.png into --out, print the tables."""
    parser = argparse.ArgumentParser(prog="python -m experiments.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a data subset, 2 rounds, small probes")
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also time jaxhw at git revision REV in the same rounds (A/B)")
    parser.add_argument("--rounds", type=int, default=None, help="timed epochs per contender")
    parser.add_argument("--compile-rounds", type=int, default=None,
                        help="fresh workers per jaxhw tree timing a first fit")
    parser.add_argument("--fresh-runs", type=int, default=None,
                        help="quickstart runs per tree after the cache-filling one (0: none)")
    parser.add_argument("--synthetic", action="store_true", help="random data, not FashionMNIST")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"synthetic": args.synthetic, "use_torch": not args.no_torch,
                                 "baseline": args.baseline}
    for option, minimum in (("rounds", 1), ("compile_rounds", 0), ("fresh_runs", 0)):
        value = getattr(args, option)
        if value is not None:
            if value < minimum:
                parser.error(f"--{option.replace('_', '-')} must be >= {minimum}, got {value}")
            overrides[option] = value
    if args.baseline is not None:
        try:
            resolve_commit(args.baseline)
        except ValueError as err:
            parser.error(str(err))
    config = Config.quick_mode(**overrides) if args.quick else Config.full(**overrides)
    return report(config, args.out)


def report(config: Config, out: Path) -> dict[str, Any]:
    """Run `config` (progress on stderr), write out/bench.json and out/bench.png, print the
    tables; return bench.json's content."""
    result = run(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "bench.json", (json.dumps(result, indent=2) + "\n").encode())
    plot(result, out / "bench.png")
    print(format_table(result))
    print(f"\nwrote {out / 'bench.json'} and {out / 'bench.png'}")
    return result


if __name__ == "__main__":
    main()
