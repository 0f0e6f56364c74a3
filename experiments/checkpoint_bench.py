"""What a checkpoint every epoch costs, A/B: this tree's Orbax checkpoints against another
commit's (e.g. the last one before Orbax, 60aa7c4), and this tree without checkpoints, in the
same rounds.

`python -m experiments.checkpoint_bench --baseline REV [--model softmax|mlp] [--rounds N]
[--epochs E] [--synthetic] [--out DIR]` trains softmax regression (or the MLP 784-256-10) on
FashionMNIST (batch 256, sgd(0.1), E=10 epochs, `checkpoint_dir=` a fresh folder) in a fresh
process per run: each round runs
every variant once, the order rotated from round to round. A run's time starts before the
child imports JAX (imports, data, compile, training, checkpoints, exit: what a user pays)
and is measured from the parent, wall and CPU (`getrusage` of the child); the child also
reports its `fit` call alone (wall and CPU) and each `save_run` (wall and CPU). Figures are
medians over rounds; a ratio is the median of the per-round ratios against the baseline.
Writes `DIR/checkpoint_bench.json` and prints a markdown table (docs/DESIGN.md has one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.bench import ROOT, describe_tree, export_tree, synthetic_data
from jaxhw.files import write_atomic

# The child: one timed 10-epoch softmax fit, printing one JSON line. It uses only what the
# baseline's jaxhw and this tree's share: train.fit, checkpoint.save_run, the model and loss.
CHILD = r"""
import time
T0 = time.perf_counter()
import json, sys
import jax, numpy as np, optax
import importlib
from jaxhw import checkpoint, train
from jaxhw.nn.losses import cross_entropy
data, folder, epochs, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
model = importlib.import_module(f"jaxhw.models.{name}")
with np.load(data) as f:
    train_data, val_data = (f["X_train"], f["y_train"]), (f["X_val"], f["y_val"])
saves = []
original = checkpoint.save_run
def timed(*args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = original(*args, **kwargs)
    saves.append((time.perf_counter() - wall, time.process_time() - cpu))
    return out
checkpoint.save_run = timed
loss = train.supervised_loss(model.apply, cross_entropy)
params = model.init(jax.random.key(0))
wall, cpu = time.perf_counter(), time.process_time()
out = train.fit(loss, params, optax.sgd(0.1), train_data, val_data, epochs=epochs,
                batch_size=256, key=jax.random.key(1), progress=False,
                metrics=train.classification_metrics(model.apply),
                checkpoint_dir=None if folder == "-" else folder)
fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
total = sum(np.asarray(v, np.float64).sum() for v in out[0].values())
print(json.dumps({"fit_wall": fit_wall, "fit_cpu": fit_cpu, "saves": saves,
                  "val_acc": float(out[1]["val_acc"][-1]), "params_sum": float(total),
                  "orbax_imported": "orbax.checkpoint" in sys.modules,
                  "child_wall": time.perf_counter() - T0}))
"""
NEW, OLD, NONE = "orbax", "baseline", "no checkpoints"


MODELS = {"softmax": "softmax_regression", "mlp": "mlp"}


def run_child(tree: Path, data: Path, folder: str, epochs: int, model: str) -> dict[str, Any]:
    """One fresh process training with jaxhw from `tree`; its figures and the parent's clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH", "")) if p)
    env.setdefault("JAX_PLATFORMS", "cpu")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(data), folder, str(epochs),
                           MODELS[model]],
                          env=env, cwd=tree, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"the child of {tree} failed: {done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["process_wall"] = wall
    record["process_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return record


def rounds(trees: dict[str, tuple[Path, bool]], data: Path, n: int, epochs: int,
           model: str = "softmax") -> dict[str, list[dict[str, Any]]]:
    """`n` rounds; each runs every variant once in a fresh process, the order rotated."""
    names = list(trees)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(n):
        for name in names[r % len(names):] + names[:r % len(names)]:
            tree, checkpoints = trees[name]
            folder = tempfile.mkdtemp(prefix="jaxhw-ckpt-bench-")
            try:
                record = run_child(tree, data, folder if checkpoints else "-", epochs, model)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            out[name].append(record)
            print(f"round {r} {name:15s} process {record['process_wall']:6.2f} s wall "
                  f"{record['process_cpu']:6.2f} s CPU | fit {record['fit_wall']:5.2f} s wall "
                  f"{record['fit_cpu']:5.2f} s CPU | val acc {record['val_acc']:.4f}",
                  flush=True)
    return out


def summary(results: dict[str, list[dict[str, Any]]], base: str = OLD) -> list[dict[str, Any]]:
    """Per variant: medians of each figure and medians of the per-round ratios to `base`."""
    rows = []
    for name, runs in results.items():
        row: dict[str, Any] = {"variant": name}
        for what in ("process_wall", "process_cpu", "fit_wall", "fit_cpu"):
            row[what] = statistics.median(r[what] for r in runs)
            ratios = [r[what] / b[what] for r, b in zip(runs, results[base], strict=True)]
            row[f"{what}_ratio"] = statistics.median(ratios)
            row[f"{what}_ratio_range"] = (min(ratios), max(ratios))
        saves = [s for r in runs for s in r["saves"]]
        row["save_wall_ms"] = 1000 * statistics.median(s[0] for s in saves) if saves else None
        row["save_cpu_ms"] = 1000 * statistics.median(s[1] for s in saves) if saves else None
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as markdown: medians, and ratios to the baseline with their range."""
    lines = ["| variant | save, ms wall / CPU | process, s wall | process, s CPU | fit, s wall "
             "| fit, s CPU |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        save = ("-" if row["save_wall_ms"] is None
                else f"{row['save_wall_ms']:.0f} / {row['save_cpu_ms']:.0f}")
        cells = [f"{row[w]:.2f} (x{row[w + '_ratio']:.3f}, {row[w + '_ratio_range'][0]:.2f}-"
                 f"{row[w + '_ratio_range'][1]:.2f})"
                 for w in ("process_wall", "process_cpu", "fit_wall", "fit_cpu")]
        lines.append(f"| {row['variant']} | {save} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_data(synthetic: bool, folder: Path) -> tuple[Path, str]:
    """FashionMNIST (or random images of its shape) as one .npz every child reads."""
    if synthetic:
        (X, y), (Xv, yv) = synthetic_data(60000, 10000)
        source = "synthetic"
    else:
        from jaxhw.data import fashion_mnist

        (X, y), (Xv, yv) = fashion_mnist.load("train"), fashion_mnist.load("test")
        source = "FashionMNIST"
    path = folder / "data.npz"
    np.savez(path, X_train=X, y_train=y, X_val=Xv, y_val=yv)
    return path, source


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, metavar="REV",
                        help="the commit whose checkpoints are the reference (e.g. 60aa7c4)")
    parser.add_argument("--model", choices=sorted(MODELS), default="softmax")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--synthetic", action="store_true",
                        help="random uint8 images of FashionMNIST's shape")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.epochs < 1:
        parser.error("--rounds and --epochs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="jaxhw-ckpt-bench-") as tmp:
        tmp_path = Path(tmp)
        commit = export_tree(args.baseline, tmp_path / "baseline")
        data, source = load_data(args.synthetic, tmp_path)
        trees = {OLD: (tmp_path / "baseline", True), NEW: (ROOT, True), NONE: (ROOT, False)}
        results = rounds(trees, data, args.rounds, args.epochs, args.model)
    accuracies = {(r["val_acc"], r["params_sum"]) for runs in results.values() for r in runs}
    if len(accuracies) != 1:  # every variant trains the same model: a bench of equals
        raise RuntimeError(f"the variants trained differently: {sorted(accuracies)}")
    rows = summary(results)
    result = {"tree": describe_tree(), "baseline": args.baseline, "baseline_commit": commit,
              "data": source, "model": args.model, "epochs": args.epochs, "rounds": args.rounds,
              "cpus": os.cpu_count(), "load": os.getloadavg(), "summary": rows,
              "runs": results}
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / f"checkpoint_bench_{args.model}.json",
                 (json.dumps(result, indent=2) + "\n").encode())
    print(f"\n{args.epochs} epochs of {MODELS[args.model]} ({source}), checkpoint every epoch; "
          f"{args.rounds} rounds; tree {result['tree']}, baseline {args.baseline} = "
          f"{commit[:10]}; ratios against the baseline\n")
    print(table(rows))
    return result


if __name__ == "__main__":
    main()
