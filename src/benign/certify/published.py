"""Seed 001's weighted-completion experiment (MATH.md §8): spurious points and the published Hessian table.

The family is :func:`benign.instances.yalcin` (``n``, ``eps``; weight on the residual, plain sum), with the loss
``mixed:lam=lam,l=4``. The spurious point is found as in the source:

1. start from the sign pattern ``x_{2k} = 0.5 (-1)^k`` on the 0-based even coordinates (the 1-based odd
   ones, where ``z`` has its ones), 0 on the others (:func:`sign_pattern_start`; the landscape recipe's
   ``(-1)^{k mod 3}`` pattern is the same for ``n <= 5`` but reaches the ground truth for ``n = 7``);
2. gradient descent with a constant step (``0.02``) until ``||grad f|| < gd_tol`` (the published rule, ``1e-3``);
3. warm start across ``lam``: each ``lam`` (in the order given) starts from the previous end point;
4. optionally (``polish=True``) Newton's method on ``grad f = 0`` from the GD end point, to ``||grad f|| <= 1e-12``
   relative, so that the certificate is evaluated *at* the critical point rather than ``1e-3`` away from it.

``SEED001_TABLE`` holds the 12 published rows ``(n, lam, lmin_spurious, lmax_spurious, lmin_truth, lmax_truth)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_float, check_int

#: seed 001, "Simulation Results" table: n, lambda, lmin(X_hat), lmax(X_hat), lmin(X*), lmax(X*)
SEED001_TABLE: tuple[tuple[int, float, float, float, float, float], ...] = (
    (3, 0.0, 1.821, 3.642, 2.18, 4.36), (3, 0.5, 1.779, 3.855, 2.18, 4.36),
    (3, 5.0, 1.594, 7.422, 2.18, 4.36), (3, 50.0, 1.470, 55.028, 2.18, 4.36),
    (5, 0.0, 0.429, 3.898, 0.54, 4.72), (5, 0.5, 0.421, 4.106, 0.54, 4.72),
    (5, 5.0, 0.385, 9.117, 0.54, 4.72), (5, 50.0, 0.354, 69.816, 0.54, 4.72),
    (7, 0.0, 0.516, 3.642, 0.72, 5.08), (7, 0.5, 0.502, 4.122, 0.72, 5.08),
    (7, 5.0, 0.456, 10.006, 0.72, 5.08), (7, 50.0, 0.433, 75.786, 0.72, 5.08),
)


PATTERNS = ("alternating", "mod3")


def sign_pattern_start(n: int, pattern: str = "alternating", amplitude: float = 0.5) -> np.ndarray:
    """``x_{2k} = amplitude * s_k`` on 0-based even indices, 0 elsewhere; shape ``(n, 1)``.

    ``pattern="alternating"``: ``s_k = (-1)^k`` (the table's start); ``"mod3"``: ``s_k = (-1)^{k mod 3}`` (seed
    001's landscape recipe). They agree for ``n <= 5``; for ``n = 7`` the ``mod3`` start ``(+, -, +, +)`` descends
    to the ground truth, the alternating one to the spurious minimum of the table.
    """
    n = check_int("n", n, minimum=1)
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    x = np.zeros((n, 1))
    k = np.arange(0, (n + 1) // 2)
    x[0::2, 0] = amplitude * (-1.0) ** (k if pattern == "alternating" else k % 3)
    return x


@jax.jit
def _gd(obj, X0, step, gtol, maxiter):
    def cond(state):
        X, g, it = state
        return (jnp.linalg.norm(g) >= gtol) & (it < maxiter)

    def body(state):
        X, g, it = state
        Xn = X - step * g
        return Xn, obj.grad(Xn), it + 1

    return jax.lax.while_loop(cond, body, (X0, obj.grad(X0), 0))


@jax.jit
def _newton(obj, X0, gtol, maxiter):
    def cond(state):
        X, g, it = state
        return (jnp.linalg.norm(g) > gtol) & (it < maxiter)

    def body(state):
        X, g, it = state
        H = obj.hessian(X)
        step = jnp.linalg.lstsq(H, g.reshape(-1))[0].reshape(X.shape)
        Xn = X - step
        return Xn, obj.grad(Xn), it + 1

    return jax.lax.while_loop(cond, body, (X0, obj.grad(X0), 0))


def gradient_descent(obj, X0, *, step: float = 0.02, gtol: float = 1e-3, maxiter: int = 1_000_000
                     ) -> tuple[np.ndarray, int]:
    """Constant-step gradient descent until ``||grad f||_F < gtol`` (jitted ``lax.while_loop``)."""
    step = check_float("step", step, lo=0.0, lo_open=True)
    gtol = check_float("gtol", gtol, lo=0.0, lo_open=True)
    maxiter = check_int("maxiter", maxiter, minimum=1)
    X, g, it = _gd(obj, obj.check_point(X0), step, gtol, maxiter)
    if not bool(jnp.all(jnp.isfinite(X))):
        raise RuntimeError(f"gradient descent diverged with step {step}")
    return np.asarray(X), int(it)


def newton_polish(obj, X0, *, rtol: float = 1e-12, maxiter: int = 30) -> tuple[np.ndarray, int]:
    """Newton's method on ``grad f = 0`` (least-squares steps, dense Hessian; small problems) until
    ``||grad f|| <= rtol * max(1, ||grad f(X0)||)``; converges to the critical point next to ``X0``."""
    X0 = obj.check_point(X0)
    g0 = float(jnp.linalg.norm(obj.grad(X0)))
    X, g, it = _newton(obj, X0, rtol * max(1.0, g0), maxiter)
    return np.asarray(X), int(it)


@dataclass
class SpuriousPoint:
    """A point of the weighted family: the GD end point and (if polished) the critical point next to it."""

    n: int
    eps: float
    lam: float
    point: np.ndarray
    gd_point: np.ndarray
    gd_iterations: int
    newton_iterations: int
    grad_norm: float


def weighted_spurious_path(n: int, eps: float = 0.3, lams: Sequence[float] = (0.0, 0.5, 5.0, 50.0), *,
                           gd_tol: float = 1e-3, step: float = 0.02, polish: bool = True,
                           start: np.ndarray | None = None) -> list[SpuriousPoint]:
    """Spurious points of ``yalcin(n, eps)`` with ``mixed:lam=lam,l=4`` for each ``lam``, warm-started in order
    (module docstring). The GD chain continues from the *GD* end point (not the polished one), as in the source."""
    from benign.instances import yalcin
    from benign.losses import make_loss
    from benign.objective import make_objective

    inst = yalcin(n, eps)
    X = sign_pattern_start(n, "alternating") if start is None else np.asarray(start, dtype=float).reshape(n, 1)
    out = []
    for lam in lams:
        lam = check_float("lam", lam, lo=0.0)
        obj = make_objective(inst, make_loss("mixed", lam=lam, l=4))
        X, it = gradient_descent(obj, X, step=step, gtol=gd_tol)
        P, nit = newton_polish(obj, X) if polish else (X, 0)
        out.append(SpuriousPoint(n, eps, lam, P, X, it, nit, float(jnp.linalg.norm(obj.grad(jnp.asarray(P))))))
    return out


def weighted_spurious_point(n: int, eps: float = 0.3, lam: float = 0.0, **kw) -> np.ndarray:
    """The spurious point for one ``lam``, warm-started through the published ``lam`` values below it
    (``0, 0.5, 5, 50``); keyword arguments as in :func:`weighted_spurious_path`. Returns an ``(n, 1)`` array."""
    lam = check_float("lam", lam, lo=0.0)
    chain = [v for v in (0.0, 0.5, 5.0, 50.0) if v < lam] + [lam]
    return weighted_spurious_path(n, eps, chain, **kw)[-1].point
