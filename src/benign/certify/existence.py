"""Existence of a strict local minimum next to an approximately critical point with positive horizontal curvature.

A point ``X`` with a small gradient and a positive definite Hessian on the horizontal space ``H_X`` need not have a
critical point near it (next to a fold, where two critical points have merged and vanished, both numbers can be as
small as one likes). :func:`strict_minimum_nearby` proves that one exists, or says that it could not.

The argument (smooth losses, MATH.md §4), on the slice ``X + H_X`` (``H_X = V_X^perp``, :mod:`symmetry`):

1. *Hessian Lipschitz bound.* For ``||Z - X||_F <= rho`` and unit directions ``E``, ``D`` (Frobenius),
   ``|D^3 f(Z)[E, D, D]| <= T(rho)`` with ``T`` below, so the Hessian moves by at most ``T(rho) rho`` (operator norm)
   on the ball, and its compression to ``H_X`` is ``>= mu = lambda - T(rho) rho`` there (``lambda``: the smallest
   eigenvalue of the compression at ``X``, less the curvature tolerance).
2. *An interior minimiser.* ``phi(S) = f(X + S)`` on ``S in H_X`` is ``mu``-strongly convex on the ball; when
   ``gamma = ||grad f(X)||_F < mu rho`` its minimiser over the closed ball is interior (on the sphere
   ``<grad phi(S), S> >= mu rho^2 - gamma rho > 0``, while a minimiser on the sphere has ``grad phi(S) = -nu S``,
   ``nu >= 0``), within ``gamma / mu`` of ``X`` (strong monotonicity: ``mu ||S||^2 <= -<grad phi(0), S>``), and a
   strict local minimiser of ``phi`` with curvature ``>= mu``.
3. *Critical for f.* There ``grad f(Y)`` lies in ``V_X`` (``P_H grad f(Y) = 0``), i.e. ``grad f(Y) = X Omega`` for a
   generator ``Omega`` of the group (off the numerical stabiliser); invariance gives ``<grad f(Y), Y Omega> = 0``,
   while ``<X Omega, Y Omega> >= ||X Omega|| (||X Omega|| - ||(Y - X) Omega||) > 0`` unless ``Omega = 0`` when
   ``rho < sigma_v`` (``sigma_v`` the smallest gain ``||X Omega||_F / ||Omega||_F`` of the generators,
   :func:`slice_limit`; for ``O(r)`` ``rho < sqrt(2) sigma_v`` suffices, a skew ``Omega`` having
   ``||Omega||_2 <= ||Omega||_F / sqrt(2)``: the record's ``slice_limit`` is this bound on ``rho``). So
   ``grad f(Y) = 0``; positive curvature on the slice makes the slice transverse to the orbit at ``Y``, and ``Y`` is
   a strict local minimum of ``f`` modulo the symmetry.

``T(rho)``, with ``R = ||X||_2 + rho``, ``K^2 >= ||A||^2`` (the operator's largest ``||A(M)||^2 / ||M||_F^2``, on
symmetric matrices for the symmetric factorisation, on all matrices otherwise: :func:`operator_norm_squared`),
``tau = ||rho(X)||_inf + K rho (2 ||X||_2 + rho)`` (every residual on the ball lies in ``[-tau, tau]``) and ``c`` the
loss scaling::

    T(rho) = c [ sup|psi'''| (2 K R)^3 + 12 sup|psi''| K^2 R ] + 6 sqrt(2) mu_bal R

(sups over ``|t| <= tau``; the last term is the balancing term ``(mu_bal / 4) ||U^T U - V^T V||_F^2``). It follows from
``D^3 f[E, D, D] = c sum_i psi'''(rho_i) a_E a_D^2 + psi''(rho_i) (2 a_D e_ED + a_E e_DD)`` with
``a_E = A(dM[E])``, ``||a_E|| <= 2 K R``, and ``e_ED = A(d^2 M[E, D])``, ``||e_ED|| <= 2 K`` (both factorisations).
Huber's ``psi''`` jumps at ``|t| = delta``: the bound holds (``psi''' = 0``, ``psi'' <= 1``) only on balls whose
residuals stay on one side of the kink, which the search respects.

The numbers used are conservative: ``lambda`` is the computed smallest horizontal eigenvalue less the curvature
tolerance ``h_abs`` (or less the Ritz residual with the matrix-free method, when that is larger); ``gamma`` the computed gradient norm plus
a rounding allowance (``1e3 eps`` times the gradient's scale: an allowance, not a proven bound on its rounding). With
the matrix-free method ``lambda`` rests on a converged Lanczos Ritz value, an upper bound on the smallest eigenvalue
of the compression: an eigenvalue the Krylov space missed would not be seen (the record's ``lambda_from`` says which
method gave it; the dense method has no such caveat).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from benign._memo import IdentityCache

#: the rank-one and dense operators' exact norm is computed (an eigenproblem) only up to this many matrix entries
EXACT_NORM_MAX_ENTRIES = 20_000_000
#: radii tried, as multiples of ``gamma / lambda`` (the smallest radius the argument can give)
_RADIUS_FACTORS = np.geomspace(1.0 + 1e-9, 1e15, 600)
_NORMS = IdentityCache(16)
EPS = float(np.finfo(float).eps)


def _frobenius_squared(op) -> tuple[float | None, str]:
    """``sum_i ||A_i||_F^2 >= ||A||^2`` (dense and rank-one operators; ``None`` for others)."""
    from benign.operators import DenseSensing, RankOneProjections

    if isinstance(op, RankOneProjections):
        a, c = np.asarray(op.a), np.asarray(op.c)
        return float(np.sum(np.sum(a * a, axis=1) * np.sum(c * c, axis=1))), "Frobenius bound sum ||a_i||^2 ||c_i||^2"
    if isinstance(op, DenseSensing):
        if op.A is not None:
            A = np.asarray(op.A)
            return float(np.sum(A * A)), "Frobenius bound sum_i ||A_i||_F^2"
        P = np.asarray(op.P)  # packed upper triangles: off-diagonal entries count twice
        iu, ju = np.triu_indices(op.shape[0])
        return float(np.sum(P * P, axis=0) @ np.where(iu == ju, 1.0, 2.0)), "Frobenius bound sum_i ||A_i||_F^2"
    return None, f"no bound for a {type(op).__name__} operator"


def operator_norm_squared(op, symmetric: bool, *, exact: bool) -> tuple[float | None, str]:
    """An upper bound on ``||A||^2 = max ||A(M)||^2 / ||M||_F^2`` over symmetric (``symmetric``) or all matrices,
    and how it was obtained; ``(None, reason)`` when none is available.

    ``exact=False``: the cheap bound (the closed form for entry sampling, else the Frobenius norm of the
    operator, ``sum_i ||A_i||_F^2``); ``exact=True``: the largest eigenvalue of the operator's kernel or Gram matrix
    plus its rounding bound (:func:`benign.rip.full_rank_spectrum`), when that eigenproblem fits
    (``EXACT_NORM_MAX_ENTRIES``). Remembered per operator object."""
    from benign.operators import EntrySampling

    d1, d2 = op.shape
    if isinstance(op, EntrySampling) or exact:
        if not isinstance(op, EntrySampling) and op.m * d1 * d2 > EXACT_NORM_MAX_ENTRIES:
            return None, f"m d1 d2 = {op.m * d1 * d2} > {EXACT_NORM_MAX_ENTRIES}: exact operator norm not computed"

        def compute():
            from benign.rip import full_rank_spectrum

            spec = full_rank_spectrum(op, symmetric)
            if not spec["available"]:
                return None, spec["reason"]
            return float(spec["lambda_max"] + spec["rounding"]), f"exact ({spec['method']}) + rounding bound"

        return _NORMS.get(op, ("exact", bool(symmetric)), compute)
    value, how = _NORMS.get(op, "frobenius", lambda: _frobenius_squared(op))
    return (None if value is None else value * (1.0 + 1e-12)), how


def slice_limit(X: np.ndarray, vertical, d1: int | None = None) -> float:
    """``sigma_v``: the smallest ``||G(Omega)||_F / ||Omega||_F`` over the group's generators ``Omega`` off the
    numerical stabiliser, ``G(Omega)`` the vertical vector they generate (``X Omega`` for ``O(r)``;
    ``[U Xi; -V Xi^T]`` for ``GL(r)``, ``U`` the first ``d1`` rows); ``inf`` when the vertical space is trivial. For
    ``O(r)`` with singular values ``s_1 >= ... >= s_r`` of ``X`` (numerical rank ``k``) the gains are
    ``sqrt((s_a^2 + s_b^2) / 2)`` over the kept pairs ``a < b``, ``a <= k``: the least is ``a = min(k, r - 1)``,
    ``b = r``. For ``GL(r)`` they are the singular values of the generators' images, the least kept one."""
    if vertical.dim == 0:
        return math.inf
    X = np.asarray(X, dtype=float)
    r = X.shape[1]
    if vertical.group == "O(r)":
        s = np.zeros(r)
        sv = np.linalg.svd(X, compute_uv=False)
        s[: sv.size] = sv
        a = min(vertical.ranks[0], r - 1) - 1  # 0-based
        return float(math.sqrt(0.5 * (s[a] ** 2 + s[r - 1] ** 2)))
    if d1 is None:
        raise ValueError("the GL(r) slice limit needs d1, the rows of U")
    from benign.certify.symmetry import general_linear_generators

    gains = np.linalg.svd(general_linear_generators(X[:d1], X[d1:]), compute_uv=False)
    return float(gains[vertical.dim - 1])


def _psi_bounds(loss, tau: np.ndarray, deviation: np.ndarray, residuals: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sup |psi''|`` and ``sup |psi'''|`` over ``|t| <= tau`` (per radius), and where the bound holds (Huber: every
    residual stays on its side of the kink: ``deviation``, the bound ``K rho (2 ||X||_2 + rho)`` on how far a residual
    moves on the ball, below its distance to ``+-delta`` less a rounding allowance ``1e3 eps max(|rho_i|, delta)``)."""
    ok = np.ones_like(tau, dtype=bool)
    if loss.name == "l2":
        return np.ones_like(tau), np.zeros_like(tau), ok
    l, lam = loss.l, loss.lam
    if loss.name == "lp":
        return (l - 1) * tau ** (l - 2), (l - 1) * (l - 2) * tau ** (l - 3), ok
    if loss.name == "mixed":
        return 1.0 + lam * (l - 1) * tau ** (l - 2), lam * (l - 1) * (l - 2) * tau ** (l - 3), ok
    if loss.name == "huber":
        return np.ones_like(tau), np.zeros_like(tau), deviation < kink_margin(loss, residuals)
    raise ValueError(f"no third-derivative bound for the {loss.name} loss")


def kink_margin(loss, residuals: np.ndarray) -> float:
    """Huber: ``min_i (| |rho_i| - delta | - 1e3 eps max(|rho_i|, delta))``, how far every residual may move and stay
    on its side of the kink (``inf`` without residuals)."""
    k = loss.huber_delta
    a = np.abs(residuals)
    gaps = np.abs(a - k) - 1e3 * EPS * np.maximum(a, k)
    return float(np.min(gaps)) if residuals.size else math.inf


def _residuals(obj, X: np.ndarray, residuals: np.ndarray | None) -> np.ndarray:
    return np.asarray(obj.residual(X) if residuals is None else residuals, dtype=float)


def _spectral_norm(X: np.ndarray) -> float:
    return float(np.linalg.norm(X, 2)) if X.size else 0.0


def residual_deviation(k2: float, rho, x2: float):
    """``sqrt(k2) rho (2 ||X||_2 + rho)`` (``x2 = ||X||_2``): how far a residual can move on the ball of radius
    ``rho`` about ``X``, ``|A(ZZ^T - XX^T)_i| <= ||A|| ||Z - X||_F (2 ||X||_2 + ||Z - X||_F)``."""
    return math.sqrt(k2) * rho * (2.0 * x2 + rho)


def third_derivative_bound(obj, X: Any, rho: np.ndarray, k2: float, residuals: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """``T(rho)`` of the module docstring for each radius in ``rho`` (given ``k2 >= ||A||^2``), and where it holds
    (everywhere but Huber balls that reach the kink). ``||grad^2 f(Y) - grad^2 f(X)||_2 <= T(rho) ||Y - X||_F`` for
    ``||Y - X||_F <= rho``. ``residuals``: ``rho(X)`` when already computed."""
    X = np.asarray(X, dtype=float)
    rho = np.asarray(rho, dtype=float)
    residuals = _residuals(obj, X, residuals)
    rinf = float(np.max(np.abs(residuals), initial=0.0))
    x2 = _spectral_norm(X)
    c = float(obj.loss.factor(obj.operator.m))
    mu_bal = 0.0 if obj.symmetric else float(obj.balance)
    K = math.sqrt(k2)
    R = x2 + rho
    deviation = residual_deviation(k2, rho, x2)
    tau = rinf + deviation
    p2, p3, valid = _psi_bounds(obj.loss, tau, deviation, residuals)
    T = c * (p3 * (2.0 * K * R) ** 3 + 12.0 * p2 * k2 * R) + 6.0 * math.sqrt(2.0) * mu_bal * R
    return T, valid


def hessian_norm_bound(obj, X: Any, k2: float, residuals: np.ndarray | None = None) -> float:
    """An upper bound on ``||grad^2 f(X)||_2``: ``c (sup|psi''| (2 K ||X||_2)^2 + 2 K ||psi'(rho)||_2)`` from
    ``D^2 f[D, D] = c sum_i psi''(rho_i) a_D^2 + psi'(rho_i) e_DD`` (plus ``(mu_bal / 2) (8 ||X||_2^2 + 2 ||W||_F)``
    for the balancing term, ``W = U^T U - V^T V``). ``residuals``: ``rho(X)`` when already computed."""
    X = np.asarray(X, dtype=float)
    residuals = _residuals(obj, X, residuals)
    x2 = _spectral_norm(X)
    K = math.sqrt(k2)
    p2, _, _ = _psi_bounds(obj.loss, np.array([float(np.max(np.abs(residuals), initial=0.0))]), np.zeros(1),
                           residuals)
    dpsi = float(np.linalg.norm(np.asarray(obj.loss.dpsi(residuals), dtype=float)))
    out = float(obj.loss.factor(obj.operator.m)) * (float(p2[0]) * (2.0 * K * x2) ** 2 + 2.0 * K * dpsi)
    if not obj.symmetric and obj.balance > 0:
        d1 = obj.shape[0]
        W = X[:d1].T @ X[:d1] - X[d1:].T @ X[d1:]
        out += 0.5 * float(obj.balance) * (8.0 * x2 ** 2 + 2.0 * float(np.linalg.norm(W)))
    return out


def strict_minimum_nearby(obj, X: Any, *, lam: float, grad_norm: float, grad_allowance: float,
                          vertical=None, stay_above: float | None = None,
                          multipliers: np.ndarray | None = None) -> dict[str, Any]:
    """Try to prove that a strict local minimum of ``f`` (modulo the symmetry) lies near ``X`` (module docstring).

    ``lam``: a lower bound on the smallest eigenvalue of the Hessian compressed to ``H_X``; ``grad_norm`` and
    ``grad_allowance``: ``||grad f(X)||_F`` and an allowance for its rounding. Returns a JSON-ready record: ``proved``;
    when proved, ``radius`` (the ball used), ``location_radius`` (``gamma / mu``: the minimiser's distance from
    ``X``), ``curvature`` (``mu``, the minimiser's horizontal curvature lower bound), ``lipschitz`` (``T(rho)``);
    ``operator_norm_squared`` with ``operator_norm_method`` when a bound was available, ``slice_limit``, and
    ``reason`` when not proved. The cheap operator bound is tried first, the exact one when that fails. The numbers
    of the side conditions are recorded too: ``kink_margin`` and ``residual_deviation`` (Huber: the residuals move
    less than the margin on the ball), ``stay_above``, ``min_multiplier`` and ``hessian_norm_bound`` (the face
    conditions below).

    For a face of ``X >= 0`` (:mod:`benign.certify.nonneg`): ``lam``, ``grad_norm`` and the ball are those of the
    free coordinates, ``vertical=None`` (no symmetry acts within the face), ``stay_above`` the least free coordinate
    (the minimiser, within ``location_radius``, stays positive) and ``multipliers`` the gradient on the active
    coordinates (it stays positive at the minimiser: ``min multipliers > ||grad^2 f(X)||_2 loc + T loc^2 / 2``, ``loc``
    the location radius, with :func:`hessian_norm_bound`), so the minimiser is a KKT point with strict
    complementarity and a positive
    definite reduced Hessian: a strict local minimum of the constrained problem.
    """
    X = np.asarray(X, dtype=float)
    gamma = float(grad_norm) + float(grad_allowance)
    out: dict[str, Any] = {"proved": False, "lambda_lower": float(lam), "grad_norm_upper": gamma}
    if not lam > 0:
        out["reason"] = "no positive curvature bound"
        return out
    sigma_v = math.inf if vertical is None else slice_limit(X, vertical, obj.shape[0])
    if vertical is not None and vertical.group == "O(r)":
        sigma_v *= math.sqrt(2.0)  # a skew generator: ||Omega||_2 <= ||Omega||_F / sqrt(2)
    out["slice_limit"] = sigma_v if math.isfinite(sigma_v) else None
    base = gamma / lam
    scale = max(_spectral_norm(X), 1.0)
    rho = base * _RADIUS_FACTORS if base > 0 else np.geomspace(1e-300, 1.0, _RADIUS_FACTORS.size) * scale
    rho = rho[rho < sigma_v]
    residuals = _residuals(obj, X, None)
    huber = obj.loss.name == "huber"
    if huber:
        out["kink_margin"] = kink_margin(obj.loss, residuals)
    if stay_above is not None:
        out["stay_above"] = float(stay_above)
    faced = multipliers is not None and np.size(multipliers) > 0
    if faced:
        out["min_multiplier"] = float(np.min(multipliers))
    x2 = _spectral_norm(X)
    tried = None
    for exact in (False, True):
        k2, how = operator_norm_squared(obj.operator, obj.symmetric, exact=exact)
        if k2 is None:
            out.setdefault("reason", how)
            continue
        if k2 == tried:  # the cheap bound was already the exact one (entry sampling): the same test again
            break
        tried = k2
        out["operator_norm_squared"], out["operator_norm_method"] = k2, how
        T, valid = third_derivative_bound(obj, X, rho, k2, residuals)
        mu = lam - T * rho
        good = valid & (mu > 0) & (gamma < mu * rho)
        located = gamma / np.where(mu > 0, mu, np.inf)
        if stay_above is not None:
            good &= located < stay_above
        if faced:
            out["hessian_norm_bound"] = hessian_norm_bound(obj, X, k2, residuals)
            good &= out["min_multiplier"] > out["hessian_norm_bound"] * located + 0.5 * T * located ** 2
        if good.any():
            i = int(np.argmax(good))
            out.update(proved=True, radius=float(rho[i]), location_radius=float(located[i]),
                       curvature=float(mu[i]), lipschitz=float(T[i]))
            if huber:  # the bound on how far a residual moves on the ball (below kink_margin)
                out["residual_deviation"] = residual_deviation(k2, float(rho[i]), x2)
            out.pop("reason", None)
            return out
        below = f" below the slice limit {sigma_v:.3g}" if math.isfinite(sigma_v) else ""
        face = "" if stay_above is None and multipliers is None else (
            ", the minimiser staying in the face and its multipliers positive")
        out["reason"] = (f"no radius{below} works with ||A||^2 <= {k2:.3g} ({how}): the gradient {gamma:.3g} is too "
                         f"large for the curvature {lam:.3g} and the Hessian's variation{face} (a fold or a saddle "
                         f"may be next to X, or X is not converged)")
    return out
