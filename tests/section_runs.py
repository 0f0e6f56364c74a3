"""Section scripts run as plain Python for the tests: several at once, each from an empty folder.

`python experiments/<script>.py --out OUT ...` in a fresh process, with an empty working folder
beside OUT (a script must write nothing outside --out). A test file starts all its sections
together in one module fixture, so that their imports and compiles overlap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments import runner as experiments_runner
from jaxhw.data import fashion_mnist as fm

PNG = b"\x89PNG\r\n\x1a\n"


def have_fashion_mnist() -> bool:
    """Whether the real FashionMNIST is prepared or its IDX files are installed."""
    if all(fm.is_cached(split) for split in fm.SPLITS):
        return True
    try:
        fm.locate_source()
    except fm.FashionMNISTDataError:
        return False
    return True


needs_data = pytest.mark.skipif(not have_fashion_mnist(),
                                reason="FashionMNIST not installed: " + fm.HOW_TO_GET)


class SectionRun:
    """A section's script running in a fresh Python, output in `out`, cwd an empty folder."""

    def __init__(self, sid: str, out: Path, *args: str, data_dir: Path | None = None) -> None:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        if data_dir is not None:
            env["TFDS_DATA_DIR"] = str(data_dir)
        self.out, self.cwd = Path(out), Path(out).parent / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        script = experiments_runner.discover()[sid].path
        self.proc = subprocess.Popen([sys.executable, str(script), "--out", str(out), *args],
                                     cwd=self.cwd, env=env)

    def metrics(self) -> dict[str, Any]:
        """Wait for the script to succeed; its metrics.json."""
        assert self.proc.wait(timeout=900) == 0, f"{self.proc.args} failed"
        assert not list(self.cwd.iterdir()), "the script wrote outside --out"
        return json.loads((self.out / "metrics.json").read_text())

    def finished(self) -> Path:
        """Wait for the script to succeed (see `metrics`); its output folder."""
        self.metrics()
        return self.out

    def stop(self) -> None:
        """Kill the script if it still runs (a failed test must leave no stray process)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def running(started: dict[str, SectionRun]) -> Iterator[dict[str, SectionRun]]:
    """A fixture's body: yield the started runs, then stop any that still run."""
    try:
        yield started
    finally:
        for run in started.values():
            run.stop()


def run_section(sid: str, out: Path, *args: str, data_dir: Path | None = None) -> dict[str, Any]:
    """Run a section's script to its end; its metrics.json."""
    return SectionRun(sid, out, *args, data_dir=data_dir).metrics()


def read_metrics(out: Path) -> dict[str, Any]:
    return json.loads((Path(out) / "metrics.json").read_text())


def pngs(out: Path) -> set[str]:
    """The names of the PNGs in `out`, each checked to be a PNG."""
    names = {p.name for p in Path(out).glob("*.png")}
    for name in names:
        assert (Path(out) / name).read_bytes()[:8] == PNG, name
    return names


def assert_pngs(out: Path, names: Iterable[str]) -> None:
    """Each of `names` is a PNG file in `out`."""
    for name in names:
        path = Path(out) / name
        assert path.is_file() and path.read_bytes()[:8] == PNG, path


def exercise_fixtures(sid: str, real_data: bool = False) -> tuple[Any, Any, Any]:
    """Module fixtures `runs`, `metrics` and `answers` of `sid`'s notebook run with --quick.

    `runs` starts it once per test file ({sid: SectionRun}), with the `real_data_dir` fixture's
    FashionMNIST when `real_data`; `metrics` waits for its metrics.json; `answers` is that
    file's "answers". A test file binds them: `runs, metrics, answers = exercise_fixtures(SID)`.
    """

    @pytest.fixture(scope="module")
    def runs(tmp_path_factory, request):
        data_dir = request.getfixturevalue("real_data_dir") if real_data else None
        base = tmp_path_factory.mktemp("ex" + sid.split("-")[0].replace(".", ""))
        yield from running({sid: SectionRun(sid, base / "out", "--quick", data_dir=data_dir)})

    @pytest.fixture(scope="module")
    def metrics(runs):
        return runs[sid].metrics()

    @pytest.fixture(scope="module")
    def answers(metrics):
        return metrics["answers"]

    return runs, metrics, answers
