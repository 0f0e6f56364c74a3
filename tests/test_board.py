import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxhw.board import ProgressBoard, in_notebook, plot, save_figure, show_images


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


def _labels(board):
    ax = board._render().axes[0]
    return ax.get_xlabel(), ax.get_ylabel()


def test_board_y_label_defaults_to_the_lines_names():
    board = ProgressBoard(xlabel="epoch", display=False)
    for name in ("train_loss", "val_loss"):
        board.draw(1, 0.5, name)
    assert _labels(board) == ("epoch", "loss")
    board.draw(1, 0.8, "val_acc")
    assert _labels(board) == ("epoch", "loss, acc")
    assert _labels(ProgressBoard(ylabel="error", display=False)) == ("", "error")


def _legend_inside(ax) -> bool:
    ax.figure.canvas.draw()
    return ax.get_window_extent().contains(*ax.get_legend().get_window_extent().p0)


def test_legends_cover_no_data_in_single_axes_figures():
    board = ProgressBoard(display=False)
    board.draw(0, 1, "train_loss")
    assert not _legend_inside(board._render().axes[0])
    x = np.linspace(0, 1, 5)
    assert not _legend_inside(plot(x, [x, x**2], legend=["x", "x^2"]))
    fig, axes = plt.subplots(1, 2)  # in a grid: matplotlib's best place inside each axes
    assert _legend_inside(plot(x, [x, x**2], legend=["x", "x^2"], axes=axes[0]))
    plt.close(fig)


def test_in_notebook_is_true_for_any_shell_with_a_kernel(monkeypatch):
    import IPython

    class ColabShell:  # Colab's shell class is not named ZMQInteractiveShell, but has a kernel
        kernel = object()

    assert not in_notebook()  # plain pytest: no IPython shell
    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    assert in_notebook()
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("TerminalShell", (), {})())
    assert not in_notebook()


def test_board_displays_in_place_in_a_notebook(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, image):
            shown.append(("update", image))

    def display(image, display_id=False):
        shown.append(("display", image))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    figures = plt.get_fignums()
    board = ProgressBoard(display=True)
    board.draw(0, 1.0, "train_loss")
    board.draw(1, 0.5, "train_loss")
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert shown[-1][1].data[:8] == b"\x89PNG\r\n\x1a\n"
    # Not a pyplot figure, which the inline backend would show again at the end of the cell.
    assert plt.get_fignums() == figures


def test_a_point_of_several_models_draws_their_mean_and_range(tmp_path):
    # fit_many feeds one value per model: the line is their mean, a band their range.
    board = ProgressBoard(display=False)
    for x in range(4):
        board.draw(x, [1.0 + x, 3.0 + x], "val_loss", every_n=2)
    np.testing.assert_array_equal(board.data["val_loss"][0][1], [1.5, 3.5])
    ax = board._render().axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [2.5, 4.5])
    assert len(ax.collections) == 1  # the band
    with pytest.raises(ValueError, match=r"one number per model, got shape \(2, 2\)"):
        board.draw(0, [[1.0, 2.0], [3.0, 4.0]], "val_loss")
    board.close()
