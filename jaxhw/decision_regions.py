"""Pictures of 2-D classification (4.3): the points by class, and a classifier's decision regions.

`predict_grid` evaluates a classifier on a grid covering the data; `plot_decision_regions`
colours the plane by the predicted class and draws the points over it, so one sees where a
model puts each class, and how its regions fit the data's shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np
from jax import Array
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D

_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9")


def _check_points(X: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """X as (n, 2) floats and y as (n,) integer labels; ValueError naming the bad one."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n, 2) with n >= 1, got {X.shape}")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be ({X.shape[0]},) integer labels to match X, got shape "
                         f"{y.shape}, dtype {y.dtype}")
    if y.min() < 0 or y.max() >= len(_COLORS):
        raise ValueError(f"y must hold labels in [0, {len(_COLORS)}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return X, y


def predict_grid(predict: Callable[[Array], Array], xlim: tuple[float, float],
                 ylim: tuple[float, float], resolution: int = 200
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid axes xs, ys (resolution,) and the predicted class (resolution, resolution) there.

    predict: points (m, 2) float32 -> scores (m, q); the class is the argmax of the scores.
    classes[i, j] is the class at (xs[j], ys[i]), as matplotlib's `contourf` expects.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    for name, (low, high) in (("xlim", xlim), ("ylim", ylim)):
        if not low < high:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(low, high)}")
    xs = np.linspace(*xlim, resolution, dtype=np.float32)
    ys = np.linspace(*ylim, resolution, dtype=np.float32)
    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    scores = np.asarray(jax.jit(predict)(points))
    if scores.ndim != 2 or scores.shape[0] != points.shape[0]:
        raise ValueError(f"predict must map points (m, 2) to scores (m, q); for m = "
                         f"{points.shape[0]} it gave shape {scores.shape}")
    return xs, ys, scores.argmax(axis=1).reshape(resolution, resolution)


def scatter_classes(X: object, y: object, ax: Axes, class_names: Sequence[str] | None = None,
                    legend: bool = False, size: float = 4.0) -> Axes:
    """Draw points X (n, 2) coloured by label y (n,) on `ax`, with labelled axes.

    legend=True names the classes (`class_names`, default "class k") in a legend right of the
    axes, where it covers no point.
    """
    X, y = _check_points(X, y)
    num_classes = int(y.max()) + 1
    names = list(class_names) if class_names is not None else [
        f"class {k}" for k in range(num_classes)]
    if len(names) < num_classes:
        raise ValueError(f"class_names has {len(names)} names for {num_classes} classes")
    ax.scatter(X[:, 0], X[:, 1], c=[_COLORS[k] for k in y], s=size, linewidths=0)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    if legend:
        handles = [Line2D([], [], marker="o", linestyle="", color=_COLORS[k], label=names[k])
                   for k in range(len(names))]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
    return ax


def plot_decision_regions(predict: Callable[[Array], Array], X: object, y: object,
                          ax: Axes | None = None, class_names: Sequence[str] | None = None,
                          legend: bool = False, resolution: int = 200,
                          margin: float = 0.5) -> Axes:
    """Colour the plane around X (n, 2) by `predict`'s class and draw the points y over it.

    predict: points (m, 2) -> scores (m, q). A region takes the colour of its class's points;
    `class_names` and `legend` as in `scatter_classes`. Returns the axes (a new figure unless
    `ax` is given).
    """
    X, y = _check_points(X, y)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys, classes = predict_grid(predict, (low[0], high[0]), (low[1], high[1]), resolution)
    if classes.max() >= len(_COLORS):
        raise ValueError(f"predict gave class {classes.max()}; decision regions are drawn for "
                         f"at most {len(_COLORS)} classes")
    # One cell per grid point in its class's colour: contour lines through class indices
    # would interpolate between them and draw slivers of a third class along a boundary.
    ax.pcolormesh(xs, ys, classes, cmap=ListedColormap(_COLORS), vmin=-0.5,
                  vmax=len(_COLORS) - 0.5, alpha=0.25, shading="nearest", rasterized=True)
    return scatter_classes(X, y, ax, class_names, legend)
