"""`python -m experiments`: jaxhw.runner over this folder's section notebooks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jaxhw import runner
from jaxhw.runner import Section

SECTIONS_DIR = Path(__file__).parent


def discover() -> dict[str, Section]:
    """The section scripts in experiments/, in book order."""
    return runner.discover(SECTIONS_DIR)


def cli(argv: Sequence[str] | None = None) -> int:
    """`python -m experiments ...`: jaxhw.runner.cli over this folder's sections."""
    return runner.cli(argv, sections_dir=SECTIONS_DIR, prog="python -m experiments")
