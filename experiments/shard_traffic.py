"""What moves between devices in an epoch when each device holds only its share of the
training set: the two contracts of docs/DESIGN.md ("Per-process data"), read from the
compiled program.

`python -m experiments.shard_traffic [--devices D] [--model softmax_regression|mlp]
[--out DIR]` fakes D CPU devices (4 by default), splits a FashionMNIST-shaped training set
(60000 x 28x28x1 uint8 images, int32 labels) over them as `batches.from_process_shares`
does, and compiles `fit`'s epoch (batch 256, `sgd(0.1)`, no validation) three ways:
- "whole": the training set whole on every device (`fit(mesh=)` with numpy data);
- "one order": the split training set shuffled in one global order (what `fit` would do with
  the whole set's order, `per_shard=False`): XLA gathers each minibatch across the devices;
- "per shard": what `fit` does with a split training set, each shard shuffling its own
  examples and gathering its part of each minibatch locally.
For each, it lists the collectives of the compiled program and adds up their buffers: those in
the scan's body run once per full minibatch (234 a epoch), the others once. The bytes are each
collective's buffer, what every device sends and receives in a ring all-reduce about 2 (D-1)/D
times. Writes `DIR/shard_traffic.json` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

N, BATCH = 60000, 256
BYTES = {"pred": 1, "u8": 1, "s8": 1, "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4,
         "s64": 8, "u64": 8, "f64": 8}
COLLECTIVE = re.compile(r"= (.*?) (all-reduce|all-gather|all-to-all|collective-permute|"
                        r"reduce-scatter)(?:-start)?\(")


def computations(hlo: str) -> dict[str, list[str]]:
    """The compiled HLO text's computations: name -> its instruction lines."""
    found: dict[str, list[str]] = {}
    name = None
    for line in hlo.splitlines():
        header = re.match(r"(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header and not line.startswith(" "):
            name = header[1]
            found[name] = []
        elif name is not None and line.startswith(" "):
            found[name].append(line)
    return found


def loop_bodies(comps: dict[str, list[str]]) -> set[str]:
    """The computations that run once per iteration of some while loop (and what they call)."""
    bodies = {m for lines in comps.values() for line in lines
              for m in re.findall(r"body=%?([\w.\-]+)", line)}
    todo = list(bodies)
    while todo:
        for line in comps.get(todo.pop(), []):
            for callee in re.findall(r"(?:to_apply|calls|body|condition)=%?([\w.\-]+)", line):
                if callee not in bodies:
                    bodies.add(callee)
                    todo.append(callee)
    return bodies


def collectives(hlo: str) -> list[dict]:
    """Every collective instruction: its kind, buffers, bytes, and whether it runs per step."""
    comps = computations(hlo)
    per_step = loop_bodies(comps)
    out = []
    for name, lines in comps.items():
        for line in lines:
            match = COLLECTIVE.search(line)
            if not match:
                continue
            shapes = re.findall(r"([a-z]+\d*)\[([\d,]*)\]", match[1])
            size = sum(BYTES[dtype] * int(np.prod([int(d) for d in dims.split(",") if d]))
                       for dtype, dims in shapes)
            out.append({"op": match[2], "buffers": [f"{t}[{d}]" for t, d in shapes],
                        "bytes": size, "per_step": name in per_step})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--model", default="softmax_regression",
                        choices=["softmax_regression", "mlp"])
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args()

    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)
    import importlib

    import optax
    from jax.sharding import NamedSharding, PartitionSpec

    from jaxhw import fit_checks, train
    from jaxhw.data import batches
    from jaxhw.nn.losses import cross_entropy

    model = importlib.import_module(f"jaxhw.models.{args.model}")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (N, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, N).astype(np.int32)
    mesh = fit_checks.data_mesh(jax.make_mesh((args.devices,), ("data",)), BATCH)
    replicated = NamedSharding(mesh, PartitionSpec())
    loss, optimizer = train.supervised_loss(model.apply, cross_entropy), optax.sgd(0.1)
    params = model.init(jax.random.key(0))
    state = train.device_copy(train.canonical((params, optimizer.init(params))), replicated)
    split = batches.from_process_shares((X, y), mesh)
    whole = batches.to_device((X, y), "train", replicated)
    steps = N // BATCH
    rows = {}
    for name, data, per_shard in (("whole", whole, False), ("one order", split, False),
                                  ("per shard", split, True)):
        settings = train.Settings(loss, optimizer, None, BATCH, None,
                                  NamedSharding(mesh, PartitionSpec("data")), per_shard=per_shard)
        hlo = train.epoch_program(settings).lower(*state, data, None, jax.random.key(1),
                                                  0).compile().as_text()
        found = collectives(hlo)
        step = sum(c["bytes"] for c in found if c["per_step"])
        rows[name] = {"collectives": found, "bytes_per_step": step,
                      "bytes_per_epoch": step * steps + sum(c["bytes"] for c in found
                                                            if not c["per_step"])}
    params_bytes = sum(a.nbytes for a in jax.tree.leaves(state[0]))
    print(f"{args.model}, {N} examples, batch {BATCH} ({steps} full steps), {args.devices} "
          f"devices; params {params_bytes / 1e6:.2f} MB")
    print("| training set | collectives | per step, MB | per epoch, MB |")
    print("| --- | --- | ---: | ---: |")
    for name, row in rows.items():
        kinds = sorted({f"{c['op']} {' '.join(c['buffers'])}" for c in row["collectives"]})
        print(f"| {name} | {'; '.join(kinds)} | {row['bytes_per_step'] / 1e6:.3f} | "
              f"{row['bytes_per_epoch'] / 1e6:.1f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shard_traffic.json").write_text(json.dumps(
        {"model": args.model, "devices": args.devices, "n": N, "batch_size": BATCH,
         "params_bytes": params_bytes, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
