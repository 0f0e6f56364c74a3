"""Run the sections as notebooks: execute each script in a kernel, render HTML, write an index.

`jaxhw-run list | all | 2.3 3.1 ... [--out results] [--quick] [--seed N]` from the repository
root, or `python -m experiments ...`. Each section lands in `OUT/<id>/`: the executed
`<id>.ipynb`, `<id>.html`, its PNGs, `metrics.json` (what it computed) and `run.json` (how it
ran: seed, mode, time, status); `OUT/index.html` links them all (`jaxhw.results_index`). The
notebook tools (Jupytext, nbclient, nbconvert, ipykernel) come with the `notebooks` extra.
docs/notebooks.md describes how a section script is laid out.

Nothing stale, mixed or half-written: one runner per OUT (`OUT/.runner.lock`, naming its
holder); run.json and the index are rewritten, atomically, as each section starts and ends;
every file is written atomically, a page that cannot be written fails its section, a run.json
or index that cannot be written stops the run. Ctrl-C and SIGTERM kill the kernel, record the
section as interrupted and end the run with exit status 130 / 143.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib.util
import json
import numbers
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jaxhw import compile_cache, math_html, notebook, results_index
from jaxhw.files import LockBusy, file_lock, write_atomic
from jaxhw.results_index import EXERCISES as EXERCISES
from jaxhw.results_index import book_section as book_section
from jaxhw.results_index import section_key as _section_key

# s<chapter>_<section>_<topic>.py is book section <chapter>.<section>;
# s<chapter>_<section>_exercises.py answers that section's exercises, id
# <chapter>.<section>-exercises; sx_<topic>.py goes beyond the book and its id is <topic>.
_EXERCISES_FILE = re.compile(r"^s(\d+)_(\d+)_exercises$")
_BOOK_FILE = re.compile(r"^s(\d+)_(\d+)_\w+$")
_EXTRA_FILE = re.compile(r"^sx_(\w+)$")
_HEADING = re.compile(r"^# # (.+)$", re.MULTILINE)  # a markdown H1 in Jupytext's percent format
PARAMETERS = ("quick", "seed", "out_dir")  # every parameters cell sets these three
DEFAULT_TIMEOUT = 3600  # seconds one cell may run
LOCK_NAME = ".runner.lock"  # in OUT: one runner per results folder

# nbconvert's lab page without its <script src="https://cdn..."> tags (require.js, MathJax,
# mermaid): the report opens offline and never reaches out to the network. Its last CSS rule
# undoes the lab's `word-break: break-all` on outputs, which broke long lines mid-word.
_OFFLINE_TEMPLATE = """{%- extends "lab/index.html.j2" -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style>.jp-OutputArea-output pre { word-break: normal; overflow-wrap: anywhere; }</style>
{%- endblock html_head_css -%}
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


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the runner: the run stops, with exit status 128 + signal."""

    def __init__(self, signum: int) -> None:
        self.signum, self.signal_name = signum, signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")


class _StopOnSignal:
    """The runner's SIGINT / SIGTERM handler: records the signal, then raises Interrupted.

    Python runs a handler between any two bytecodes, also inside a garbage-collection callback
    or a `__del__`, where a raised exception is printed and dropped; the record stays, and the
    runner looks at it (`_signalled`) before it starts a kernel, after a kernel ends, and
    between sections.
    """

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        raise Interrupted(signum)


def _signalled() -> int | None:
    """The first signal the runner's handler recorded; None if none (or no handler of ours)."""
    handler = signal.getsignal(signal.SIGINT)
    return handler.received[0] if isinstance(handler, _StopOnSignal) and handler.received else None


class ResultsError(Exception):
    """A section's run.json or the index could not be written (a full disk): the run stops."""


def check_timeout(timeout: object) -> int | None:
    """`timeout` as a whole number of seconds >= 1, or None (no limit); else ValueError."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Integral) or timeout < 1:
        raise ValueError("timeout must be a whole number of seconds >= 1, or None for no "
                         f"limit, got {timeout!r}")
    return int(timeout)


def timeout_argument(text: str) -> int | None:
    """argparse `type=` for --timeout: a whole number of seconds >= 1, or "none" (no limit)."""
    if text.strip().lower() == "none":
        return None
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"timeout must be a whole number of seconds >= 1, or 'none' for no limit, got "
            f"{text!r}")
    return int(text)


def _client_class():
    """nbclient's NotebookClient whose SIGINT and SIGTERM stop the run.

    nbclient's own handlers kill the kernel and let the run go on (the section then fails with
    a bare AssertionError and the next one starts); these kill the kernel at once and cancel
    the execution, and `execute` raises Interrupted.
    """
    import asyncio

    from nbclient import NotebookClient

    class StoppableClient(NotebookClient):
        def __init__(self, *args: Any, earlier: Sequence[int] = (), **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.received: list[int] = []  # the signals that stopped it
            self.earlier = earlier  # the runner's own record, still growing as the loop starts

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            # Called right after nbclient installed its handlers: these replace them.
            loop = asyncio.get_running_loop()
            with contextlib.suppress(RuntimeError):  # not the main thread: no signals here
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, self._stop, signum)
            if self.earlier:  # a signal that came while the loop started
                self._stop(self.earlier[0])
            await super().async_start_new_kernel(**kwargs)

        def _stop(self, signum: int) -> None:
            self.received.append(signum)
            self.shutdown_kernel = "immediate"  # kill it: a busy kernel ignores a request
            for pending in asyncio.all_tasks():  # the run and nbclient's pollers of this cell
                pending.cancel()

    return StoppableClient


def execute(nb, cwd: Path, timeout: int | None = DEFAULT_TIMEOUT) -> None:
    """Run every cell of `nb` in a fresh kernel started in `cwd`; outputs go into `nb`.

    Raises nbclient's CellExecutionError at the first cell that raises (its traceback is that
    cell's output), CellTimeoutError after `timeout` seconds in one cell, and Interrupted when
    SIGINT or SIGTERM arrives (the kernel is killed at once).
    """
    if (signum := _signalled()) is not None:
        raise Interrupted(signum)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    ours = handlers[signal.SIGINT]
    client = _client_class()(nb, timeout=check_timeout(timeout),
                             kernel_manager_class=_kernel_manager_class(),
                             resources={"metadata": {"path": str(cwd)}},
                             earlier=ours.received if isinstance(ours, _StopOnSignal) else [])
    try:
        client.execute(env=_kernel_env())
    except BaseException:  # nbclient turns the cancelled cell into DeadKernelError
        if not client.received:
            raise
    finally:  # asyncio leaves SIGTERM at its default (death) once nbclient removes its handler
        if threading.current_thread() is threading.main_thread():
            for signum, handler in handlers.items():
                if handler is not None:
                    signal.signal(signum, handler)
    if (signum := (client.received or [_signalled()])[0]) is not None:
        raise Interrupted(signum)


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
    """Remove what an earlier run left (not run.json, already replaced), so that a failed run
    never shows its predecessor's results."""
    for name in ("metrics.json", f"{sid}.ipynb", f"{sid}.html"):
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


def write_index(out: Path, sections: Mapping[str, Section] | None = None) -> Path:
    """Write `out/index.html` (see `jaxhw.results_index`), listing `sections` not run yet too."""
    return results_index.write_index(out, {sid: s.title for sid, s in (sections or {}).items()})


def _save(record: Mapping[str, Any], out: Path, sections: Mapping[str, Section] | None) -> None:
    """Write the section's run.json, then the index, atomically; ResultsError if either fails."""
    path = out / record["section"] / "run.json"
    try:
        write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
        write_index(out, sections)
    except OSError as err:
        raise ResultsError(f"could not record {record['section']}'s run in {out} "
                           f"({_describe(err)}); free some space or pass another --out") from err


def _write_pages(nb, section: Section, section_dir: Path, record: dict[str, Any]) -> None:
    """Write the executed notebook and its HTML page, each atomically; a failure (a full disk,
    a page nbconvert cannot render) marks the section failed and leaves no partial file."""
    import nbformat

    try:
        write_atomic(section_dir / f"{section.id}.ipynb", nbformat.writes(nb).encode())
        record["notebook"] = f"{section.id}.ipynb"
        page = render_html(nb, f"{section.id} {section.title}", _banner(record))
        write_atomic(section_dir / f"{section.id}.html", page.encode())
        record["html"] = f"{section.id}.html"
    except Exception as err:  # recorded and shown in the index; the other sections still run
        why = f"could not write its notebook and page: {_describe(err)}"
        record.update(status="failed", error=f"{record['error']}; {why}" if record["error"]
                      else why)


def run_section(section: Section, out: Path, *, quick: bool, seed: int,
                params: Mapping[str, Any] | None = None,
                timeout: int | None = DEFAULT_TIMEOUT,
                sections: Mapping[str, Section] | None = None) -> dict[str, Any]:
    """Run one section into `out/<id>/`; return its run.json record.

    The section runs as a notebook in a kernel, with `quick`, `seed`, `out_dir` and `params`
    injected; the executed notebook and its HTML page are written even when a cell fails.
    run.json and `out/index.html` (which lists `sections` too) are rewritten as the section
    starts ("running", before the earlier run's files go) and as it ends (ok, failed or
    interrupted). Raises Interrupted after recording an interrupt, ResultsError when run.json
    or the index cannot be written.
    """
    seed, timeout = notebook.check_seed(seed), check_timeout(timeout)
    out = Path(out)
    section_dir = out / section.id
    record: dict[str, Any] = {
        "section": section.id, "title": section.title, "script": str(section.path),
        "seed": seed, "quick": quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "running", "error": None, "notebook": None, "html": None, "seconds": 0.0,
        "pid": os.getpid(), "host": socket.gethostname()}
    try:
        section_dir.mkdir(parents=True, exist_ok=True)
        _save(record, out, sections)
        _clear(section_dir, section.id)
    except OSError as err:
        raise ResultsError(f"could not prepare {section_dir} ({_describe(err)})") from err
    clock = time.perf_counter()
    try:
        nb = None
        try:
            nb = to_notebook(section, {"quick": quick, "seed": seed,
                                       "out_dir": section_dir.resolve(), **dict(params or {})})
            execute(nb, section_dir, timeout)
            record["status"] = "ok"
        except Exception as err:  # recorded and shown in the index; the other sections still run
            record.update(status="failed", error=_describe(err))
            if nb is None:
                traceback.print_exc()
        record["seconds"] = round(time.perf_counter() - clock, 3)
        if nb is not None:
            _write_pages(nb, section, section_dir, record)
        _save(record, out, sections)
    except Interrupted as stop:
        if record["status"] == "running":  # else it ended before the signal: keep its record
            record.update(status="interrupted", error=f"{stop.signal_name} stopped the run",
                          seconds=round(time.perf_counter() - clock, 3))
        _save(record, out, sections)
        raise
    return record


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
                    "metrics.json) and write OUT/index.html. One runner per OUT at a time;\n"
                    "Ctrl-C or SIGTERM stops the run (exit status 130 / 143).",
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
    parser.add_argument("--timeout", type=timeout_argument, default=DEFAULT_TIMEOUT,
                        help="whole seconds one notebook cell may run, or 'none' for no limit")
    parser.add_argument("--sections-dir", type=Path, default=sections_dir,
                        help="folder of the section scripts")
    return parser


@contextlib.contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """SIGINT and SIGTERM stop the run for the `with` block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    stop = _StopOnSignal()
    before = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def cli(argv: Sequence[str] | None = None, *, sections_dir: str | Path = "experiments",
        prog: str = "jaxhw-run") -> int:
    """Run the sections named in `argv`; returns the exit code: 1 if any section failed, 2 for
    bad arguments or an OUT in use, 130 / 143 when SIGINT / SIGTERM stopped the run."""
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
    command = " ".join([prog, *(sys.argv[1:] if argv is None else argv)])
    holder = (f"the runner pid {os.getpid()} on {socket.gethostname()} since "
              f"{datetime.now(UTC).isoformat(timespec='seconds')} ({command})")
    with contextlib.ExitStack() as held:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            held.enter_context(file_lock(args.out / LOCK_NAME, wait=False, holder=holder))
        except LockBusy as busy:
            print(f"--out {args.out} is in use: {busy}; wait for it to finish, or pass another "
                  "--out", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"cannot use --out {args.out}: {err}", file=sys.stderr)
            return 2
        try:
            with _signals_stop_the_run():
                return _run(wanted, known, args)
        except Interrupted as stop:
            print(f"{stop}: the run stopped; {args.out / 'index.html'} shows what ran",
                  file=sys.stderr)
            return 128 + stop.signum
        except ResultsError as err:
            print(f"stopped: {err}", file=sys.stderr)
            return 1


def _run(wanted: Sequence[str], known: Mapping[str, Section], args: argparse.Namespace) -> int:
    """Run `wanted` one after another into args.out; the exit code."""
    failed = []
    for i, sid in enumerate(wanted, 1):
        if (signum := _signalled()) is not None:  # one whose exception Python dropped
            raise Interrupted(signum)
        section = known[sid]
        print(f"[{i}/{len(wanted)}] {sid} {section.title}", flush=True)
        params = {} if args.checkpoint_dir is None else {
            "checkpoint_dir": (args.checkpoint_dir / sid).resolve()}
        record = run_section(section, args.out, quick=args.quick, seed=args.seed,
                             params=params, timeout=args.timeout, sections=known)
        shown = args.out / sid / (record["html"] or "run.json")
        print(f"    {record['status']} in {record['seconds']:.1f} s -> {shown}", flush=True)
        if record["error"]:
            failed.append(sid)
            print(f"    {record['error']}", file=sys.stderr)
    if (signum := _signalled()) is not None:
        raise Interrupted(signum)
    try:
        print(f"wrote {write_index(args.out, known)}")
    except OSError as err:
        raise ResultsError(f"could not write {args.out / 'index.html'} ({_describe(err)})"
                           ) from err
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    """The `jaxhw-run` console script."""
    sys.exit(cli())
