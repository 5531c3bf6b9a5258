"""Semidefinite programs of the l1 ladder (MATH.md §4), via CVXPY + Clarabel (imported lazily).

* :func:`multiplier_sdp` (level 5, symmetric): ``max mu`` over multipliers ``lambda in [-1, 1]^{I0}`` with
  ``Y = sum_S lin_i C_i + sum_{I0} absw_i lambda_i C_i`` vanishing on the E subspace (``Y Z = 0``) and
  ``Y_22 >= mu I`` (compression to ``Z^perp``). Its dual is ``min_{P >= 0 on Z^perp, tr P = 1} h(P)``, the
  convex relaxation of level 4, so the PSD constraint's dual matrix is returned as the relaxed ``P``.
  The solver's ``lambda`` is then made exactly feasible (projected onto ``{Y_E = 0}``, clipped to the box, repeated)
  and ``mu`` is recomputed as ``lambda_min(Y_22)``; the residual ``eps = ||Y_E||_2`` is reported.
* :func:`saddle_relaxation` (level 3): ``min L(P)`` over ``P >= 0, tr P = 1`` (symmetric) or ``||P||_* <= 1``
  (asymmetric). A negative value alone proves nothing: its solution seeds the rank-``q`` search.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _solve(prob) -> str:
    import warnings

    import cvxpy as cp

    from benign._sdp import solver_output_to_stderr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "inaccurate" is reported through the status
            with solver_output_to_stderr():
                prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover - solver failure is reported, not raised
        return f"solver_error: {exc}"
    return str(prob.status)


def _exact_multipliers(lam: np.ndarray, lin: np.ndarray, absw: np.ndarray, aE: np.ndarray,
                       iters: int = 50) -> tuple[np.ndarray, float]:
    """Alternate projections onto ``{lambda : g_E(lambda) = 0}`` and the box; returns ``(lambda, ||g_E||_2)``."""
    I0 = absw > 0
    A = (aE[I0] * absw[I0, None]).T  # (dE, n0)
    g0 = lin @ aE
    if A.size == 0:
        return lam, float(np.linalg.norm(g0))
    pinv = np.linalg.pinv(A)
    best = (float(np.linalg.norm(g0 + A @ lam)), lam)
    for _ in range(iters):
        lam = lam - pinv @ (g0 + A @ lam)
        lam = np.clip(lam, -1.0, 1.0)
        res = float(np.linalg.norm(g0 + A @ lam))
        if res < best[0]:
            best = (res, lam)
        if res <= 1e-15 * max(1.0, float(np.abs(A).sum())):
            break
    return best[1], best[0]


def multiplier_sdp(C: np.ndarray, aE: np.ndarray, lin: np.ndarray, absw: np.ndarray, s: int) -> dict[str, Any]:
    """Level 5 for the symmetric case; see the module docstring."""
    import cvxpy as cp

    m, p, _ = C.shape
    I0 = absw > 0
    n0 = int(I0.sum())
    pp = p - s
    C22 = C[:, s:, s:].reshape(m, pp * pp)
    out: dict[str, Any] = {"size": {"multipliers": n0, "equalities": int(aE.shape[1]), "lmi": int(pp)}}
    if pp == 0:
        out.update(status="skipped", reason="Z^perp is trivial (rank n)")
        return out
    lam = cp.Variable(n0)
    mu = cp.Variable()
    wI = absw[I0]
    cons = [lam >= -1, lam <= 1]
    if aE.shape[1]:
        cons.append((lin @ aE) + aE[I0].T @ cp.multiply(wI, lam) == 0)
    Yv = lin @ C22 + C22[I0].T @ cp.multiply(wI, lam)
    Y22 = cp.reshape(Yv, (pp, pp), order="C")
    lmi = 0.5 * (Y22 + Y22.T) - mu * np.eye(pp) >> 0
    cons.append(lmi)
    prob = cp.Problem(cp.Maximize(mu), cons)
    status = _solve(prob)
    out["status"] = status
    if lam.value is None:
        return out
    lam_x, eps = _exact_multipliers(np.asarray(lam.value, dtype=float), lin, absw, aE)
    Y22x = (lin @ C22 + (wI * lam_x) @ C22[I0]).reshape(pp, pp)
    Y22x = 0.5 * (Y22x + Y22x.T)
    mu_x = float(np.linalg.eigvalsh(Y22x)[0])
    P = None if lmi.dual_value is None else 0.5 * (np.asarray(lmi.dual_value) + np.asarray(lmi.dual_value).T)
    out.update(mu_solver=float(prob.value) if prob.value is not None else float("nan"), mu=mu_x, eps=eps,
               lam=lam_x, P=P)
    return out


def saddle_relaxation(C: np.ndarray, lin: np.ndarray, absw: np.ndarray, symmetric: bool) -> dict[str, Any]:
    """Level 3's convex relaxation; see the module docstring. Returns the relaxed value and ``P``."""
    import cvxpy as cp

    m, p1, p2 = C.shape
    I0 = absw > 0
    Cf = C.reshape(m, p1 * p2)
    if symmetric:
        P = cp.Variable((p1, p1), PSD=True)
        norm_con = [cp.trace(P) == 1]
    else:
        P = cp.Variable((p1, p2))
        norm_con = [cp.normNuc(P) <= 1]
    a = Cf @ cp.reshape(P, (p1 * p2,), order="C")
    obj = lin @ a
    cons = list(norm_con)
    if I0.any():
        t = cp.Variable(int(I0.sum()))
        obj = obj + absw[I0] @ t
        aI = Cf[I0] @ cp.reshape(P, (p1 * p2,), order="C")
        cons += [aI <= t, -t <= aI]
    prob = cp.Problem(cp.Minimize(obj), cons)
    status = _solve(prob)
    out: dict[str, Any] = {"status": status, "value": float(prob.value) if prob.value is not None else float("nan")}
    if P.value is not None:
        Pv = np.asarray(P.value, dtype=float)
        out["P"] = 0.5 * (Pv + Pv.T) if symmetric else Pv
    return out
