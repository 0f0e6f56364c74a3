"""The Makefile is safe to run with hostile values (issue 22): `make -n` shows what would run.

Before: variables came from the environment and reached the shell unquoted. With OUT=$HOME in
the environment, `make clean` ran `rm -rf .venv /root .pytest_cache`; `make run QUICK=0` ran a
quick run; `SEED='1; echo INJECTED'` reached the shell as a command.
"""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_ENV = {"OUT": str(Path.home()), "SEED": "1; echo INJECTED", "QUICK": "1",
               "SECTIONS": "$(echo INJECTED)", "PYTHON": "echo INJECTED"}


def _make_n(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
            ) -> subprocess.CompletedProcess:
    """`make -n ARGS` (print the commands, run none) in `cwd`; the venv counts as built (`-o`),
    so that a pyproject.toml edited since the last install does not add its commands."""
    return subprocess.run(["make", "-n", "--no-print-directory", "-o", ".venv/.installed",
                           *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)


def _command(output: str, start: str) -> list[str]:
    """The printed command line that starts with `start`, split as the shell splits it."""
    (line,) = [line for line in output.splitlines() if line.startswith(start)]
    return shlex.split(line)


def test_variables_in_the_environment_are_ignored():
    made = _make_n("clean", "run", env=HOSTILE_ENV)
    assert made.returncode == 0, made.stderr
    assert _command(made.stdout, "rm ") == ["rm", "-rf", "--", ".venv", "results",
                                            ".pytest_cache"]
    assert _command(made.stdout, ".venv/bin/python -m experiments") == [
        ".venv/bin/python", "-m", "experiments", "all", "--out", "results"]
    assert "INJECTED" not in made.stdout + made.stderr


DEFAULT = ["all", "--out", "results"]
ODD = "/tmp/it's `date`; x"  # quotes, command substitution, a command separator


@pytest.mark.parametrize(("args", "expected"), [
    (["QUICK=0"], DEFAULT), (["QUICK=no"], DEFAULT), (["QUICK=false"], DEFAULT),
    (["QUICK="], DEFAULT), (["QUICK=1"], [*DEFAULT, "--quick"]),
    (["QUICK=yes"], [*DEFAULT, "--quick"]), (["QUICK=TRUE"], [*DEFAULT, "--quick"]),
    (["SEED=7"], [*DEFAULT, "--seed", "7"]),
    (["SECTIONS=2.3 3.1", f"OUT={ODD}"], ["2.3", "3.1", "--out", ODD]),
])
def test_run_passes_each_value_as_one_quoted_word(args, expected):
    made = _make_n("run", *args)
    assert made.returncode == 0, made.stderr
    assert _command(made.stdout, ".venv/bin/python -m experiments")[3:] == expected


@pytest.mark.parametrize(("args", "message"), [
    (["run", "SEED=1; echo INJECTED"], "SEED=1; echo INJECTED: a seed is a whole number"),
    (["run", "SEED=-1"], "SEED=-1: a seed is a whole number"),
    (["run", "QUICK=banana"], "QUICK=banana: use 1, yes or true for a quick run"),
    (["bench", "QUICK=0 1"], "QUICK=0 1: use 1, yes or true"),
    (["run", "OUT="], "OUT is empty"),
])
def test_bad_values_are_refused_before_anything_runs(args, message):
    made = _make_n(*args)
    assert made.returncode == 2 and message in made.stderr
    assert made.stdout.strip() in ("", "sh tools/ensure-fashion-mnist.sh")


@pytest.mark.parametrize(("out", "why"), [
    (str(Path.home()), "it is not inside this checkout"),
    ("/", "it is not inside this checkout"),
    (".", "it is not inside this checkout"),
    ("results/../..", "it is not inside this checkout"),
    (".git", "it is git's folder"),
    ("jaxhw", "it holds files git tracks"),
    ("a b", "OUT and the checkout's path must be single words"),
])
def test_clean_deletes_out_only_inside_the_checkout(out, why):
    made = _make_n("clean", f"OUT={out}")
    assert made.returncode == 2 and made.stdout == ""
    assert f"make clean: refusing to delete OUT={out}: {why}" in made.stderr
    assert _command(_make_n("clean", "OUT=tmp/results").stdout, "rm ") == [
        "rm", "-rf", "--", ".venv", "tmp/results", ".pytest_cache"]


def test_clean_does_not_follow_a_link_out_of_the_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copyfile(ROOT / "Makefile", checkout / "Makefile")
    (checkout / "results").symlink_to(tmp_path)
    made = _make_n("clean", cwd=checkout)
    assert made.returncode == 2
    assert "refusing to delete OUT=results: it is not inside this checkout" in made.stderr
