"""Figures without pyplot: every helper builds a :class:`matplotlib.figure.Figure` on an Agg canvas, so library
code never touches matplotlib's global state (safe in threads, workers and tests).

    fig = curves(x, {"r = 1": p1, "r = 2": p2}, lower={...}, upper={...}, xlabel="m", ylabel="P(success)")
    fig = heatmap(P, x_values=ms, y_values=ranks, xlabel="m", ylabel="search rank", cbar_label="P(success)")
    fig = stacked_bars(["m=20", "m=40"], {"global_min": [0.2, 0.9], "strict_saddle": [0.8, 0.1]})
    save(fig, "out/success.png", pdf=True)   # -> ["out/success.png", "out/success.pdf"]

Conventions: ``heatmap`` takes ``Z[i, j]`` at ``(x_values[j], y_values[i])`` (rows are y, like an image) and
draws cells centred on the given values (non-uniform spacing allowed; categorical axes when the values are not
all numbers). ``curves`` draws optional shaded bands ``[lower, upper]`` (e.g. confidence intervals).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np


def blank_figure(width: float = 6.0, height: float = 4.0, *, layout: str | None = "constrained"):
    """A Figure with an Agg canvas and no axes (no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def new_figure(width: float = 6.0, height: float = 4.0, *, ncols: int = 1, nrows: int = 1):
    """``(fig, axes)``: a constrained-layout Figure with an Agg canvas; ``axes`` is one Axes or an array."""
    fig = blank_figure(width, height)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)


def curves(x: Sequence[Any], series: Mapping[str, Sequence[float]], *, lower: Mapping | None = None,
           upper: Mapping | None = None, xlabel: str = "", ylabel: str = "", title: str = "",
           logx: bool = False, logy: bool = False, ylim: tuple | None = None, legend_title: str | None = None,
           markers: bool = True, ax: Any = None):
    """Line plot of each ``series[label]`` against ``x`` (shared, or a per-series mapping ``x[label]``), with
    optional ``[lower, upper]`` bands; returns the Figure."""
    fig, ax = (ax.figure, ax) if ax is not None else new_figure()
    for i, (label, y) in enumerate(series.items()):
        xs = x[label] if isinstance(x, Mapping) else x
        cat = not _numeric(list(xs))
        pos = np.arange(len(xs)) if cat else np.asarray(xs, dtype=float)
        y = np.asarray(y, dtype=float)
        line, = ax.plot(pos, y, marker="o" if markers else None, ms=3.5, lw=1.5, label=str(label))
        if lower is not None and upper is not None and label in lower and label in upper:
            ax.fill_between(pos, np.asarray(lower[label], float), np.asarray(upper[label], float),
                            color=line.get_color(), alpha=0.18, lw=0)
        if cat:
            ax.set_xticks(pos, [str(v) for v in xs])
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1 or legend_title:
        ax.legend(title=legend_title, fontsize=8, title_fontsize=8)
    return fig


def _edges(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cell edges centred on ``values`` (numeric) or unit cells (categorical); ``(edges, centres, categorical)``."""
    if not _numeric(values) or len(values) < 2:
        c = np.arange(len(values), dtype=float)
        return np.arange(len(values) + 1) - 0.5, c, True
    v = np.asarray(values, dtype=float)
    if np.any(np.diff(v) <= 0):
        c = np.arange(len(values), dtype=float)
        return np.arange(len(values) + 1) - 0.5, c, True
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]]), v, False


def heatmap(Z: Any, x_values: Sequence[Any], y_values: Sequence[Any], *, xlabel: str = "", ylabel: str = "",
            title: str = "", cbar_label: str = "", vmin: float | None = None, vmax: float | None = None,
            cmap: str = "viridis", annotate: bool | None = None, fmt: str = "{:.2f}", contour: float | None = None,
            ax: Any = None):
    """Colour map of ``Z[i, j]`` at ``(x_values[j], y_values[i])``; NaN cells are blank. ``annotate`` writes the
    values in the cells (default: when there are at most 150 cells); ``contour`` draws that level line."""
    Z = np.asarray(Z, dtype=float)
    if Z.shape != (len(y_values), len(x_values)):
        raise ValueError(f"Z must have shape (len(y_values), len(x_values)) = {(len(y_values), len(x_values))}, "
                         f"got {Z.shape}")
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(6.4, 4.4)
    xe, xc, xcat = _edges(list(x_values))
    ye, yc, ycat = _edges(list(y_values))
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(Z), cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    cb = fig.colorbar(mesh, ax=ax)
    if cbar_label:
        cb.set_label(cbar_label)
    for values, centres, cat, set_ticks in ((x_values, xc, xcat, ax.set_xticks), (y_values, yc, ycat, ax.set_yticks)):
        labels = [f"{v:g}" if _numeric([v]) else str(v) for v in values]
        # a tick per cell for categories and for a few short numbers; long numbers (a fine grid's 0.686364) would
        # overlap: matplotlib's own ticks on the numeric axis then
        if cat or (len(values) <= 12 and max(len(t) for t in labels) <= 6):
            set_ticks(centres, labels)
    if annotate is None:
        annotate = Z.size <= 150
    if annotate:
        lo = np.nanmin(Z) if vmin is None else vmin
        hi = np.nanmax(Z) if vmax is None else vmax
        for i, yv in enumerate(yc):
            for j, xv in enumerate(xc):
                if np.isfinite(Z[i, j]):
                    light = (Z[i, j] - lo) < 0.5 * (hi - lo) if hi > lo else True
                    ax.text(xv, yv, fmt.format(Z[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if light else "black")
    if contour is not None and Z.shape[0] > 1 and Z.shape[1] > 1 and np.isfinite(Z).all():
        ax.contour(xc, yc, Z, levels=[contour], colors="red", linewidths=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


def stacked_bars(categories: Sequence[Any], fractions: Mapping[str, Sequence[float]], *, xlabel: str = "",
                 ylabel: str = "fraction", title: str = "", colors: Mapping[str, str] | None = None, ax: Any = None):
    """Stacked bars: for each category ``c``, segments ``fractions[label][c]`` stacked in the mapping's order."""
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(max(6.0, 0.35 * len(categories) + 2), 4.0)
    pos = np.arange(len(categories))
    bottom = np.zeros(len(categories))
    for label, vals in fractions.items():
        vals = np.nan_to_num(np.asarray(vals, dtype=float))
        kw = {"color": colors[label]} if colors and label in colors else {}
        ax.bar(pos, vals, bottom=bottom, label=str(label), width=0.8, **kw)
        bottom += vals
    ax.set_xticks(pos, [str(c) for c in categories], rotation=45 if len(categories) > 8 else 0,
                  ha="right" if len(categories) > 8 else "center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(1.0, float(bottom.max()) if len(bottom) else 1.0))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def save(fig: Any, path: str, *, pdf: bool = False, dpi: int = 150) -> list[str]:
    """Write ``fig`` as PNG at ``path`` (``.png`` appended when missing) and, with ``pdf``, a PDF beside it;
    returns the paths written."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    path = os.fspath(path)
    stem, ext = os.path.splitext(path)
    if ext.lower() != ".png":
        stem, ext = path, ".png"
    from benign.atomic import atomic_path

    out = [stem + ext] + ([stem + ".pdf"] if pdf else [])  # the name given (x.PNG stays x.PNG)
    for target in out:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi)
    return out
