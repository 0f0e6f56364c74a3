"""jaxhw.decision_regions: a classifier's predictions on a grid, and their picture (4.3)."""

from __future__ import annotations

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from jaxhw.decision_regions import plot_decision_regions, predict_grid, scatter_classes


def _right_half(P):
    """Scores (m, 2): class 1 where x > 0, class 0 elsewhere (argmax takes 0 on the tie)."""
    return jnp.stack([-P[:, 0], P[:, 0]], axis=1)


def _upper_half(P):
    return jnp.stack([-P[:, 1], P[:, 1]], axis=1)


def test_predict_grid_classes_are_rows_by_y_columns_by_x():
    xs, ys, classes = predict_grid(_right_half, (-1.0, 1.0), (-2.0, 2.0), 5)
    np.testing.assert_allclose(xs, [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(ys, [-2, -1, 0, 1, 2])
    assert classes.shape == (5, 5)
    np.testing.assert_array_equal(classes, np.tile([0, 0, 0, 1, 1], (5, 1)))
    _, _, classes = predict_grid(_upper_half, (-1.0, 1.0), (-2.0, 2.0), 5)
    np.testing.assert_array_equal(classes, np.tile([[0], [0], [0], [1], [1]], (1, 5)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"resolution": 1}, "resolution must be an integer >= 2"),
    ({"xlim": (1.0, -1.0)}, "xlim must be"),
    ({"ylim": (0.0, 0.0)}, "ylim must be"),
])
def test_predict_grid_refuses_bad_grids(kwargs, message):
    args = {"xlim": (-1.0, 1.0), "ylim": (-1.0, 1.0), "resolution": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        predict_grid(_right_half, **args)


def test_predict_grid_refuses_a_predict_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"predict must map points \(m, 2\) to scores"):
        predict_grid(lambda P: P[:, 0], (-1.0, 1.0), (-1.0, 1.0), 4)


def test_plot_decision_regions_draws_regions_points_labels_and_legend():
    X = np.array([[-1.0, 0.5], [1.0, -0.5], [0.5, 1.0]], np.float32)
    y = np.array([0, 1, 1])
    ax = plot_decision_regions(_right_half, X, y, class_names=["left", "right"], legend=True,
                               resolution=20)
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    assert np.asarray(meshes[0].get_array()).reshape(20, 20)[:, 0].tolist() == [0] * 20
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["left", "right"]
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1  # right of the axes
    plt.close(ax.figure)


def test_scatter_classes_checks_points_labels_and_names():
    _, ax = plt.subplots()
    X, y = np.zeros((3, 2)), np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        scatter_classes(np.zeros((3, 3)), y, ax)
    with pytest.raises(ValueError, match="y must be"):
        scatter_classes(X, y.astype(float), ax)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 10\)"):
        scatter_classes(X, np.array([0, 1, -1]), ax)
    with pytest.raises(ValueError, match="class_names has 2 names for 3 classes"):
        scatter_classes(X, y, ax, class_names=["a", "b"])
    plt.close(ax.figure)
