"""Landscape views: 1-D and 2-D slices of ``f`` and of ``lambda_min(nabla^2 f)`` (MATH.md §8).

Slices go through a point ``X`` along directions ``D1`` (and ``D2``): the grid point ``(a, b)`` is
``X + a D1 + b D2``. Values are computed in one jitted, ``vmap``-batched call per grid row (``lax.map`` over rows,
``vmap`` inside). ``lambda_min`` is the smallest eigenvalue of the *full-space* Hessian on ``R^{N x r}`` (no
symmetry quotient, as in seed 001's figure), from the dense Hessian; it is available for ``N r <= MAP_MAX``.

Arrays are indexed ``values[i, j]`` at ``(alphas[i], betas[j])``; in figures ``alpha`` runs along the horizontal
axis. Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot state).

:func:`seed001_landscape` implements seed 001's landscape recipe: the weighted family ``yalcin(n, eps)`` with
``mixed:lam,l=4``; for each ``lam`` the critical point ``V`` comes from gradient descent (step ``0.02``, until
``||grad f|| < 1e-3``) started at ``v_{2k} = 0.5 (-1)^{k mod 3}`` (0-based even indices, 0 elsewhere);
``d = X* - V``, ``d1`` keeps the first ``ceil(n/2)`` coordinates of ``d`` (zeros elsewhere), ``d2 = d - d1``; the map
is ``lambda_min`` on the ``grid x grid`` square ``alpha, beta in [-0.3, 1.25]`` (``(0, 0)`` is ``V``, ``(1, 1)`` is
``X*``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_array, check_bool
from benign.landscape_limits import MAP_MAX, MAX_POINTS, check_request, check_seed001_settings  # noqa: F401
from benign.objective import check_objective


@jax.jit
def _row_values(obj, X, D1, D2, alphas, betas):
    def one(a, b):
        return obj.value(X + a * D1 + b * D2)
    return jax.lax.map(lambda a: jax.vmap(lambda b: one(a, b))(betas), alphas)


@jax.jit
def _row_lmin(obj, X, D1, D2, alphas, betas):
    def one(a, b):
        H = obj.hessian(X + a * D1 + b * D2)
        return jnp.linalg.eigvalsh(H)[0]
    return jax.lax.map(lambda a: jax.vmap(lambda b: one(a, b))(betas), alphas)


def _grid(name: str, values: Any) -> np.ndarray:
    arr = check_array(name, values, ndim=1)
    if arr.size < 1:
        raise ValueError(f"{name} must hold at least one value")
    return arr


def _direction(obj, X, D, name):
    Dj = jnp.asarray(obj._point_array(D, name))  # the point's checks without X >= 0 (a direction has signs)
    if Dj.shape != X.shape:
        raise ValueError(f"{name} must have the point's shape {tuple(X.shape)}, got {tuple(Dj.shape)}")
    return Dj


def grid_points(lo: float, hi: float, count: int) -> np.ndarray:
    """``count`` evenly spaced values from ``lo`` to ``hi``, as ``(lo (count - 1 - i) + hi i) / (count - 1)``: the
    ends exactly, and ``0`` exactly at a grid value within rounding of 0 (``8 eps max(|lo|, |hi|)``: the grid step is
    far larger, so that is the point ``0`` of the range in exact arithmetic; ``numpy.linspace`` and the formula leave
    ~1e-17 there, and the point itself would not be sampled). The ends are first scaled by a power of two (exact),
    so that ends near the largest float do not overflow in the products."""
    i = np.arange(count, dtype=float)
    top = max(abs(lo), abs(hi))
    s = math.ldexp(1.0, math.frexp(top)[1] - 1) if top > 0 and math.isfinite(top) else 1.0  # 2^k <= top
    g = s * (((lo / s) * (count - 1 - i) + (hi / s) * i) / (count - 1))
    g[np.abs(g) <= 8 * np.finfo(float).eps * top] = 0.0
    g[0], g[-1] = lo, hi
    return g


def slice_2d(obj, X: Any, D1: Any, D2: Any, alphas: Any, betas: Any, *, hessian: bool = True) -> dict[str, Any]:
    """``f`` (and ``lambda_min`` if ``hessian``) on the grid ``X + a D1 + b D2``; returns a dict of arrays."""
    check_objective(obj)
    Xj = obj.check_point(X)
    hessian = check_bool("hessian", hessian)
    D1j = _direction(obj, Xj, D1, "D1")
    D2j = _direction(obj, Xj, D2, "D2")
    a = _grid("alphas", alphas)
    b = _grid("betas", betas)
    check_request(obj.loss.name, Xj.size, a.size * b.size, hessian)
    n1, n2 = float(jnp.linalg.norm(D1j)), float(jnp.linalg.norm(D2j))
    if n1 > 0 and n2 > 0 and abs(float(jnp.vdot(D1j, D2j))) >= (1.0 - 1e-12) * n1 * n2:
        raise ValueError("D2 is parallel to D1: the plane X + a D1 + b D2 is a line (give independent directions, or "
                         "use slice_1d)")
    out: dict[str, Any] = {"alphas": a, "betas": b,
                           "f": np.asarray(_row_values(obj, Xj, D1j, D2j, jnp.asarray(a), jnp.asarray(b)))}
    _check_finite(out["f"], "f", a, b)
    if hessian:
        out["lambda_min"] = np.asarray(_row_lmin(obj, Xj, D1j, D2j, jnp.asarray(a), jnp.asarray(b)))
        _check_finite(out["lambda_min"], "lambda_min", a, b)
    return out


def _check_finite(values: np.ndarray, name: str, a: np.ndarray, b: np.ndarray) -> None:
    """A value that overflows float64 is an error naming the first grid point, not an inf or NaN in the result."""
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = (int(k[0]) for k in np.nonzero(bad))
        where = f"alpha = {a[i]:.6g}" + (f", beta = {b[j]:.6g}" if b.size > 1 else "")
        raise ValueError(f"{name} is not finite (float64 overflow) at {int(bad.sum())} of {bad.size} grid points, "
                         f"first at {where}: choose a smaller range, or a point and directions of smaller scale")


def slice_1d(obj, X: Any, D: Any, alphas: Any, *, hessian: bool = True) -> dict[str, Any]:
    """``f`` (and ``lambda_min``) along ``X + a D``; returns ``alphas``, ``f`` (and ``lambda_min``) as 1-D arrays."""
    check_objective(obj)
    Xj = obj.check_point(X)
    hessian = check_bool("hessian", hessian)
    D = _direction(obj, Xj, D, "D")  # named as the caller knows it
    res = slice_2d(obj, Xj, D, jnp.zeros_like(Xj), alphas, [0.0], hessian=hessian)
    out = {"alphas": res["alphas"], "f": res["f"][:, 0]}
    if hessian:
        out["lambda_min"] = res["lambda_min"][:, 0]
    return out


# ------------------------------------------------------------------------------------------ figures


def _figure(width: float, height: float):
    from benign.plots import blank_figure

    return blank_figure(width, height, layout=None)


def plot_slice(result: dict[str, Any], *, title: str | None = None):
    """A figure for :func:`slice_1d` (curves of ``f`` and ``lambda_min``) or :func:`slice_2d` (maps)."""
    two_d = np.ndim(result["f"]) == 2 and len(result.get("betas", [0])) > 1
    keys = [k for k in ("f", "lambda_min") if k in result]
    fig = _figure(5.0 * len(keys), 4.0)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        vals = np.asarray(result[key])
        if two_d:
            a, b = result["alphas"], result["betas"]
            im = ax.imshow(vals.T, origin="lower", aspect="auto", extent=_cell_extent(a, b), cmap="viridis")
            fig.colorbar(im, ax=ax)
            ax.set_xlabel("alpha (D1)")
            ax.set_ylabel("beta (D2)")
        else:
            ax.plot(result["alphas"], np.ravel(vals))
            ax.axhline(0.0, color="0.6", lw=0.8)
            ax.set_xlabel("alpha")
        ax.set_title(key if title is None else f"{title}: {key}")
    fig.tight_layout()
    return fig


def _cell_extent(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """``imshow``'s extent with each cell centred on its grid value (even grids: half a step beyond the ends; an
    axis with one value gets a cell of width 1 around it)."""
    def ends(v):
        step = (v[-1] - v[0]) / (len(v) - 1) if len(v) > 1 else 1.0
        return v[0] - step / 2, v[-1] + step / 2
    return ends(a) + ends(b)


def save_figure(fig, path: str, dpi: int = 120) -> str:
    """Write a figure: PNG through :func:`benign.plots.save`; any other extension (``.pdf``, ``.svg``) as given."""
    import os

    from benign.plots import save

    if os.path.splitext(path)[1].lower() in ("", ".png"):
        return save(fig, path, dpi=dpi)[0]
    from benign.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path


# ------------------------------------------------------------------------------------------ seed 001


@dataclass
class Seed001Landscape:
    """Arrays of seed 001's landscape figure; ``lambda_min[k, i, j]`` at ``lam_values[k]``, ``(alphas[i], betas[j])``."""

    n: int
    eps: float
    lam_values: tuple[float, ...]
    alphas: np.ndarray
    betas: np.ndarray
    lambda_min: np.ndarray
    f: np.ndarray
    critical_points: np.ndarray  # (len(lam), n)
    truth: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    gd_iterations: list[int] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}


def seed001_landscape(lam_values: Sequence[float] = (0.0, 0.5, 5.0), n: int = 21, eps: float = 0.1,
                      grid: int = 32, *, lo: float = -0.3, hi: float = 1.25, step: float = 0.02,
                      gtol: float = 1e-3, certify_points: bool = True) -> Seed001Landscape:
    """Seed 001's landscape recipe (module docstring). With ``certify_points`` the critical point next to each
    GD end point (Newton-polished: the GD end point is only ``1e-3``-stationary) is certified and its verdict
    stored in ``verdicts``; the maps themselves are drawn around the GD end point, as in the source."""
    from benign.certify.published import gradient_descent, sign_pattern_start
    from benign.instances import yalcin
    from benign.losses import make_loss
    from benign.objective import make_objective

    lams, n, eps, grid, lo, hi = check_seed001_settings(lam_values, n, eps, grid, lo, hi)
    inst = yalcin(n, eps)
    z = np.asarray(inst.truth_point)
    v0 = sign_pattern_start(n, "mod3")
    g = grid_points(lo, hi, grid)
    half = -(-n // 2)
    maps, fs, pts, d1s, d2s, its, verdicts = [], [], [], [], [], [], []
    for lam in lams:
        obj = make_objective(inst, make_loss("mixed", lam=lam, l=4))
        V, it = gradient_descent(obj, v0, step=step, gtol=gtol)
        d = z - V
        d1 = d.copy()
        d1[half:] = 0.0
        d2 = d - d1
        res = slice_2d(obj, V, d1, d2, g, g)
        maps.append(res["lambda_min"])
        fs.append(res["f"])
        pts.append(V[:, 0])
        d1s.append(d1[:, 0])
        d2s.append(d2[:, 0])
        its.append(it)
        if certify_points:
            from benign.certify import certify
            from benign.certify.published import newton_polish

            verdicts.append(certify(obj, newton_polish(obj, V)[0], verify=False).verdict)
    return Seed001Landscape(n, float(eps), lams, g, g.copy(), np.stack(maps), np.stack(fs), np.stack(pts), z[:, 0],
                            np.stack(d1s), np.stack(d2s), its, verdicts)


def plot_seed001(result: Seed001Landscape):
    """One ``lambda_min`` map per ``lam`` (shared colour scale; the critical point at (0, 0), the truth at (1, 1))."""
    from benign.plots import blank_figure

    L = len(result.lam_values)
    fig = blank_figure(4.0 * L + 1.0, 4.0)  # constrained layout: the colour bar next to the panels
    axes = fig.subplots(1, L, squeeze=False)[0]
    vmin = float(np.min(result.lambda_min))
    vmax = float(np.max(result.lambda_min))
    a, b = result.alphas, result.betas
    im = None
    for k, ax in enumerate(axes):
        im = ax.imshow(result.lambda_min[k].T, origin="lower", aspect="auto", extent=_cell_extent(a, b),
                       vmin=vmin, vmax=vmax, cmap="viridis")
        if vmin < 0 < vmax:
            ax.contour(a, b, result.lambda_min[k].T, levels=[0.0], colors="w", linewidths=0.8)
        ax.plot([0], [0], "rx", label="critical point")
        ax.plot([1], [1], "w*", label="ground truth")
        ax.set_title(f"lambda = {result.lam_values[k]:g}")
        ax.set_xlabel("alpha (d1)")
        if k == 0:
            ax.set_ylabel("beta (d2)")
            ax.legend(loc="lower right", fontsize=7)
    fig.colorbar(im, ax=list(axes), label="lambda_min(Hessian)")
    fig.suptitle(f"seed 001 landscape: weighted family n = {result.n}, eps = {result.eps:g}")
    return fig
