"""What a landscape slice or map can compute honestly, checked without JAX (the CLI checks before anything is built;
:mod:`benign.landscape` applies the same functions)."""
from __future__ import annotations

from typing import Sequence

from benign.errors import check_float, check_int

#: largest ``N r`` for which lambda_min maps are computed (one dense Hessian per grid point)
MAP_MAX = 400
#: most grid points of one slice or map (``len(alphas) * len(betas)``)
MAX_POINTS = 4_000_000


def check_request(loss: str, size: int, points: int, hessian: bool) -> None:
    """What a slice can compute honestly, checked before any work: at most ``MAX_POINTS`` grid points, and
    ``lambda_min`` only for a smooth loss (``loss``: its name; the l1 loss has no Hessian) and ``N r <= MAP_MAX``
    (``size``: ``N r``; 0 when not known yet)."""
    if points > MAX_POINTS:
        raise ValueError(f"the grid has {points:,} points, more than {MAX_POINTS:,}: use fewer grid points "
                         "(CLI: a smaller --grid)")
    if hessian:
        if loss == "l1":
            raise ValueError("the l1 loss has no Hessian (psi(t) = |t| is not twice differentiable): lambda_min is "
                             "defined for smooth losses; pass hessian=False (CLI: --no-hessian) for f alone")
        if size > MAP_MAX:
            raise ValueError(f"lambda_min maps need N*r <= {MAP_MAX} (one dense Hessian per grid point), got "
                             f"{size}; pass hessian=False (CLI: --no-hessian) for f alone")


def check_seed001_settings(lam_values: Sequence[float], n: int, eps: float, grid: int, lo: float, hi: float,
                           labels: dict[str, str] | None = None
                           ) -> tuple[tuple[float, ...], int, float, int, float, float]:
    """The settings of seed 001's landscape figure, checked (``ValueError``/``TypeError`` naming the value as
    ``labels[name]``, default ``name``): ``lam >= 0`` (at least one), ``2 <= n <= MAP_MAX``, ``0 < eps <= 1``,
    ``grid >= 2`` and a range ``lo < hi``."""
    label = (labels or {}).get
    n = check_int(label("n", "n"), n, minimum=2)
    if n > MAP_MAX:  # (check_request's advice, hessian=False, is not an option of this figure)
        raise ValueError(f"seed 001's lambda_min maps need {label('n', 'n')} <= {MAP_MAX} (one dense Hessian per grid "
                         f"point), got {n}")
    eps = check_float(label("eps", "eps"), eps, lo=0.0, hi=1.0, lo_open=True)
    grid = check_int(label("grid", "grid"), grid, minimum=2)
    lo = check_float(label("lo", "lo"), lo)
    hi = check_float(label("hi", "hi"), hi)
    if hi <= lo:
        raise ValueError(f"the range needs lo < hi, got [{lo}, {hi}]")
    lams = tuple(check_float(label("lam", "lam"), v, lo=0.0) for v in lam_values)
    if not lams:
        raise ValueError("lam_values must hold at least one value")
    check_request("mixed", n, grid * grid, True)
    return lams, n, eps, grid, lo, hi
