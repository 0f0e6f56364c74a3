import json

import numpy as np
import pytest

from experiments import runner


def test_discovers_sections_in_book_order():
    ids = list(runner.discover())
    assert {"3.1", "3.2", "3.4"} <= set(ids)
    assert ids == sorted(ids, key=runner._section_key)


def test_unknown_section_exits_2_and_lists_valid_ids(capsys, tmp_path):
    assert runner.cli(["9.9", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown section id(s): 9.9" in err and "3.4" in err


def test_list(capsys):
    assert runner.cli(["list"]) == 0
    assert "3.4" in capsys.readouterr().out


def test_to_jsonable():
    got = runner.to_jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": (1, "x"),
                              "d": float("nan")})
    assert got == {"a": 1.5, "b": [0, 1, 2], "c": [1, "x"], "d": "nan"}
    with pytest.raises(TypeError, match="not JSON"):
        runner.to_jsonable(object())


def test_section_3_4_quick_writes_metrics_figures_and_report(tmp_path):
    assert runner.cli(["3.4", "--out", str(tmp_path), "--quick", "--seed", "1"]) == 0
    metrics = json.loads((tmp_path / "3.4" / "metrics.json").read_text())
    for key in ("w_error", "b_error", "l1_w_error", "l1_b_error", "train_loss", "val_loss"):
        assert key in metrics
    assert len(metrics["w_error"]) == 2 and len(metrics["train_loss"]) == 3
    assert metrics["val_loss"][-1] < metrics["val_loss"][0]
    assert abs(metrics["b_error"]) < 0.35
    assert metrics["_run"]["seed"] == 1 and metrics["_run"]["jax_version"]
    pngs = {p.name for p in (tmp_path / "3.4").glob("*.png")}
    assert pngs == {"loss.png", "l2_vs_l1.png"}
    for name in pngs:
        assert (tmp_path / "3.4" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "## 3.4 Linear regression from scratch" in report
    assert "![3.4 loss](3.4/loss.png)" in report and "jaxlib" in report
    assert (tmp_path / "report.html").exists()


def test_sections_3_1_and_3_2_quick(tmp_path):
    assert runner.cli(["3.1", "3.2", "--out", str(tmp_path), "--quick"]) == 0
    m31 = json.loads((tmp_path / "3.1" / "metrics.json").read_text())
    assert m31["loop_s"] > m31["vectorized_s"] > 0
    np.testing.assert_allclose(m31["normal_pdf_max"], [0.398942, 0.199471, 0.398942], rtol=1e-5)
    assert (tmp_path / "3.1" / "normal.png").exists()
    m32 = json.loads((tmp_path / "3.2" / "metrics.json").read_text())
    assert m32["sin_points"] == 50 and m32["cos_points"] == 10
    assert m32["config_is_frozen"] is True
    assert (tmp_path / "3.2" / "board_sin_cos.png").exists()
