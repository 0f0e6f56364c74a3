"""jaxhw.notebook: a section's parameters and command line, seeds, figures, metrics.json."""

import json
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxhw import notebook


def test_parameters_cell_values_are_used_in_a_kernel_or_on_import(tmp_path):
    run = notebook.start(quick=True, seed=7, out_dir=tmp_path / "out")
    assert (run.quick, run.seed, run.out_dir) == (True, 7, tmp_path / "out")
    assert run.out_dir.is_dir() and run.params == {}


def test_command_line_overrides_the_parameters_cell(tmp_path):
    run = notebook.start(quick=False, seed=0, out_dir="unused", checkpoint_dir=None,
                         epochs=3, argv=["--quick", "--seed", "5", "--out", str(tmp_path),
                                         "--checkpoint-dir", "ck", "--epochs", "4"])
    assert (run.quick, run.seed, run.out_dir) == (True, 5, tmp_path)
    assert run.params == {"checkpoint_dir": "ck", "epochs": 4}
    run = notebook.start(quick=True, seed=3, out_dir=tmp_path, argv=["--no-quick"])
    assert (run.quick, run.seed) == (False, 3)


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        notebook.start(quick=False, seed=0, out_dir="results/9.9", argv=["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--quick" in text and "--seed" in text and "(default: results/9.9)" in text
    assert "(default: 0)" in text and "(default: False)" in text


@pytest.mark.parametrize("seed", [0, 1, notebook.SEED_MAX])
def test_seeds_jax_keys_hold_are_accepted(seed):
    assert notebook.check_seed(seed) == seed
    assert notebook.check_seed(np.uint32(seed)) == seed


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seeds_that_would_alias_are_refused(seed, tmp_path, capsys):
    # jax.random.key keeps 32 bits: 2**32 would rerun seed 0 and -1 seed 2**32 - 1, and
    # 2**64 ends in an OverflowError deep in JAX's PRNG code.
    with pytest.raises(ValueError, match=r"seed must be in \[0, 4294967295\].*got"):
        notebook.check_seed(seed)
    with pytest.raises(ValueError, match="seed must be in"):
        notebook.start(seed=seed, out_dir=tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        notebook.start(out_dir=tmp_path, argv=["--seed", str(seed)])
    assert exit_info.value.code == 2
    assert "argument --seed: seed must be in [0, 4294967295]" in capsys.readouterr().err


def test_the_aliasing_the_seed_check_prevents_is_real():
    def bits(seed):
        return np.asarray(jax.random.bits(jax.random.key(seed), (4,)))

    np.testing.assert_array_equal(bits(2**32), bits(0))
    np.testing.assert_array_equal(bits(-1), bits(notebook.SEED_MAX))


@pytest.mark.parametrize(("seed", "error"), [(True, TypeError), (1.0, TypeError),
                                             ("3", TypeError)])
def test_seed_must_be_an_integer(seed, error):
    with pytest.raises(error, match="seed must be an integer"):
        notebook.check_seed(seed)


def test_a_seed_that_is_not_a_number_is_a_cli_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        notebook.start(out_dir=tmp_path, argv=["--seed", "abc"])
    assert "seed must be an integer in [0, 4294967295], got 'abc'" in capsys.readouterr().err


def test_quick_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="quick must be True or False, got 'yes'"):
        notebook.start(quick="yes", out_dir=tmp_path)


def test_show_saves_the_png_and_closes_the_figure(tmp_path):
    run = notebook.start(out_dir=tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert run.show(fig, "line.png") is None  # nothing echoed as a notebook cell's value
    assert (tmp_path / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)


def test_save_metrics_records_what_was_run(tmp_path, capsys):
    run = notebook.start(quick=True, seed=11, out_dir=tmp_path)
    run.save_metrics({"loss": np.float32(0.5), "w": np.arange(3), "shape": (2, 3)})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["loss"] == 0.5 and saved["w"] == [0, 1, 2] and saved["shape"] == [2, 3]
    info = saved["_run"]
    assert info["seed"] == 11 and info["quick"] is True and info["jax_version"] == jax.__version__
    assert info["seconds"] >= 0 and info["started"] == run.started.isoformat(timespec="seconds")
    assert f"wrote {tmp_path / 'metrics.json'}" in capsys.readouterr().out
    with pytest.raises(ValueError, match="'_run' key"):
        run.save_metrics({"_run": 1})


def test_to_jsonable():
    got = notebook.to_jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": (1, "x"),
                                "d": float("nan"), "e": Path("p")})
    assert got == {"a": 1.5, "b": [0, 1, 2], "c": [1, "x"], "d": "nan", "e": "p"}
    with pytest.raises(TypeError, match="not JSON"):
        notebook.to_jsonable(object())
