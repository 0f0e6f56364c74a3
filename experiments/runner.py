"""Find the section scripts, run them, write metrics.json, figures and the report."""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import json
import math
import pkgutil
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import experiments
from jaxhw import compile_cache
from jaxhw.files import write_atomic

# Section scripts: s<chapter>_<section>_<topic>.py for the book, sx_<topic>.py beyond it.
_SECTION_MODULE = re.compile(r"^s(\d+|x)_")


@dataclass(frozen=True)
class Section:
    """A book section: its id ("3.4"), title and script module name."""

    id: str
    title: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(f"experiments.{self.module}")


def _section_key(section_id: str) -> tuple:
    return tuple(int(p) if p.isdigit() else math.inf for p in section_id.split("."))


def discover() -> dict[str, Section]:
    """All section scripts in `experiments/`, keyed by section id in book order."""
    found = {}
    for info in pkgutil.iter_modules(experiments.__path__):
        name = info.name
        if not _SECTION_MODULE.match(name):
            continue
        module = importlib.import_module(f"experiments.{name}")
        found[module.SECTION] = Section(module.SECTION, module.TITLE, name)
    return dict(sorted(found.items(), key=lambda kv: _section_key(kv[0])))


def to_jsonable(value: Any) -> Any:
    """Turn numpy/JAX scalars and arrays (also nested in dicts/lists) into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, str | bool | int | None):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return to_jsonable(arr.tolist())
    raise TypeError(f"metrics value of type {type(value).__name__} is not JSON-serialisable")


def run_info(seed: int) -> dict[str, Any]:
    """Versions, device and seed recorded with every result."""
    import flax
    import jax
    import jaxlib
    import optax

    return {
        "seed": seed,
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "flax_version": flax.__version__,
        "optax_version": optax.__version__,
        "python_version": platform.python_version(),
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "device_count": jax.device_count(),
    }


def run_section(section: Section, out: Path, *, quick: bool, seed: int,
                checkpoint_dir: Path | None = None) -> dict[str, Any]:
    """Run one section's `main` into `out/<id>/` and write its metrics.json; return the record.

    With `checkpoint_dir`, a section whose `main` takes `checkpoint_dir` checkpoints (and
    resumes) its training in `checkpoint_dir/<id>/`.
    """
    section_dir = out / section.id
    section_dir.mkdir(parents=True, exist_ok=True)
    main = section.load().main
    extra = {}
    if checkpoint_dir is not None and "checkpoint_dir" in inspect.signature(main).parameters:
        extra["checkpoint_dir"] = checkpoint_dir / section.id
    start = time.perf_counter()
    metrics = main(section_dir, quick=quick, seed=seed, **extra)
    seconds = time.perf_counter() - start
    if not isinstance(metrics, dict):
        raise TypeError(f"section {section.id}: main() must return a dict, got {type(metrics)}")
    record = to_jsonable(metrics)
    record["_run"] = {**run_info(seed), "quick": quick, "seconds": round(seconds, 3)}
    write_atomic(section_dir / "metrics.json", (json.dumps(record, indent=2) + "\n").encode())
    return record


def _fmt(value: Any, limit: int = 12) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        flat = np.asarray(value, dtype=object).ravel().tolist() if value else []
        shown = ", ".join(_fmt(v) for v in flat[:limit])
        more = f", … ({len(flat)} values)" if len(flat) > limit else ""
        return f"[{shown}{more}]"
    return str(value)


def write_report(out: Path, sections: Sequence[Section], seed: int, quick: bool) -> Path:
    """Write `out/report.md` and `out/report.html` from every section's metrics and PNGs."""
    info = run_info(seed)
    md = [
        "# jaxhw results",
        "",
        f"jax {info['jax_version']} / jaxlib {info['jaxlib_version']}, flax "
        f"{info['flax_version']}, optax {info['optax_version']}, Python {info['python_version']}",
        f"device: {info['device']} ({info['platform']}, {info['device_count']} device(s)), "
        f"seed {seed}{', quick mode' if quick else ''}",
        "",
    ]
    body = []
    for section in sections:
        section_dir = out / section.id
        metrics_file = section_dir / "metrics.json"
        md += [f"## {section.id} {section.title}", ""]
        body.append(f"<h2>{html.escape(section.id)} {html.escape(section.title)}</h2>")
        if not metrics_file.exists():
            md += ["(not run)", ""]
            body.append("<p>(not run)</p>")
            continue
        metrics = json.loads(metrics_file.read_text())
        run = metrics.pop("_run", {})
        md += ["| metric | value |", "| --- | --- |"]
        rows = []
        for key, value in metrics.items():
            md.append(f"| `{key}` | {_fmt(value)} |")
            rows.append(f"<tr><td><code>{html.escape(key)}</code></td>"
                        f"<td>{html.escape(_fmt(value))}</td></tr>")
        if run:
            md.append(f"| run time | {run.get('seconds', '?')} s |")
        md.append("")
        body.append("<table>" + "".join(rows) + "</table>")
        for png in sorted(section_dir.glob("*.png")):
            rel = png.relative_to(out).as_posix()
            md += [f"![{section.id} {png.stem}]({rel})", ""]
            body.append(f'<figure><img src="{html.escape(rel)}" alt="{html.escape(png.stem)}">'
                        f"<figcaption>{html.escape(png.stem)}</figcaption></figure>")
    (out / "report.md").write_text("\n".join(md) + "\n")
    header = "".join(f"<p>{html.escape(line)}</p>" for line in md[2:4])
    (out / "report.html").write_text(
        "<!doctype html><meta charset=utf-8><title>jaxhw results</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "img{max-width:100%}td{padding:0 1em}</style>"
        f"<h1>jaxhw results</h1>{header}{''.join(body)}\n")
    return out / "report.md"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Run d2l sections: `list`, `all`, or section ids such as 3.4 4.4.")
    parser.add_argument("sections", nargs="+", help="'list', 'all', or section ids")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--quick", action="store_true", help="shrink epochs/data (smoke run)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="checkpoint every epoch into DIR/<section> and resume from there "
                             "(sections that train with checkpoints)")
    return parser.parse_args(argv)


def cli(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m experiments`; returns the exit code."""
    args = _parse(argv)
    known = discover()
    if args.sections == ["list"]:
        for section in known.values():
            print(f"{section.id:>6}  {section.title}  (experiments/{section.module}.py)")
        return 0
    wanted = list(known) if args.sections == ["all"] else args.sections
    unknown = [s for s in wanted if s not in known]
    if unknown:
        print(f"unknown section id(s): {', '.join(unknown)}; valid ids: {', '.join(known)} "
              "(or 'list', 'all')", file=sys.stderr)
        return 2
    from tqdm.auto import tqdm

    compile_cache.enable()
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [known[s] for s in wanted]
    failed = []
    bar = tqdm(chosen, desc="sections", unit="section", disable=len(chosen) < 2)
    for section in bar:
        bar.set_postfix_str(section.id)
        try:
            record = run_section(section, args.out, quick=args.quick, seed=args.seed,
                                 checkpoint_dir=args.checkpoint_dir)
        except Exception as err:  # keep going: one broken section must not hide the others
            failed.append(section.id)
            tqdm.write(f"section {section.id} failed: {type(err).__name__}: {err}")
            if len(chosen) == 1:
                raise
            continue
        tqdm.write(f"{section.id} {section.title}: {record['_run']['seconds']:.1f} s")
    report = write_report(args.out, list(known.values()), args.seed, args.quick)
    print(f"wrote {report}")
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_as_script(section_id: str) -> None:
    """What `python experiments/<section script>.py` does: run that one section into results/."""
    sys.exit(cli([section_id]))
