"""The runner moved to `jaxhw.runner` (console script `jaxhw-run`); this keeps its old names.

The section scripts not yet converted to notebooks end with `run_as_script(SECTION)`, and their
tests call `cli`, `discover` and `run_section` from here: all of it goes once every section is a
notebook (docs/notebooks.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxhw import runner
from jaxhw.notebook import run_info, to_jsonable
from jaxhw.runner import Section

__all__ = ["Section", "cli", "discover", "run_as_script", "run_info", "run_section",
           "to_jsonable"]

SECTIONS_DIR = Path(__file__).parent


def discover() -> dict[str, Section]:
    """The section scripts in experiments/, in book order."""
    return runner.discover(SECTIONS_DIR)


def cli(argv: Sequence[str] | None = None) -> int:
    """`python -m experiments ...`: jaxhw.runner.cli over this folder's sections."""
    return runner.cli(argv, sections_dir=SECTIONS_DIR, prog="python -m experiments")


def run_section(section: Section, out: Path, *, quick: bool, seed: int,
                checkpoint_dir: Path | None = None) -> dict[str, Any]:
    """Run a section not yet converted in this process; its metrics record (see run_legacy)."""
    section_dir = Path(out) / section.id
    section_dir.mkdir(parents=True, exist_ok=True)
    own = None if checkpoint_dir is None else Path(checkpoint_dir) / section.id
    return runner.run_legacy(section, section_dir, quick=quick, seed=seed, checkpoint_dir=own)


def run_as_script(section_id: str) -> None:
    """What an old-style `python experiments/<section>.py` does: run that one section."""
    sys.exit(cli([section_id]))
