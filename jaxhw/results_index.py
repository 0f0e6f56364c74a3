"""`OUT/index.html`: every section's latest run as its own `run.json` records it, told truly.

Each row shows the run that produced that section's files (status, seed, mode, start time,
seconds), its exercises notebook's run beside it. A section whose runner is at work on it says
"running"; one whose runner stopped before it finished (a kill, an interrupt) says
"interrupted"; one whose recorded notebook or page is gone says which files were lost. The page
is replaced atomically, so a reader sees the previous index or the new one, never half.
"""

from __future__ import annotations

import html
import json
import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jaxhw.files import write_atomic

EXERCISES = "-exercises"  # the suffix of an exercises notebook's id

_STYLE = ("body{font-family:sans-serif;max-width:72em;margin:2em auto}"
          "td,th{padding:.2em .8em;text-align:left;vertical-align:top}"
          ".failed td,td.failed,.interrupted td,td.interrupted,.lost td,td.lost{color:#b00}"
          ".running td,td.running{color:#06c}.not-run td,td.not-run{color:#888}"
          "td:nth-child(6),td:nth-child(7){white-space:nowrap}")  # the time of run, seconds


def book_section(sid: str) -> str:
    """The section an id belongs to: "2.3" for "2.3" and for "2.3-exercises"."""
    return sid.removesuffix(EXERCISES)


def section_key(sid: str) -> tuple:
    """Book order; a section's exercises right after it; sections beyond the book last."""
    base = book_section(sid)
    return (tuple(int(p) if p.isdigit() else math.inf for p in base.split(".")),
            sid.endswith(EXERCISES), sid)


def running_here(record: Mapping[str, Any]) -> bool:
    """Whether `record` is a run this very process is making now."""
    return (record.get("status") == "running" and record.get("pid") == os.getpid()
            and record.get("host") == socket.gethostname())


def shown_status(record: Mapping[str, Any], folder: Path) -> tuple[str, str]:
    """(CSS class, text) of a section's run as the index shows it; `folder` holds its files."""
    if record["status"] == "running":
        if running_here(record):
            return "running", f"running since {record['started']}"
        return "interrupted", "interrupted: its runner stopped before the section finished"
    text = record["status"] + (f": {record['error']}" if record["error"] else "")
    lost = [name for name in (record.get("notebook"), record.get("html"))
            if name and not (folder / name).is_file()]
    if lost:
        return "lost", f"{text}; files lost since: {', '.join(lost)}"
    return record["status"], text


def _link(sid: str, record: Mapping[str, Any], folder: Path, text: str) -> str:
    """`text` linking to the run's page, else to its run.json."""
    page = record.get("html")
    target = page if page and (folder / page).is_file() else "run.json"
    return f'<a href="{html.escape(sid)}/{target}">{html.escape(text)}</a>'


def _seconds(record: Mapping[str, Any]) -> str:
    return "" if record["status"] == "running" else f"{record['seconds']:.1f} s"


def _row(sid: str, title: str, record: Mapping[str, Any] | None, folder: Path,
         exercises: str) -> str:
    if record is None:
        return (f"<tr class=not-run><td>{html.escape(sid)}</td><td>{html.escape(title)}</td>"
                f"<td>not run</td><td></td><td></td><td></td><td></td>{exercises}</tr>")
    css, status = shown_status(record, folder)
    return (f"<tr class={css}><td>{_link(sid, record, folder, sid)}</td>"
            f"<td>{html.escape(record['title'])}</td><td>{html.escape(status)}</td>"
            f"<td>{record['seed']}</td><td>{'quick' if record['quick'] else 'full'}</td>"
            f"<td>{html.escape(record['started'])}</td><td>{_seconds(record)}</td>"
            f"{exercises}</tr>")


def _exercises_cell(sid: str, records: Mapping[str, Any], known: set[str], out: Path) -> str:
    """The index's exercises column for one section: a link with its run, "not run", or empty."""
    if sid not in known:
        return "<td></td>"
    record = records.get(sid)
    if record is None:
        return "<td class=not-run>exercises: not run</td>"
    css, status = shown_status(record, out / sid)
    mode = "quick" if record["quick"] else "full"
    seconds = f" · {_seconds(record)}" if _seconds(record) else ""
    return (f"<td class={css}>{_link(sid, record, out / sid, 'exercises')} · "
            f"{html.escape(status)} · seed {record['seed']} · {mode}{seconds}</td>")


def _records(out: Path) -> dict[str, Any]:
    """Every readable `OUT/<id>/run.json`, by section id."""
    records = {}
    for path in out.glob("*/run.json"):
        try:
            records[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):  # unreadable: shown as not run, and rewritten when run
            continue
    return records


def write_index(out: Path, titles: Mapping[str, str] | None = None) -> Path:
    """Write `out/index.html` (atomically): every section with its status, seed, mode and time
    of run, and beside it its exercises notebook, if any, with the same.

    Each entry comes from that notebook's own run.json, so sections run at different times,
    with different seeds or modes into one folder are each labelled with their own run.
    `titles` (id -> title) adds the sections not run yet.
    """
    out = Path(out)
    records = _records(out)
    titles = dict(titles or {})
    known = set(titles) | set(records)
    rows = []
    for sid in sorted({book_section(s) for s in known}, key=section_key):
        record = records.get(sid)
        exercises = _exercises_cell(f"{sid}{EXERCISES}", records, known, out)
        rows.append(_row(sid, titles.get(sid, sid), record, out / sid, exercises))
    page = (
        f"<!doctype html><meta charset=utf-8><title>jaxhw sections</title><style>{_STYLE}"
        "</style><h1>jaxhw: d2l sections as executed notebooks</h1>"
        "<p>Each row is labelled with the run that produced that section's files; the last "
        "column is the section's exercises notebook, with its own run.</p>"
        "<table><tr><th>section</th><th>title</th><th>status</th><th>seed</th><th>mode</th>"
        f"<th>run at (UTC)</th><th>time</th><th>exercises</th></tr>{''.join(rows)}</table>\n")
    return write_atomic(out / "index.html", page.encode())
