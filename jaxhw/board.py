"""Figures: d2l's ProgressBoard, plot and show_images, live in Jupyter and PNG when headless."""

from __future__ import annotations

import collections
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_STYLES = ("-", "--", "-.", ":")
_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (Jupyter, VS Code, Colab): figures can be shown inline.

    Any shell with a kernel counts (Colab's shell subclasses ipykernel's); a terminal IPython
    has none. IPython is only asked if already imported, so plain scripts never load it.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write `fig` to a PNG (folders created), close it, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


class ProgressBoard:
    """Plot data points as they arrive, as d2l's ProgressBoard; fed from the host, never in jit.

    `draw(x, y, label, every_n)` keeps the mean of every `every_n` points of a line. A point
    may hold several values (one per model of a stack, as `fit_many` feeds it): the line is
    their mean, with a band over their range. In a notebook the figure redraws in place;
    headless, `save(path)` (or `path=` at construction, then every draw) writes a PNG. Without
    `ylabel` the y axis is named after the lines ("loss" for train_loss and val_loss); the
    legend sits outside the axes, over no data.
    """

    def __init__(self, xlabel: str | None = None, ylabel: str | None = None,
                 xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
                 xscale: str = "linear", yscale: str = "linear",
                 figsize: tuple[float, float] = (3.5, 2.5), title: str | None = None,
                 path: str | Path | None = None, display: bool | None = None) -> None:
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.xscale, self.yscale, self.figsize, self.title = xscale, yscale, figsize, title
        self.path = Path(path) if path is not None else None
        self.display = in_notebook() if display is None else display
        self._raw: dict[str, list[tuple[float, Any]]] = collections.OrderedDict()
        self.data: dict[str, list[tuple[float, Any]]] = collections.OrderedDict()
        self._fig = None
        self._handle = None

    def draw(self, x: float, y: float | Sequence[float], label: str, every_n: int = 1) -> None:
        """Add point (x, y) to line `label`; every `every_n` points become one plotted mean. `y`
        is a number, or one number per model (drawn as their mean and range)."""
        if every_n < 1:
            raise ValueError(f"every_n must be >= 1, got {every_n}")
        values = np.asarray(y, np.float64)
        if values.ndim > 1:
            raise ValueError(f"y must be a number or one number per model, got shape "
                             f"{values.shape}")
        raw = self._raw.setdefault(label, [])
        line = self.data.setdefault(label, [])
        raw.append((float(x), values))
        if len(raw) < every_n:
            return
        xs, ys = zip(*raw, strict=True)
        mean = np.mean(np.stack(ys), axis=0)
        line.append((float(np.mean(xs)), float(mean) if mean.ndim == 0 else mean))
        raw.clear()
        if self.display or self.path is not None:
            self._render()

    def _render(self) -> Figure:
        if self._fig is None:
            # Not a pyplot figure: a notebook shows it once, where draw() displays it, and not
            # again when pyplot's inline backend flushes its open figures at the end of a cell.
            self._fig = Figure(figsize=self.figsize)
        fig = self._fig
        fig.clf()
        ax = fig.add_subplot()
        for i, (label, points) in enumerate(self.data.items()):
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            ys = np.asarray(ys, np.float64)
            color = _COLORS[i % len(_COLORS)]
            if ys.ndim == 2:  # one value per model: their mean, and a band over their range
                ax.fill_between(xs, ys.min(axis=1), ys.max(axis=1), color=color, alpha=0.2,
                                linewidth=0)
                ys = ys.mean(axis=1)
            ax.plot(xs, ys, linestyle=_STYLES[i % len(_STYLES)], color=color, label=label)
        ax.set_xlabel(self.xlabel or "")
        ax.set_ylabel(self.ylabel or _common_name(self.data))
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.title:
            ax.set_title(self.title)
        if self.data:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        ax.grid(alpha=0.3)
        if self.display:
            from IPython.display import Image, display

            image = Image(data=_png(fig), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.path, dpi=110, bbox_inches="tight")
        return fig

    def save(self, path: str | Path | None = None) -> Path:
        """Render every line now and write the PNG to `path` (or the board's own path)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save() needs a path: pass path= here or to ProgressBoard(...)")
        fig = self._render()
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=110, bbox_inches="tight")
        return target

    def close(self) -> None:
        """Release the matplotlib figure."""
        self._fig = None


def _common_name(lines: Sequence[str]) -> str:
    """A y label from line labels: train_loss, val_loss -> "loss"; + val_acc -> "loss, acc"."""
    names = [label.removeprefix("train_").removeprefix("val_") for label in lines]
    return ", ".join(dict.fromkeys(names))


def plot(X, Y=None, xlabel: str | None = None, ylabel: str | None = None,
         legend: Sequence[str] = (), xlim=None, ylim=None, xscale: str = "linear",
         yscale: str = "linear", fmts: Sequence[str] = ("-", "m--", "g-.", "r:"),
         figsize: tuple[float, float] = (3.5, 2.5), axes=None, title: str | None = None,
         legend_loc: str | None = None):
    """Plot one or more curves as d2l's `plot`: X and Y are arrays or lists of arrays.

    Returns the matplotlib Axes (a new figure unless `axes` is given). The legend goes outside
    the axes, right of them, when they are the figure's only axes (it then covers no data);
    in a grid of axes it takes matplotlib's "best" place, unless `legend_loc` says otherwise.
    """
    def has_one_axis(v):
        return hasattr(v, "ndim") and v.ndim == 1 or isinstance(v, list) and (
            not v or not hasattr(v[0], "__len__"))

    if has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    if axes is None:
        _, axes = plt.subplots(figsize=figsize)
    for x, y, fmt in zip(X, Y, fmts * (len(Y) // len(fmts) + 1), strict=False):
        x, y = np.asarray(x), np.asarray(y)
        if x.size:
            axes.plot(x, y, fmt)
        else:
            axes.plot(y, fmt)
    axes.set_xlabel(xlabel or "")
    axes.set_ylabel(ylabel or "")
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    if xlim:
        axes.set_xlim(xlim)
    if ylim:
        axes.set_ylim(ylim)
    if legend:
        if legend_loc is None and len(axes.figure.axes) == 1:
            axes.legend(legend, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        else:
            axes.legend(legend, loc=legend_loc or "best")
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    return axes


def show_images(imgs, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5):
    """Grid of images as d2l's `show_images`; imgs (n, H, W) or (n, H, W, 1|3). Returns the axes."""
    imgs = np.asarray(imgs)
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        imgs = imgs[..., 0]
    if imgs.ndim not in (3, 4):
        raise ValueError(f"imgs must be (n, H, W) or (n, H, W, C), got shape {imgs.shape}")
    if num_rows < 1 or num_cols < 1:
        raise ValueError(f"num_rows and num_cols must be >= 1, got {num_rows}, {num_cols}")
    if titles is not None and len(titles) < min(len(imgs), num_rows * num_cols):
        raise ValueError(f"titles has {len(titles)} entries for {len(imgs)} images")
    figsize = (num_cols * scale, num_rows * scale * (1.25 if titles else 1.0))
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= len(imgs):
            continue
        ax.imshow(imgs[i], cmap="gray" if imgs.ndim == 3 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return axes
