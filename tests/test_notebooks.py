"""Every section script is a notebook; one of them runs end to end through a real kernel."""

import base64
import json
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest

from experiments import runner as experiments_runner
from jaxhw import runner

SECTIONS = experiments_runner.discover()


@pytest.mark.parametrize("sid", list(SECTIONS))
def test_section_script_is_a_notebook_of_top_level_cells(sid):
    """What Jupytext, VS Code and Colab make of the script: cells that each run on their own."""
    section = SECTIONS[sid]
    nb = jupytext.read(section.path, fmt="py:percent")
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        "the first cell is markdown whose heading is the section's title")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        where = f"{section.path.name}, code cell {i}:\n{cell.source[:200]}"
        compile(cell.source, where, "exec")  # an indented cell raises IndentationError here
        assert "__name__" not in cell.source, f"{where}\nin a kernel this cell ends in SystemExit"
        assert "import experiments" not in cell.source and "from experiments" not in (
            cell.source), f"{where}\nin Colab only the jaxhw package exists"
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged parameters"
    assert set(runner.PARAMETERS) <= runner._assigned_names(code[tagged[0]].source)
    assert "notebook.start(" in code[tagged[0] + 1].source, "the next cell calls start()"
    assert "run.save_metrics(" in code[-1].source, "the last cell writes metrics.json"


def test_section_3_1_quick_runs_as_a_notebook_in_a_kernel(tmp_path):
    out = tmp_path / "out"
    assert experiments_runner.cli(["3.1", "--quick", "--seed", "3", "--out", str(out)]) == 0
    folder = out / "3.1"
    nb = nbformat.read(folder / "3.1.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every cell ran"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the figure is shown inline once"
    assert base64.b64decode(images[0].data["image/png"]) == (folder / "normal.png").read_bytes()
    printed = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                      for o in outputs)
    assert " sec'" in printed and "loop / vectorized" in printed

    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n"] == 1000 and metrics["_run"]["seed"] == 3 and metrics["_run"]["quick"]
    assert metrics["loop_s"] > metrics["vectorized_s"] > 0
    np.testing.assert_allclose(metrics["normal_pdf_max"], [0.398942, 0.199471, 0.398942],
                               rtol=1e-5)

    page = (folder / "3.1.html").read_text()
    assert "The normal distribution and squared loss" in page and "0.11298 sec" in page
    assert page.count("data:image/png") >= 1
    record = json.loads((folder / "run.json").read_text())
    assert (record["status"], record["seed"], record["quick"]) == ("ok", 3, True)
    assert 'href="3.1/3.1.html"' in (out / "index.html").read_text()
    assert Path(record["script"]).name == "s3_1_linear_regression.py"
