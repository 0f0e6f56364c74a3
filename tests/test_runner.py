"""jaxhw.runner and `python -m experiments`: discovery, command line, parameters, the index.

Kernel-free: where a notebook would run, a stand-in for `runner.execute` takes the kernel's
place (tests/test_notebooks.py runs one section through a real kernel).
"""

import fnmatch
import html
import json
import os
import re
import resource
import signal
import sys
import time
import tomllib
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from experiments import runner as experiments_runner
from jaxhw import runner

ROOT = Path(__file__).resolve().parents[1]
cli = experiments_runner.cli


@pytest.fixture
def notebooks_run(monkeypatch):
    """Stand in for the kernel: record each notebook given to `runner.execute`."""
    executed = {}

    def execute(nb, cwd, timeout):
        executed[Path(cwd).name] = nb

    monkeypatch.setattr(runner, "execute", execute)
    return executed


def _index_rows(out: Path) -> dict[str, list[str]]:
    """The index table as {section id: [id, title, status, seed, mode, run at, time]}."""
    page = (out / "index.html").read_text()
    rows = {}
    for row in re.findall(r"<tr class=[\w-]+>(.*?)</tr>", page):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c))
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        rows[cells[0]] = cells
    return rows


def _injected(nb) -> str:
    (cell,) = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    return cell.source


# --------------------------------------------------------------------------- discovery
def test_discovers_sections_in_book_order():
    ids = list(experiments_runner.discover())
    assert {"2.3", "3.1", "3.4", "sweep"} <= set(ids)
    assert ids == sorted(ids, key=runner._section_key) and ids[-1] == "sweep"
    assert experiments_runner.discover()["2.3"].title == "Linear Algebra"


def test_ids_come_from_file_names_and_titles_from_the_first_heading(tmp_path):
    (tmp_path / "s6_1_layers.py").write_text("# %% [markdown]\n# # 6.1 Layers and Modules\n")
    (tmp_path / "s10_2_more.py").write_text("# %%\nx = 1\n")
    (tmp_path / "sx_extra.py").write_text("# %% [markdown]\n# # Beyond the book: more\n")
    (tmp_path / "helpers.py").write_text("")
    found = runner.discover(tmp_path)
    assert list(found) == ["6.1", "10.2", "extra"]
    assert [s.title for s in found.values()] == ["Layers and Modules", "10.2",
                                                 "Beyond the book: more"]


def test_exercises_notebooks_sit_right_after_their_section(tmp_path):
    (tmp_path / "s6_1_layers.py").write_text("# %% [markdown]\n# # 6.1 Layers and Modules\n")
    (tmp_path / "s6_1_exercises.py").write_text(
        "# %% [markdown]\n# # 6.1 Exercises: Layers and Modules\n")
    (tmp_path / "s6_2_params.py").write_text("# %% [markdown]\n# # 6.2 Parameters\n")
    (tmp_path / "sx_extra.py").write_text("")
    found = runner.discover(tmp_path)
    assert list(found) == ["6.1", "6.1-exercises", "6.2", "extra"]
    assert found["6.1-exercises"].title == "Exercises: Layers and Modules"
    assert runner.book_section("6.1-exercises") == "6.1"


def test_two_scripts_for_one_section_are_refused(tmp_path):
    (tmp_path / "s6_1_a.py").write_text("")
    (tmp_path / "s6_1_b.py").write_text("")
    with pytest.raises(ValueError, match="two scripts for section 6.1"):
        runner.discover(tmp_path)


# ------------------------------------------------------------------------ command line
def test_help_lists_the_sections_and_every_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "2.3  Linear Algebra" in text and "sweep" in text
    flat = " ".join(text.split())
    for default in ("(default: results)", "(default: 0)", "(default: False)",
                    "(default: None)", "(default: 3600)"):
        assert default in flat


def test_unknown_section_exits_2_and_lists_valid_ids(capsys, tmp_path):
    assert cli(["9.9", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown section id(s): 9.9" in err and "3.4" in err


def test_list(capsys):
    assert cli(["list"]) == 0
    assert "3.4" in capsys.readouterr().out


def test_no_sections_folder_is_a_clear_error(tmp_path, capsys):
    assert runner.cli(["all"], sections_dir=tmp_path / "missing") == 2
    assert "no section scripts in" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["4294967296", "-1", "18446744073709551616"])
def test_seeds_outside_what_jax_keys_hold_are_refused(seed, tmp_path, capsys):
    # Before: 4294967296 reran seed 0 and -1 seed 4294967295 (recording the seed given), and
    # 2**64 ended in an OverflowError from JAX's PRNG code.
    with pytest.raises(SystemExit) as exit_info:
        cli(["2.3", "--seed", seed, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "argument --seed: seed must be in [0, 4294967295]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_largest_seed_is_run_and_recorded(tmp_path, notebooks_run):
    assert cli(["2.3", "--seed", "4294967295", "--out", str(tmp_path)]) == 0
    assert "seed = 4294967295" in _injected(notebooks_run["2.3"])
    assert json.loads((tmp_path / "2.3" / "run.json").read_text())["seed"] == 4294967295


# ------------------------------------------------------------------------- parameters
def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    section = experiments_runner.discover()["2.3"]
    nb = runner.to_notebook(section, {"quick": True, "seed": 3, "out_dir": tmp_path,
                                      "checkpoint_dir": tmp_path / "ck"})
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = tags.index(["parameters"])
    assert tags[at + 1] == ["injected-parameters"]
    # 2.3 declares no checkpoint_dir, so none is injected.
    assert nb.cells[at + 1].source == (
        f"# Parameters\nquick = True\nseed = 3\nout_dir = {str(tmp_path)!r}")
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize(("text", "message"), [
    ("# %%\nquick = False\n", "needs exactly one cell tagged parameters"),
    ('# %% tags=["parameters"]\nquick = False\n', "must set quick, seed, out_dir; missing seed"),
])
def test_a_script_without_a_proper_parameters_cell_fails_clearly(tmp_path, text, message):
    sections = tmp_path / "sections"
    sections.mkdir()
    (sections / "s9_1_bad.py").write_text("# %% [markdown]\n# # 9.1 Bad\n\n" + text)
    out = tmp_path / "out"
    assert runner.cli(["9.1", "--out", str(out), "--sections-dir", str(sections)]) == 1
    record = json.loads((out / "9.1" / "run.json").read_text())
    assert record["status"] == "failed" and message in record["error"]
    assert _index_rows(out)["9.1"][2].startswith("failed: ValueError")


# ------------------------------------------------------------------------------ index
def test_the_index_labels_each_section_with_its_own_run(tmp_path, notebooks_run):
    # Before: after `3.4 --seed 1` then `4.1 --seed 2 --quick` into one folder, the report's
    # one header said "seed 2, quick mode" over 3.4's seed-1 full-run metrics.
    out = tmp_path / "out"
    assert cli(["2.3", "--seed", "1", "--out", str(out)]) == 0
    assert cli(["3.1", "--seed", "2", "--quick", "--out", str(out)]) == 0
    rows = _index_rows(out)
    assert rows["2.3"][2:5] == ["ok", "1", "full"]
    assert rows["3.1"][2:5] == ["ok", "2", "quick"]
    assert rows["3.4"][2] == "not run"
    assert "seed = 1" in _injected(notebooks_run["2.3"])
    assert "quick = True\nseed = 2" in _injected(notebooks_run["3.1"])
    saved = nbformat.read(out / "2.3" / "2.3.ipynb", as_version=4)
    assert "quick = False\nseed = 1" in _injected(saved)
    page = (out / "2.3" / "2.3.html").read_text()
    assert "seed 1 · full run" in page and "Linear Algebra" in page
    assert not re.search(r"<script[^>]+src=\"https?:", page)  # opens offline
    # Long output lines break between words: our rule comes after the lab's break-all.
    assert page.rindex("word-break: normal") > page.rindex("word-break: break-all")
    record = json.loads((out / "3.1" / "run.json").read_text())
    assert record["seed"] == 2 and record["quick"] is True and record["started"]


def test_the_index_links_each_sections_exercises_beside_it(tmp_path, monkeypatch):
    folder = tmp_path / "sections"
    folder.mkdir()
    for name, heading in [("s6_1_layers", "6.1 Layers"), ("s6_1_exercises", "6.1 Exercises: L"),
                          ("s6_2_params", "6.2 Parameters"),
                          ("s6_2_exercises", "6.2 Exercises: P")]:
        (folder / f"{name}.py").write_text(
            f'# %% [markdown]\n# # {heading}\n\n# %% tags=["parameters"]\nquick = False\n'
            'seed = 0\nout_dir = "r"\n\n# %%\nx = 1\n')
    monkeypatch.setattr(runner, "execute", lambda nb, cwd, timeout: None)
    out = tmp_path / "out"
    argv = ["--sections-dir", str(folder), "--out", str(out)]
    assert runner.cli(["exercises", "--seed", "3", *argv]) == 0
    assert runner.cli(["6.1", *argv]) == 0
    rows = _index_rows(out)
    assert set(rows) == {"6.1", "6.2"}  # one row per book section
    assert rows["6.1"][2] == "ok" and rows["6.2"][2] == "not run"
    assert rows["6.1"][7].startswith("exercises · ok · seed 3 · full")
    assert rows["6.2"][7].startswith("exercises · ok · seed 3")
    page = (out / "index.html").read_text()
    assert 'href="6.1-exercises/6.1-exercises.html"' in page
    assert (out / "6.2-exercises" / "6.2-exercises.html").is_file()


def test_a_failed_section_is_shown_and_does_not_hide_the_others(tmp_path, monkeypatch,
                                                                capsys):
    def execute(nb, cwd, timeout):
        if Path(cwd).name != "2.3":
            return
        cell = next(c for c in nb.cells if c.cell_type == "code" and "x + y" in c.source)
        cell.outputs = [nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["ZeroDivisionError: division by zero"])]
        raise CellExecutionError("ZeroDivisionError: division by zero", "ZeroDivisionError",
                                 "division by zero")

    monkeypatch.setattr(runner, "execute", execute)
    out = tmp_path / "out"
    (out / "2.3").mkdir(parents=True)
    for stale in ("metrics.json", "old.png"):  # an earlier run's results
        (out / "2.3" / stale).write_text("stale")
    assert cli(["2.3", "3.1", "--out", str(out)]) == 1
    rows = _index_rows(out)
    assert rows["2.3"][2] == "failed: ZeroDivisionError: division by zero"
    assert rows["3.1"][2] == "ok"
    assert not (out / "2.3" / "metrics.json").exists() and not (out / "2.3" / "old.png").exists()
    assert "division by zero" in (out / "2.3" / "2.3.html").read_text()
    assert "failed sections: 2.3" in capsys.readouterr().err



# ------------------------------------------------------------------------- packaging
def test_the_wheel_holds_jaxhw_only_and_offers_a_console_script():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatch.fnmatch("jaxhw.data", pattern) for pattern in include)
    assert not any(fnmatch.fnmatch(name, pattern) for pattern in include
                   for name in ("experiments", "experiments.runner"))
    assert config["project"]["scripts"]["jaxhw-run"] == "jaxhw.runner:main"
    assert callable(runner.main)


def test_missing_notebook_tools_are_named_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "_missing_notebook_tools", lambda: ["nbclient"])
    assert cli(["2.3", "--out", str(tmp_path / "out")]) == 2
    assert "needs nbclient: pip install -e '.[notebooks]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------- nothing stale, mixed or half-written (issue 22)
def _tiny_sections(folder: Path, ids=("6.1", "6.1-exercises", "6.2", "6.2-exercises")) -> Path:
    """Section scripts (a parameters cell, one trivial cell) for `ids` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for sid in ids:
        chapter, section = runner.book_section(sid).split(".")
        topic = "exercises" if sid.endswith(runner.EXERCISES) else "topic"
        (folder / f"s{chapter}_{section}_{topic}.py").write_text(
            f'# %% [markdown]\n# # {sid} Title\n\n# %% tags=["parameters"]\nquick = False\n'
            'seed = 0\nout_dir = "r"\n\n# %%\nx = 1\n')
    return folder


@pytest.fixture
def quick_pages(monkeypatch):
    """A one-line page instead of nbconvert's (a second per page), for tests of bookkeeping."""
    monkeypatch.setattr(runner, "render_html", lambda nb, title, banner: f"<p>{banner}</p>")


def _statuses(out: Path) -> dict[str, str]:
    """Each section's and exercises notebook's status as the index shows it, by id."""
    shown = {}
    for sid, cells in _index_rows(out).items():
        shown[sid] = cells[2]
        if cells[7].startswith("exercises: "):  # "exercises: not run"
            shown[f"{sid}-exercises"] = cells[7].removeprefix("exercises: ")
        elif cells[7].startswith("exercises · "):  # "exercises · <status> · seed ..."
            shown[f"{sid}-exercises"] = cells[7].split(" · ")[1]
    return shown


def test_the_index_says_what_is_running_interrupted_or_lost(tmp_path, monkeypatch,
                                                             quick_pages):
    # Before: the index was written only after the last section, while each section's old
    # files went as it started: a runner killed mid-run left "ok" rows linking to deleted pages.
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"
    argv = ["--sections-dir", str(sections), "--out", str(out)]
    monkeypatch.setattr(runner, "execute", lambda nb, cwd, timeout: None)
    assert runner.cli(["all", *argv]) == 0
    (out / "6.2" / "6.2.html").unlink()  # lost since
    (out / "6.2-exercises" / "6.2-exercises.html").unlink()
    dead = json.loads((out / "6.1-exercises" / "run.json").read_text())
    dead.update(status="running", pid=2**31 - 1)  # as a runner killed mid-section leaves it
    (out / "6.1-exercises" / "run.json").write_text(json.dumps(dead))
    seen = {}

    def execute(nb, cwd, timeout):  # what a kill at this moment would leave
        seen["index"] = _statuses(out)
        seen["files"] = sorted(p.name for p in Path(cwd).iterdir())

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.cli(["6.1", *argv]) == 0
    assert seen["index"]["6.1"].startswith("running since ")
    assert seen["files"] == ["run.json"]  # the earlier run's page went after the index said so
    assert seen["index"]["6.1-exercises"] == (
        "interrupted: its runner stopped before the section finished")
    assert seen["index"]["6.2"] == "ok; files lost since: 6.2.html"
    assert seen["index"]["6.2-exercises"] == "ok; files lost since: 6.2-exercises.html"
    assert _statuses(out)["6.1"] == "ok"
    page = (out / "index.html").read_text()
    assert 'href="6.2/run.json"' in page and 'href="6.1/6.1.html"' in page
    assert [p.name for p in out.glob(".*")] == [runner.LOCK_NAME]  # no temporary file left


def test_an_interrupt_is_recorded_and_stops_the_run(tmp_path, monkeypatch, capsys):
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"

    def execute(nb, cwd, timeout):  # as runner.execute raises when SIGINT arrives
        raise runner.Interrupted(2)

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.cli(["all", "--sections-dir", str(sections), "--out", str(out)]) == 130
    record = json.loads((out / "6.1" / "run.json").read_text())
    assert (record["status"], record["error"]) == ("interrupted", "SIGINT stopped the run")
    statuses = _statuses(out)
    assert statuses["6.1"] == "interrupted: SIGINT stopped the run"
    assert statuses["6.1-exercises"] == "not run" and statuses["6.2"] == "not run"
    assert "interrupted by SIGINT: the run stopped" in capsys.readouterr().err


def test_sigterm_while_the_runner_itself_works_stops_the_run(tmp_path, monkeypatch, capsys,
                                                             quick_pages):
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"
    before = signal.getsignal(signal.SIGTERM)

    def execute(nb, cwd, timeout):  # the signal arrives outside any kernel's event loop
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # cut short by the handler

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.cli(["all", "--sections-dir", str(sections), "--out", str(out)]) == 143
    assert signal.getsignal(signal.SIGTERM) is before
    assert _statuses(out)["6.1"] == "interrupted: SIGTERM stopped the run"
    assert _statuses(out)["6.1-exercises"] == "not run"
    assert "interrupted by SIGTERM: the run stopped" in capsys.readouterr().err


class _SignalInDel:
    """Sends a signal from inside `__del__`, where Python prints and drops what a handler
    raises (as in a garbage-collection callback: JAX has one)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        for _ in range(1000):  # the handler runs between these bytecodes
            pass


def test_a_signal_whose_exception_python_dropped_still_stops_the_run(tmp_path, monkeypatch,
                                                                     capsys, quick_pages):
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda what: dropped.append(what.exc_value))

    def execute(nb, cwd, timeout):
        _SignalInDel(signal.SIGTERM)  # finalized at once; the section itself ends normally

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.cli(["all", "--sections-dir", str(sections), "--out", str(out)]) == 143
    assert [type(e) for e in dropped] == [runner.Interrupted]
    statuses = _statuses(out)
    assert statuses["6.1"] == "ok" and statuses["6.1-exercises"] == "not run"
    assert "interrupted by SIGTERM: the run stopped" in capsys.readouterr().err


def test_a_second_runner_on_one_out_is_refused_naming_the_first(tmp_path, monkeypatch,
                                                                 capsys, quick_pages):
    # Before: two runners on one --out mixed their files (one seed's run.json beside the other
    # seed's PNG) and the index named only one of them.
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"
    argv = ["--sections-dir", str(sections), "--out", str(out)]
    second = {}

    def execute(nb, cwd, timeout):
        if not second:
            second["code"] = runner.cli(["6.2", "--seed", "2", *argv])
            second["err"] = capsys.readouterr().err

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.cli(["6.1", "--seed", "1", *argv]) == 0
    assert second["code"] == 2
    assert re.search(rf"--out {re.escape(str(out))} is in use: .* held by the runner pid "
                     rf"{os.getpid()} on .* \(jaxhw-run 6.1 --seed 1 ", second["err"])
    assert not (out / "6.2").exists()
    assert runner.cli(["6.2", "--seed", "2", *argv]) == 0  # free again once the first is done


@pytest.mark.parametrize("value", ["2.5", "nan", "inf", "0", "-1", "1e3", "", "ten"])
def test_a_bad_timeout_is_refused_before_anything_is_deleted(value, tmp_path, capsys,
                                                             notebooks_run):
    # Before: --timeout 2.5 (nan, inf) failed every section with nbclient's TraitError after
    # the earlier results were removed; 0 and -1 silently meant no limit.
    earlier = tmp_path / "out" / "2.3"
    earlier.mkdir(parents=True)
    for name in ("run.json", "2.3.html", "metrics.json"):
        (earlier / name).write_text("an earlier run's")
    with pytest.raises(SystemExit) as exit_info:
        cli(["2.3", "--timeout", value, "--out", str(earlier.parent)])
    assert exit_info.value.code == 2
    assert ("argument --timeout: timeout must be a whole number of seconds >= 1, or 'none' "
            "for no limit") in capsys.readouterr().err
    assert sorted(p.name for p in earlier.iterdir()) == ["2.3.html", "metrics.json", "run.json"]
    assert not notebooks_run


@pytest.mark.parametrize(("value", "expected"), [("7", 7), ("none", None), ("None", None)])
def test_a_timeout_is_whole_seconds_or_none(value, expected, tmp_path, monkeypatch):
    given = []
    monkeypatch.setattr(runner, "execute", lambda nb, cwd, timeout: given.append(timeout))
    monkeypatch.setattr(runner, "render_html", lambda nb, title, banner: "<p>page</p>")
    assert cli(["2.3", "--timeout", value, "--out", str(tmp_path)]) == 0
    assert given == [expected]
    for bad in (2.5, 0, True, float("inf")):
        with pytest.raises(ValueError, match="timeout must be a whole number of seconds"):
            runner.check_timeout(bad)


def _file_size_limit(limit: int | None) -> None:
    """Refuse, as a full disk would, every write that makes a file longer than `limit` bytes
    (None: lift it again). The kernel's EFBIG stands in for ENOSPC."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL if limit is None else signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard if limit is None else limit, hard))


@pytest.mark.parametrize("limit", [100_000, 0])
def test_a_full_disk_fails_the_section_and_the_run_goes_on_or_stops_clearly(
        limit, tmp_path, monkeypatch, capsys):
    # Before: the page, notebook and run.json were written outside the error handling and not
    # atomically: the runner crashed, leaving a truncated .html, and skipped the index.
    sections = _tiny_sections(tmp_path / "sections")
    out = tmp_path / "out"

    def execute(nb, cwd, timeout):  # 100 kB takes run.json and the index, not the page
        _file_size_limit(limit if Path(cwd).name == "6.1" else None)

    monkeypatch.setattr(runner, "execute", execute)
    monkeypatch.setattr(runner, "render_html", lambda nb, title, banner: "x" * 200_000)
    try:
        code = runner.cli(["6.1", "6.2", "--sections-dir", str(sections), "--out", str(out)])
    finally:
        _file_size_limit(None)
    err = capsys.readouterr().err
    assert code == 1
    assert not list(out.rglob(".*.tmp-*")) and not (out / "6.1" / "6.1.html").exists()
    if limit:
        record = json.loads((out / "6.1" / "run.json").read_text())
        assert record["status"] == "failed" and record["html"] is None
        assert record["error"].startswith("could not write its notebook and page: OSError: "
                                          "[Errno 27] File too large")
        assert _statuses(out)["6.2"] == "ok" and "failed sections: 6.1" in err
    else:
        assert "stopped: could not record 6.1's run in" in err and "File too large" in err
        assert "free some space or pass another --out" in err
        assert not (out / "6.2").exists()
