"""Run the sections as notebooks: execute each script in a kernel, render HTML, write an index.

`jaxhw-run list | all | 2.3 3.1 ... [--out results] [--quick] [--seed N]` from the repository
root, or `python -m experiments ...`. Each section lands in `OUT/<id>/`: the executed
`<id>.ipynb`, `<id>.html`, its PNGs, `metrics.json` (what it computed) and `run.json` (how it
ran: seed, mode, time, status); `OUT/index.html` links them all. The notebook tools (Jupytext,
nbclient, nbconvert, ipykernel) come with the `notebooks` extra. docs/notebooks.md describes
how a section script is laid out.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import importlib.util
import json
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jaxhw import compile_cache, math_html, notebook
from jaxhw.files import write_atomic

# s<chapter>_<section>_<topic>.py is book section <chapter>.<section>;
# s<chapter>_<section>_exercises.py answers that section's exercises, id
# <chapter>.<section>-exercises; sx_<topic>.py goes beyond the book and its id is <topic>.
_EXERCISES_FILE = re.compile(r"^s(\d+)_(\d+)_exercises$")
EXERCISES = "-exercises"  # the suffix of an exercises notebook's id
_BOOK_FILE = re.compile(r"^s(\d+)_(\d+)_\w+$")
_EXTRA_FILE = re.compile(r"^sx_(\w+)$")
_HEADING = re.compile(r"^# # (.+)$", re.MULTILINE)  # a markdown H1 in Jupytext's percent format
PARAMETERS = ("quick", "seed", "out_dir")  # every parameters cell sets these three
DEFAULT_TIMEOUT = 3600.0

# nbconvert's lab page without its <script src="https://cdn..."> tags (require.js, MathJax,
# mermaid): the report opens offline and never reaches out to the network.
_OFFLINE_TEMPLATE = """{%- extends "lab/index.html.j2" -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


@dataclass(frozen=True)
class Section:
    """A section script: its id ("2.3"), title (its first heading) and path."""

    id: str
    title: str
    path: Path

    @property
    def module(self) -> str:
        return self.path.stem


def section_id(path: str | Path) -> str | None:
    """"2.3" for s2_3_linear_algebra.py, "2.3-exercises" for s2_3_exercises.py, "sweep" for
    sx_sweep.py, None for any other file."""
    stem = Path(path).stem
    if match := _EXERCISES_FILE.match(stem):
        return f"{match[1]}.{match[2]}{EXERCISES}"
    if match := _BOOK_FILE.match(stem):
        return f"{match[1]}.{match[2]}"
    if match := _EXTRA_FILE.match(stem):
        return match[1]
    return None


def _title(text: str, sid: str) -> str:
    if match := _HEADING.search(text):
        return match[1].strip().removeprefix(sid.removesuffix(EXERCISES)).strip()
    return sid


def book_section(sid: str) -> str:
    """The section an id belongs to: "2.3" for "2.3" and for "2.3-exercises"."""
    return sid.removesuffix(EXERCISES)


def _section_key(sid: str) -> tuple:
    """Book order; a section's exercises right after it; sections beyond the book last."""
    base = book_section(sid)
    return (tuple(int(p) if p.isdigit() else math.inf for p in base.split(".")),
            sid.endswith(EXERCISES), sid)


def discover(folder: str | Path) -> dict[str, Section]:
    """Every section script in `folder`, keyed by id, in book order (read, never executed)."""
    found: dict[str, Section] = {}
    for path in sorted(Path(folder).glob("s*.py")):
        sid = section_id(path)
        if sid is None:
            continue
        if sid in found:
            raise ValueError(f"two scripts for section {sid}: {found[sid].path}, {path}")
        found[sid] = Section(sid, _title(path.read_text(), sid), path)
    return dict(sorted(found.items(), key=lambda kv: _section_key(kv[0])))


def _assigned_names(source: str) -> set[str]:
    tree = ast.parse(source)
    return {target.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}


def to_notebook(section: Section, params: Mapping[str, Any]):
    """The section script as a notebook with `params` injected after its parameters cell.

    As papermill does: a cell tagged "injected-parameters" assigns the values, so the cells
    after it see them. Parameters the section's cell does not declare are left out.
    """
    import jupytext
    import nbformat

    nb = jupytext.read(section.path, fmt="py:percent")
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", ())]
    if len(tagged) != 1:
        raise ValueError(f"{section.path}: needs exactly one cell tagged parameters "
                         f'(`# %% tags=["parameters"]`), found {len(tagged)}')
    declared = _assigned_names(nb.cells[tagged[0]].source)
    if missing := [name for name in PARAMETERS if name not in declared]:
        raise ValueError(f"{section.path}: its parameters cell must set {', '.join(PARAMETERS)}; "
                         f"missing {', '.join(missing)}")
    lines = [f"{name} = {str(v) if isinstance(v, Path) else v!r}" for name, v in params.items()
             if name in declared]
    injected = nbformat.v4.new_code_cell("# Parameters\n" + "\n".join(lines),
                                         metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, injected)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _kernel_manager_class():
    """An nbclient kernel manager that starts ipykernel in this very interpreter.

    Not whichever `python3` kernel spec Jupyter finds first: that may be another Python
    without jaxhw, or with other versions of it.
    """
    import zmq
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernel(AsyncKernelManager):
        @default("transport_encryption")
        def _curve_where_possible(self) -> str:
            # CurveZMQ keys encrypt the kernel's sockets; without them ipykernel warns.
            return "auto" if zmq.has("curve") else "disabled"

        @property
        def kernel_spec(self) -> KernelSpec:
            spec = get_kernel_dict()
            return KernelSpec(resource_dir="", argv=spec["argv"], language=spec["language"],
                              display_name=spec["display_name"], metadata=spec["metadata"])

    return ThisPythonKernel


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # a kernel draws with matplotlib's inline backend, as in Jupyter
    env.update(compile_cache.environ())  # what an earlier section compiled is not compiled again
    return env


def execute(nb, cwd: Path, timeout: float | None = DEFAULT_TIMEOUT) -> None:
    """Run every cell of `nb` in a fresh kernel started in `cwd`; outputs go into `nb`.

    Raises nbclient's CellExecutionError at the first cell that raises (its traceback is that
    cell's output), CellTimeoutError after `timeout` seconds in one cell.
    """
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_manager_class=_kernel_manager_class(),
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=_kernel_env())


def render_html(nb, title: str, banner: str) -> str:
    """The notebook as one offline HTML page (nbconvert's lab look), `banner` on top; TeX in
    markdown cells becomes MathML."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    page = copy.deepcopy(nb)
    page.cells.insert(0, nbformat.v4.new_markdown_cell(banner))
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"page.j2": _OFFLINE_TEMPLATE})],
                            template_file="page.j2")
    body, _ = exporter.from_notebook_node(page, resources={"metadata": {"name": title}})
    return math_html.mathml(body)  # formulas as MathML: the page loads no MathJax


def _clear(section_dir: Path, sid: str) -> None:
    """Remove what an earlier run left, so a failed run never shows its predecessor's results."""
    for name in ("metrics.json", "run.json", f"{sid}.ipynb", f"{sid}.html"):
        (section_dir / name).unlink(missing_ok=True)
    for png in section_dir.glob("*.png"):
        png.unlink()


def _describe(err: BaseException) -> str:
    if hasattr(err, "ename"):  # nbclient's CellExecutionError: the kernel's exception
        return f"{err.ename}: {err.evalue}"
    return f"{type(err).__name__}: {err}"


def _banner(record: Mapping[str, Any]) -> str:
    mode = "quick run" if record["quick"] else "full run"
    return (f"[all sections](../index.html) · {record['status']} · seed {record['seed']} · "
            f"{mode} · {record['started']} · {record['seconds']:.1f} s")


def run_section(section: Section, out: Path, *, quick: bool, seed: int,
                params: Mapping[str, Any] | None = None,
                timeout: float | None = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run one section into `out/<id>/` and write its `run.json`; return that record.

    The section runs as a notebook in a kernel, with `quick`, `seed`, `out_dir` and `params`
    injected; the executed notebook and its HTML page are written even when a cell fails.
    """
    seed = notebook.check_seed(seed)
    section_dir = Path(out) / section.id
    section_dir.mkdir(parents=True, exist_ok=True)
    _clear(section_dir, section.id)
    params = dict(params or {})
    record: dict[str, Any] = {
        "section": section.id, "title": section.title, "script": str(section.path),
        "seed": seed, "quick": quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "ok", "error": None, "notebook": None, "html": None}
    clock = time.perf_counter()
    nb = None
    try:
        nb = to_notebook(section, {"quick": quick, "seed": seed,
                                   "out_dir": section_dir.resolve(), **params})
        execute(nb, section_dir, timeout)
    except Exception as err:  # recorded and shown in the index; the other sections still run
        record.update(status="failed", error=_describe(err))
        if nb is None:
            traceback.print_exc()
    record["seconds"] = round(time.perf_counter() - clock, 3)
    if nb is not None:
        import nbformat

        record["notebook"], record["html"] = f"{section.id}.ipynb", f"{section.id}.html"
        nbformat.write(nb, section_dir / record["notebook"])
        page = render_html(nb, f"{section.id} {section.title}", _banner(record))
        (section_dir / record["html"]).write_text(page)
    write_atomic(section_dir / "run.json", (json.dumps(record, indent=2) + "\n").encode())
    return record


def write_index(out: Path, sections: Mapping[str, Section] | None = None) -> Path:
    """Write `out/index.html`: every section with its status, seed, mode and time of run, and
    beside it its exercises notebook, if any, with the same.

    Each entry comes from that notebook's own run.json, so sections run at different times,
    with different seeds or modes into one folder are each labelled with their own run.
    """
    out = Path(out)
    records = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/run.json")}
    titles = {sid: s.title for sid, s in (sections or {}).items()}
    known = set(titles) | set(records)
    rows = []
    for sid in sorted({book_section(s) for s in known}, key=_section_key):
        record = records.get(sid)
        exercises = _exercises_cell(f"{sid}{EXERCISES}", records, known)
        title = html.escape(record["title"] if record else titles.get(sid, sid))
        if record is None:
            rows.append(f"<tr class=not-run><td>{html.escape(sid)}</td><td>{title}</td>"
                        f"<td>not run</td><td></td><td></td><td></td><td></td>{exercises}</tr>")
            continue
        target = record["html"] or "metrics.json"
        status = record["status"] + (f": {record['error']}" if record["error"] else "")
        rows.append(
            f"<tr class={record['status']}><td><a href=\"{html.escape(sid)}/{target}\">"
            f"{html.escape(sid)}</a></td><td>{title}</td><td>{html.escape(status)}</td>"
            f"<td>{record['seed']}</td><td>{'quick' if record['quick'] else 'full'}</td>"
            f"<td>{html.escape(record['started'])}</td><td>{record['seconds']:.1f} s</td>"
            f"{exercises}</tr>")
    page = (
        "<!doctype html><meta charset=utf-8><title>jaxhw sections</title>"
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}"
        "td,th{padding:.2em .8em;text-align:left;vertical-align:top}"
        ".failed td,td.failed{color:#b00}.not-run td,td.not-run{color:#888}</style>"
        "<h1>jaxhw: d2l sections as executed notebooks</h1>"
        "<p>Each row is labelled with the run that produced that section's files; the last "
        "column is the section's exercises notebook, with its own run.</p>"
        "<table><tr><th>section</th><th>title</th><th>status</th><th>seed</th><th>mode</th>"
        f"<th>run at (UTC)</th><th>time</th><th>exercises</th></tr>{''.join(rows)}</table>\n")
    path = out / "index.html"
    path.write_text(page)
    return path


def _exercises_cell(sid: str, records: Mapping[str, Any], known: set[str]) -> str:
    """The index's exercises column for one section: a link with its run, "not run", or empty."""
    if sid not in known:
        return "<td></td>"
    record = records.get(sid)
    if record is None:
        return "<td class=not-run>exercises: not run</td>"
    target = record["html"] or "metrics.json"
    status = record["status"] + (f": {record['error']}" if record["error"] else "")
    mode = "quick" if record["quick"] else "full"
    return (f"<td class={record['status']}><a href=\"{html.escape(sid)}/{target}\">exercises</a>"
            f" · {html.escape(status)} · seed {record['seed']} · {mode} · "
            f"{record['seconds']:.1f} s</td>")


def _missing_notebook_tools() -> list[str]:
    return [name for name in ("jupytext", "nbformat", "nbclient", "nbconvert", "ipykernel")
            if importlib.util.find_spec(name) is None]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    pass


def _parser(prog: str, sections_dir: Path, known: Mapping[str, Section]) -> argparse.ArgumentParser:
    listing = "\n".join(f"  {s.id:>13}  {s.title}" for s in known.values())
    parser = argparse.ArgumentParser(
        prog=prog, formatter_class=_HelpFormatter,
        description="Execute d2l sections as notebooks into OUT/<id>/ (.ipynb, .html, PNGs,\n"
                    "metrics.json) and write OUT/index.html.",
        epilog=f"sections in {sections_dir}:\n{listing or '  (none found)'}")
    parser.add_argument("sections", nargs="+", metavar="SECTION",
                        help="'list', 'all', 'exercises' (every exercises notebook), or ids "
                             "such as 2.3 3.1 2.3-exercises")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--quick", action="store_true", help="smoke run: less data, fewer epochs")
    parser.add_argument("--seed", type=notebook.seed_argument, default=0,
                        help=f"PRNG seed, 0..{notebook.SEED_MAX}")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="checkpoint every epoch into DIR/<section> and resume from there "
                             "(sections that train with checkpoints)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds one notebook cell may run")
    parser.add_argument("--sections-dir", type=Path, default=sections_dir,
                        help="folder of the section scripts")
    return parser


def cli(argv: Sequence[str] | None = None, *, sections_dir: str | Path = "experiments",
        prog: str = "jaxhw-run") -> int:
    """Run the sections named in `argv`; returns the exit code (1 if any section failed)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--sections-dir", type=Path, default=Path(sections_dir))
    folder = pre.parse_known_args(argv)[0].sections_dir
    known = discover(folder) if folder.is_dir() else {}
    args = _parser(prog, folder, known).parse_args(argv)
    if not known:
        print(f"no section scripts in {folder}: run from the repository root or pass "
              "--sections-dir", file=sys.stderr)
        return 2
    if args.sections == ["list"]:
        for s in known.values():
            print(f"{s.id:>13}  {s.title}  ({s.path})")
        return 0
    wanted = ({"all": list(known), "exercises": [s for s in known if s.endswith(EXERCISES)]}
              .get(" ".join(args.sections), args.sections))
    if unknown := [s for s in wanted if s not in known]:
        print(f"unknown section id(s): {', '.join(unknown)}; valid ids: {', '.join(known)} "
              "(or 'list', 'all', 'exercises')", file=sys.stderr)
        return 2
    if missing := _missing_notebook_tools():
        print(f"running sections as notebooks needs {', '.join(missing)}: "
              "pip install -e '.[notebooks]' (make run installs it)", file=sys.stderr)
        return 2
    failed = []
    for i, sid in enumerate(wanted, 1):
        section = known[sid]
        print(f"[{i}/{len(wanted)}] {sid} {section.title}", flush=True)
        params = {} if args.checkpoint_dir is None else {
            "checkpoint_dir": (args.checkpoint_dir / sid).resolve()}
        record = run_section(section, args.out, quick=args.quick, seed=args.seed,
                             params=params, timeout=args.timeout)
        shown = args.out / sid / (record["html"] or "metrics.json")
        print(f"    {record['status']} in {record['seconds']:.1f} s -> {shown}", flush=True)
        if record["error"]:
            failed.append(sid)
            print(f"    {record['error']}", file=sys.stderr)
    print(f"wrote {write_index(args.out, known)}")
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    """The `jaxhw-run` console script."""
    sys.exit(cli())
