"""Linear programs of the l1 ladder (MATH.md §4): first order, horizontal sharpness and the curved test ``h``.

All three minimise a function of the form ``sum_i lin_i a_i(x) + absw_i |a_i(x)|`` with ``a(x)`` affine, written
as an LP with one auxiliary ``t_i >= |a_i|`` per zero-residual measurement. Every reported bound that a verdict
relies on is recomputed from multipliers ``lambda in [-1, 1]`` (weak duality), not read from a solver's status.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy as np
import scipy.sparse as sp

_BANNER_LOCK = threading.Lock()
_BANNER_DONE = False


def new_highs():
    """A silent ``highspy.Highs()``. HiGHS writes its banner ("Running HiGHS ...") to the C-level stdout when the
    first instance of a process is constructed, before any option can switch output off; that first construction
    runs with file descriptor 1 pointed at the null device, so that ``--json`` output on stdout stays valid JSON."""
    global _BANNER_DONE
    import highspy

    with _BANNER_LOCK:
        if _BANNER_DONE:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 1)
                    h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _BANNER_DONE = True
    h.setOptionValue("output_flag", False)
    return h


def _lp_blocks(Ai: np.ndarray) -> sp.csc_matrix:
    """Rows ``[Ai, -I; Ai, I]`` for ``Ai x - t <= ...`` and ``Ai x + t >= ...``."""
    n0 = Ai.shape[0]
    eye = sp.identity(n0, format="csc")
    A = sp.csc_matrix(Ai)
    return sp.vstack([sp.hstack([A, -eye]), sp.hstack([A, eye])], format="csc")


# ------------------------------------------------------------------------------------------- level 2

def first_order_lp(G: np.ndarray, lin: np.ndarray, absw: np.ndarray) -> dict[str, Any]:
    """``min_{||U||_inf <= 1} f'(X; U)`` with ``f'(X; U) = sum_i lin_i <G_i, U> + absw_i |<G_i, U>|``.

    ``G`` has shape ``(m, N k)`` (row ``i`` is the gradient of ``X -> <A_i, M(X)>``). Solved with
    ``scipy.optimize.linprog(method="highs")``. Returns the value (``<= 0``), the minimiser ``U`` (flat), the
    multipliers ``lambda`` on the zero-residual set (from the LP duals, clipped to ``[-1, 1]``) and the
    ``l1`` norm of the subgradient they define, ``||sum_i (lin_i + absw_i lambda_i) G_i||_1``, which bounds
    ``-value`` from above (weak duality), so ``value`` is certified to lie in ``[-that norm, 0]``.
    """
    from scipy.optimize import linprog

    m, d = G.shape
    I0 = absw > 0
    GI = G[I0]
    n0 = GI.shape[0]
    gS = lin @ G
    cost = np.concatenate([gS, absw[I0]])
    A_ub = _lp_blocks(GI)
    A_ub = sp.vstack([A_ub[:n0], -A_ub[n0:]], format="csc")  # both as <= 0
    bounds = [(-1.0, 1.0)] * d + [(0.0, None)] * n0
    res = linprog(cost, A_ub=A_ub if n0 else None, b_ub=np.zeros(2 * n0) if n0 else None, bounds=bounds,
                  method="highs")
    out: dict[str, Any] = {"status": int(res.status), "message": str(res.message), "size": [int(d), int(n0)]}
    if res.status != 0:
        out.update(value=float("nan"), U=np.zeros(d), lam=np.zeros(n0), dual_bound=float("nan"))
        return out
    U = res.x[:d]
    marg = -np.asarray(res.ineqlin.marginals) if n0 else np.zeros(0)
    alpha, beta = marg[:n0], marg[n0:]
    with np.errstate(invalid="ignore", divide="ignore"):
        lam_raw = np.where(absw[I0] > 0, (alpha - beta) / absw[I0], 0.0)
    # any lambda in the box gives a valid bound; keep the better of the two sign conventions
    best = None
    for lam in (np.clip(lam_raw, -1, 1), np.clip(-lam_raw, -1, 1)):
        g = gS + (absw[I0] * lam) @ GI
        nb = float(np.sum(np.abs(g)))
        if best is None or nb < best[0]:
            best = (nb, lam)
    out.update(value=float(min(res.fun, 0.0)), U=U, lam=best[1], dual_bound=best[0])
    return out


def min_norm_subgradient(G: np.ndarray, lin: np.ndarray, absw: np.ndarray) -> tuple[float, np.ndarray]:
    """The minimal Frobenius-norm element of the subdifferential ``{sum_i (lin_i + absw_i lambda_i) G_i :
    |lambda_i| <= 1}`` (a bounded least-squares problem); returns ``(norm, lambda)``."""
    from scipy.optimize import lsq_linear

    I0 = absw > 0
    gS = lin @ G
    if not I0.any():
        return float(np.linalg.norm(gS)), np.zeros(0)
    A = (G[I0] * absw[I0, None]).T
    res = lsq_linear(A, -gS, bounds=(-1.0, 1.0), method="bvls" if A.shape[1] <= 400 else "trf")
    lam = np.clip(res.x, -1, 1)
    return float(np.linalg.norm(gS + A @ lam)), lam


# ------------------------------------------------------------------------------------------- HiGHS models

class _AbsLP:
    """``min_x  g_S . x + sum_{I0} absw_i t_i  (+ const)`` over ``t_i >= |aI_i . x + p_i|``, box bounds on ``x``.

    Built once with ``highspy`` and re-solved (warm start) after changing row bounds; used for ``h(V)``.
    """

    def __init__(self, aE: np.ndarray, lin: np.ndarray, absw: np.ndarray, lo: float, hi: float):
        import highspy

        self.I0 = absw > 0
        self.aI = aE[self.I0]
        self.w = absw[self.I0]
        self.lin = lin
        self.aE = aE
        self.gS = lin @ aE
        d, n0 = aE.shape[1], self.aI.shape[0]
        self.d, self.n0 = d, n0
        A = _lp_blocks(self.aI)
        h = new_highs()
        lp = highspy.HighsLp()
        lp.num_col_ = d + n0
        lp.num_row_ = 2 * n0
        lp.col_cost_ = np.concatenate([self.gS, self.w])
        lp.col_lower_ = np.concatenate([np.full(d, lo), np.zeros(n0)])
        lp.col_upper_ = np.concatenate([np.full(d, hi), np.full(n0, highspy.kHighsInf)])
        lp.row_lower_ = np.concatenate([np.full(n0, -highspy.kHighsInf), np.zeros(n0)])
        lp.row_upper_ = np.concatenate([np.zeros(n0), np.full(n0, highspy.kHighsInf)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        h.passModel(lp)
        self.h, self.highspy = h, highspy
        self.lo, self.hi = lo, hi

    def set_offset(self, p: np.ndarray) -> None:
        """Set ``p`` (the affine part of ``a``): rows become ``aI x - t <= -p_I0`` and ``aI x + t >= -p_I0``."""
        pI = p[self.I0]
        inf = self.highspy.kHighsInf
        n0 = self.n0
        idx = np.arange(2 * n0, dtype=np.int32)
        lower = np.concatenate([np.full(n0, -inf), -pI])
        upper = np.concatenate([-pI, np.full(n0, inf)])
        self.h.changeRowsBounds(2 * n0, idx, lower, upper)

    def solve(self) -> tuple[str, float, np.ndarray, np.ndarray]:
        """``(status, objective (without constant), x, row duals)``."""
        self.h.run()
        status = self.h.modelStatusToString(self.h.getModelStatus())
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)[: self.d]
        return status, float(self.h.getInfo().objective_function_value), x, np.asarray(sol.row_dual)


def _sharpness_lp(aE: np.ndarray, lin: np.ndarray, absw: np.ndarray) -> dict[str, Any]:
    """Horizontal sharpness in the ``l_inf`` norm of orthonormal E coordinates:
    ``tau_inf = min_{||e||_inf = 1} L(E(e))``, the minimum over the ``2 dE`` faces ``{e_j = s, ||e||_inf <= 1}``
    (``s = +-1``). By LP duality each face value equals
    ``max_{|lambda| <= 1} s g_j(lambda) - sum_{l != j} |g_l(lambda)|`` with
    ``g(lambda) = sum_S lin_i a_i + sum_{I0} absw_i lambda_i a_i``; this dual LP (``n0 + dE`` variables,
    ``2 dE`` rows, only the costs change between faces, so HiGHS re-solves from the previous basis) is what is
    solved, and the bound is recomputed from the returned ``lambda`` (clipped to the box): any such ``lambda`` gives
    a valid lower bound (weak duality), so ``tau_inf_lower`` does not depend on the solver's accuracy.
    Since ``||e||_inf >= ||E||_F / sqrt(dE)``, ``L(E) >= tau_frob ||E||_F`` with
    ``tau_frob = tau_inf_lower / sqrt(dE)``.
    """
    import highspy

    d = aE.shape[1]
    if d == 0:
        return {"tau_inf": float("inf"), "tau_inf_lower": float("inf"), "tau_frob": float("inf"), "dim": 0,
                "faces": 0, "statuses": {}}
    I0 = absw > 0
    w = absw[I0]
    Aw = (aE[I0] * w[:, None]).T  # (d, n0): g(lambda) = gS + Aw lambda
    gS = lin @ aE
    n0 = Aw.shape[1]
    inf = highspy.kHighsInf
    # variables [lambda (n0), z (d)]; rows  z_l - (Aw lambda)_l >= gS_l  and  z_l + (Aw lambda)_l >= -gS_l
    A = sp.vstack([sp.hstack([-sp.csc_matrix(Aw), sp.identity(d)]),
                   sp.hstack([sp.csc_matrix(Aw), sp.identity(d)])], format="csc")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = n0 + d, 2 * d
    model.col_cost_ = np.zeros(n0 + d)
    model.col_lower_ = np.concatenate([-np.ones(n0), np.zeros(d)])
    model.col_upper_ = np.concatenate([np.ones(n0), np.full(d, inf)])
    model.row_lower_ = np.concatenate([gS, -gS])
    model.row_upper_ = np.full(2 * d, inf)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = A.indptr
    model.a_matrix_.index_ = A.indices
    model.a_matrix_.value_ = A.data
    h.passModel(model)
    idx = np.arange(n0 + d, dtype=np.int32)
    vals, lows, lams, statuses = [], [], [], {}
    for j in range(d):
        for s in (1.0, -1.0):
            # minimise  -(s g_j) + sum_{l != j} z_l  ==  -(face value)
            cost = np.concatenate([-s * Aw[j], np.ones(d)])
            cost[n0 + j] = 0.0
            h.changeColsCost(n0 + d, idx, cost)
            h.run()
            status = h.modelStatusToString(h.getModelStatus())
            statuses[status] = statuses.get(status, 0) + 1
            lams.append(np.clip(np.asarray(h.getSolution().col_value)[:n0], -1.0, 1.0))
            vals.append(-(h.getInfo().objective_function_value) + s * gS[j] if status == "Optimal" else np.nan)
    lows = _face_bounds(Aw, gS, np.array(lams), *_faces(d))  # each face's bound by weak duality
    tau_lower = float(np.min(lows))
    return {"tau_inf": float(np.nanmin(vals)) if np.any(np.isfinite(vals)) else float("nan"),
            "tau_inf_lower": tau_lower, "tau_frob": tau_lower / np.sqrt(d), "dim": int(d), "faces": 2 * d,
            "statuses": statuses, "method": "face_lps", **_witnesses(np.array(lams), lows)}


def _witnesses(lams: np.ndarray, bounds: np.ndarray) -> dict[str, list]:
    """The numbers behind ``tau_inf_lower`` (a referee recomputes each face bound from its multipliers):
    ``face_multipliers[2 j + t]`` (in the order of I0) and ``face_bounds[2 j + t]`` for the face ``e_j = +1``
    (``t = 0``) and ``e_j = -1`` (``t = 1``)."""
    return {"face_multipliers": lams.tolist(), "face_bounds": bounds.tolist()}


def _faces(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(faces, signs)``: face ``2 j`` is ``e_j = +1``, face ``2 j + 1`` is ``e_j = -1``."""
    return np.repeat(np.arange(d), 2), np.tile([1.0, -1.0], d)


def _face_bounds(Aw: np.ndarray, gS: np.ndarray, lam: np.ndarray, faces: np.ndarray, signs: np.ndarray):
    """Weak-duality bounds ``s g_j - sum_{l != j} |g_l|`` for multipliers ``lam`` in the box ``[-1, 1]`` (one row
    per face)."""
    g = gS + lam @ Aw.T
    gj = g[np.arange(len(faces)), faces]
    return signs * gj - (np.sum(np.abs(g), axis=1) - np.abs(gj))


def _central_multipliers(Aw: np.ndarray, gS: np.ndarray) -> np.ndarray | None:
    """``argmin ||lambda||_inf`` subject to ``Aw lambda = -gS`` (one LP): the multiplier with the most room in the
    box, from which every face direction can move furthest. ``None`` if the LP fails."""
    from scipy.optimize import linprog

    d, n0 = Aw.shape
    cost = np.zeros(n0 + 1)
    cost[-1] = 1.0
    ones = np.ones((n0, 1))
    eye = sp.identity(n0, format="csc")
    A_ub = sp.vstack([sp.hstack([eye, -ones]), sp.hstack([-eye, -ones])], format="csc")
    A_eq = sp.hstack([sp.csc_matrix(Aw), sp.csc_matrix((d, 1))], format="csc")
    res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(2 * n0), A_eq=A_eq, b_eq=-gS,
                  bounds=[(None, None)] * n0 + [(0, None)], method="highs")
    return res.x[:n0] if res.status == 0 else None


def sharpness(aE: np.ndarray, lin: np.ndarray, absw: np.ndarray, threshold: float | None = 0.0,
              lp_fallback: bool = True) -> dict[str, Any]:
    """Horizontal sharpness ``tau_inf = min_{||e||_inf = 1} L(E(e))`` with a certified lower bound.

    Fast paths before the ``2 dE`` face LPs of :func:`_sharpness_lp`:

    * if the zero-residual measurements do not span the E coordinates (``rank [a_i]_{I0} < dE``), a null vector
      ``v`` gives ``L(+-v) = +-<g_S, v>``, so ``tau_inf <= -|<g_S, v>| / ||v||_inf <= 0`` (reported, no LPs);
    * least-norm multipliers: for each face ``lambda(t) = lambda_0 + t s A^+ e_j`` realises ``g = t s e_j``
      exactly while it stays in the box, for any ``lambda_0`` with ``A lambda_0 = -g_S`` (the least-norm one, then
      if needed the one of least ``l_inf`` norm, an LP); the largest such ``t`` is a valid face bound. If the
      smallest of them (recomputed by weak duality) exceeds ``threshold``, the LPs are skipped
      (``method = "least_norm_multipliers"``; ``tau_inf`` is then ``None``: not computed, ``tau_inf_lower`` is the
      bound);
      ``threshold=None`` always runs the LPs (the exact ``tau_inf``); with ``lp_fallback=False`` a failed fast
      bound is returned as is (``method = "least_norm_failed"``) instead of running them.
    """
    d = aE.shape[1]
    if d == 0:
        return {"tau_inf": float("inf"), "tau_inf_lower": float("inf"), "tau_frob": float("inf"), "dim": 0,
                "faces": 0, "statuses": {}, "method": "empty"}
    I0 = absw > 0
    Aw = (aE[I0] * absw[I0][:, None]).T  # (d, n0)
    gS = lin @ aE
    Ufull, sv, Vt = np.linalg.svd(Aw, full_matrices=False) if Aw.size else (np.eye(d), np.zeros(0), None)
    rank = int(np.sum(sv > 1e-12 * max(sv[0], 1e-300))) if sv.size else 0
    if Aw.size and Ufull.shape[1] < d:  # fewer clean measurements than coordinates
        Ufull = np.linalg.svd(Aw, full_matrices=True)[0]
    if rank < d:
        v = Ufull[:, -1]
        upper = -abs(float(gS @ v)) / float(np.max(np.abs(v)))
        return {"tau_inf": upper, "tau_inf_lower": -np.inf, "tau_frob": -np.inf, "dim": int(d), "faces": 0,
                "statuses": {}, "method": "rank_deficient", "I0_rank": rank, "tau_inf_upper": upper,
                "null_vector": v.tolist()}  # E coordinates with <a_i, v> = 0 on I0: L(-+v) = -|<g_S, v>|
    pinv = (Vt.T / sv) @ Ufull.T  # (n0, d), full row rank here
    faces, signs = _faces(d)
    dirs = (pinv[:, faces] * signs).T  # (2d, n0)

    def face_bounds_from(lam0):
        """``(bounds, multipliers)`` per face from the start ``lam0`` (``-inf`` and NaN when it is not in the box)."""
        if lam0 is None or not np.all(np.abs(lam0) <= 1.0):
            return np.full(2 * d, -np.inf), np.full((2 * d, Aw.shape[1]), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            lim = np.where(dirs > 0, (1.0 - lam0) / dirs, np.where(dirs < 0, (-1.0 - lam0) / dirs, np.inf))
        t = np.min(lim, axis=1)
        lams = np.clip(lam0 + t[:, None] * dirs, -1.0, 1.0)
        return _face_bounds(Aw, gS, lams, faces, signs), lams

    if threshold is not None:
        bounds, lams = face_bounds_from(-pinv @ gS)
        if not np.min(bounds) > threshold:  # per face, the better of two valid bounds
            other, other_lams = face_bounds_from(_central_multipliers(Aw, gS))
            better = other > bounds
            bounds, lams = np.where(better, other, bounds), np.where(better[:, None], other_lams, lams)
        fast = float(np.min(bounds))
        if fast > threshold or not lp_fallback:
            return {"tau_inf": None, "tau_inf_lower": fast, "tau_frob": fast / np.sqrt(d), "dim": int(d),
                    "faces": 0, "statuses": {},
                    "method": "least_norm_multipliers" if fast > threshold else "least_norm_failed",
                    **_witnesses(lams, bounds)}
    return _sharpness_lp(aE, lin, absw)


class CurvedLP:
    """``h(P) = min_e L(E(e) + P)`` for many ``P`` (an LP in the E coordinates ``e``, box ``|e_j| <= bound``).

    ``evaluate(p)`` takes ``p_i = <C_i, P>`` and returns ``{"h", "e", "status", "box_active"}``; at a stationary
    point the box is inactive for moderate ``P`` (``L(E) >= 0``), and it is reported when active.
    """

    def __init__(self, aE: np.ndarray, lin: np.ndarray, absw: np.ndarray, bound: float):
        self.lp = _AbsLP(aE, lin, absw, -bound, bound)
        self.bound = bound

    def evaluate(self, p: np.ndarray) -> dict[str, Any]:
        self.lp.set_offset(p)
        status, val, e, dual = self.lp.solve()
        h = val + float(self.lp.lin @ p)
        active = bool(np.any(np.abs(e) >= self.bound * (1 - 1e-9))) if e.size else False
        return {"h": h, "e": e, "status": status, "box_active": active}
