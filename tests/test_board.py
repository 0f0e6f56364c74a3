import numpy as np
import pytest

from jaxhw.board import ProgressBoard, plot, save_figure, show_images


def test_every_n_averages_points(tmp_path):
    board = ProgressBoard(path=tmp_path / "b.png")
    for x in range(6):
        board.draw(x, 2.0 * x, "line", every_n=3)
    assert board.data["line"] == [(1.0, 2.0), (4.0, 8.0)]
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    board.close()
    with pytest.raises(ValueError, match="every_n"):
        board.draw(0, 0, "line", every_n=0)


def test_save_needs_a_path():
    board = ProgressBoard()
    board.draw(0, 1, "a")
    with pytest.raises(ValueError, match="needs a path"):
        board.save()
    board.close()


def test_plot_and_show_images(tmp_path):
    x = np.linspace(0, 1, 5)
    ax = plot(x, [x, x**2], legend=["x", "x^2"])
    assert len(ax.lines) == 2
    save_figure(ax.figure, tmp_path / "p.png")
    axes = show_images(np.zeros((3, 4, 4, 1), np.uint8), 1, 4, titles=["a", "b", "c"])
    assert len(axes) == 4 and axes[0].get_title() == "a"
    with pytest.raises(ValueError, match="imgs must be"):
        show_images(np.zeros(4), 1, 1)
