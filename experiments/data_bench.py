"""One pass over FashionMNIST's train set: device-resident batches vs `tfds.data_source` reads.

`python -m experiments.data_bench [--batch-size 256] [--source-batches N]` prints both times and
their ratio; `data_pass_benchmark()` returns them for the benchmark report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxhw.data import fashion_mnist
from jaxhw.data.pass_timing import device_pass as device_pass
from jaxhw.data.pass_timing import time_device_pass, time_source_pass


def data_pass_benchmark(data_dir: str | Path | None = None, batch_size: int = 256,
                        seed: int = 0, source_batches: int | None = None) -> dict[str, Any]:
    """One train pass in batches of `batch_size`: device-resident vs `tfds.data_source` times."""
    images, labels = fashion_mnist.load("train", data_dir)
    device = time_device_pass(images, labels, batch_size, seed)
    source = time_source_pass(fashion_mnist.data_source("train", data_dir), batch_size, seed,
                              source_batches)
    return {
        "batch_size": batch_size,
        "num_examples": int(len(labels)),
        "device_pass_s": device["pass_s"],
        "device_shuffle_s": device["shuffle_s"],
        "device_compile_and_run_s": device["compile_and_run_s"],
        "tfds_pass_s": source["pass_s"],
        "tfds_batches_timed": source["batches_timed"],
        "tfds_pass_extrapolated": source["extrapolated"],
        "tfds_over_device": source["pass_s"] / device["pass_s"],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: run the benchmark and print the two times and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m experiments.data_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--source-batches", type=int, default=None,
                        help="time only this many data_source batches and extrapolate")
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default: TFDS's)")
    args = parser.parse_args(argv)
    result = data_pass_benchmark(args.data_dir, args.batch_size,
                                 source_batches=args.source_batches)
    note = " (extrapolated)" if result["tfds_pass_extrapolated"] else ""
    print(f"train pass, batches of {result['batch_size']}: device-resident "
          f"{result['device_pass_s']:.4f} s (of which shuffling "
          f"{result['device_shuffle_s']:.4f} s; first call incl. compile "
          f"{result['device_compile_and_run_s']:.2f} s); tfds.data_source "
          f"{result['tfds_pass_s']:.2f} s{note}; ratio {result['tfds_over_device']:.0f}x")
    return result


if __name__ == "__main__":
    main()
