"""Certificates for the nonsmooth l1 loss (robust recovery, seed 002): the ladder of MATH.md §4.

Problem: ``f(X) = F(M(X))`` with ``F(M) = c ||A(M) - b||_1`` (``c = 1`` for ``scale=sum``, ``1/m`` for
``scale=mean``), ``M = X X^T`` (symmetric) or ``U V^T`` with ``X = [U; V]`` (asymmetric, no balancing term).
At a point ``X`` let ``S`` be the measurements with nonzero residual (signs ``sigma_i``) and ``I0`` the rest:

* at the ground truth (``instance`` given and ``M(X) = M*``), ``S`` is the instance's recorded corruption (outlier
  mask / nonzero recorded noise) -- never a tolerance on residuals, which are ~1e-15 on clean measurements;
* elsewhere ``S = {i : |rho_i| > res_tol}`` (default ``res_tol = 1e-9 max(||b||_inf, ||A(M)||_inf)``, relative to
  the size of the measurements at hand: no absolute floor, so small data are not all "zero residual").

``L(D) = c [sum_S sigma_i <A_i, D> + sum_{I0} |<A_i, D>|]`` is then ``F(M + D) - F(M)`` exactly for small ``D``
(up to the ``res_tol`` residuals at a general point), and the directional derivative is ``f'(X; U) = L(D1(U))``,
``D1(U) = U X^T + X U^T`` (or ``dU V^T + U dV^T``). The point is rotated to ``[Z, 0]`` (``Z`` of full column
rank ``s``, ``q = k - s`` spare columns). The ladder, each verdict with its evidence:

1. ``global_min``: ``S`` is empty (``f = 0``, the smallest possible value).
2. ``not_critical``: ``min_{||U||_inf <= 1} f'(X; U) < -tol * Gscale`` (LP, ``Gscale = c sum_i ||G_i||_1`` bounds
   ``|f'|`` on the box); the minimiser ``U`` is returned and ``f(X + g U) < f(X)`` is verified on a grid of ``g``
   down to ``gamma_min`` (times ``step_scale = min(1, max(||X||_F, sqrt(max(|b|, |A(M)|))))``: 1 for data of unit
   scale, the data's scale below it). ``stationarity_gap = -min``.
3. ``strict_saddle``: a ``W`` with ``L(W W^T) < 0`` (``L(W1 W2^T)`` asymmetric): along ``U = [0, W]``,
   ``f(X + g U) - f(X) = g^2 L(W W^T)`` for small ``g``; ``c = -L(W W^T) / ||W||_F^2 > tol * Lscale``
   (``Lscale = c sum_i ||A_i||_F``, so ``|L(D)| <= Lscale ||D||_F``), verified by evaluation.
   Search: the convex relaxation (SDP; ``P >= 0, tr P = 1`` or ``||P||_* <= 1``), truncated to rank ``q``, plus
   projected subgradient descent on the sphere from random restarts.
4. ``not_local_min``: ``V`` on ``Z^perp`` (rank ``<= q``) with ``h(V) = min_u L(Z u^T + u Z^T + V V^T) < 0``
   (LP in ``u``); verified along the parabola ``X + g [0, V] + g^2 [u, 0]``. Search: the relaxation
   ``min_{P >= 0, tr P = 1} h(P)`` (the dual of level 5's SDP) truncated to rank ``q``, plus a direct search.
5. ``sharp_local_min``: horizontal sharpness ``L(E) >= tau_F ||E||_F`` on ``E = {Z u^T + u Z^T}`` (face LPs in
   the ``l_inf`` norm of orthonormal coordinates, ``tau_F = tau_inf / sqrt(dim E)``, bounds recomputed from LP
   multipliers) and a multiplier ``Y = c(sum_S sigma_i A_i + sum_{I0} lambda_i A_i)``, ``|lambda_i| <= 1``, with
   ``||Y_E|| = eps`` (``Y Z ~ 0``) and ``Y`` compressed to ``Z^perp`` ``>= mu I`` (SDP, then made exactly feasible).
   Then ``L(E + P) >= c_sharp (||E||_F + tr P)`` on the PSD tangent cone with
   ``c_sharp = (tau_F mu - eps K) / (tau_F + K + mu + eps)``, ``K = c sum_i ||P_perp A_i P_perp||_op``;
   ``c_sharp > tol * Lscale`` certifies that ``M`` is the unique minimiser of ``F`` over PSD matrices: ``X`` is a
   global minimum for every search rank (``certificate_margin = c_sharp``). With ``q = 0`` (``k = s``)
   ``tau_F > tol * Lscale`` alone certifies a sharp local minimum (modulo ``O(k)``).
   Asymmetric: ``L(D) >= tau_F ||D||_F`` for every ``D`` (the same bounds over all ``d1 d2`` coordinates) certifies the
   unique global minimum of ``F`` over all matrices; with ``q = 0`` sharpness on ``E`` certifies a sharp local min.
6. ``second_order_stationary_uncertified``: none of the above; ``details["searches"]`` says what was run.

``details["margin_kind"]`` says which quantity ``certificate_margin`` is: ``c_sharp`` (level 5 with a multiplier:
unique PSD minimiser, global), ``tau_F_E`` (sharpness on ``E``, ``q = 0``: sharp local minimum modulo the symmetry),
``tau_F_full`` (asymmetric, sharpness over every ``D``: global), ``saddle_curvature`` (``-L(W W^T) / ||W||_F^2``,
``-L(W1 W2^T) / ||W||_F^2`` asymmetric) or ``curved_descent`` (``-h(V) / ||V||_F^2``).

``grad_norm`` is the norm of the minimal-norm (Clarke) subgradient ``min ||sum_i (lin_i + c lambda_i) G_i||_F``
over ``|lambda_i| <= 1`` (a bounded least-squares problem), not the norm of ``obj.grad`` (which takes
``sign(0) = 0``).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.certify import _l1_lp as lp
from benign.certify import _l1_model as mdl
from benign.certify.verdicts import (GLOBAL_MIN, NOT_CRITICAL, NOT_LOCAL_MIN, SHARP_LOCAL_MIN, STRICT_SADDLE,
                                     UNCERTIFIED, Certificate)
from benign.certify_settings import check_certify_setting
from benign.errors import check_int

REGIMES = ("non_stationary", "strict_saddle", "not_local_min", "local_min", "global_min", "uncertified")
_REGIME_OF = {NOT_CRITICAL: "non_stationary", STRICT_SADDLE: "strict_saddle", NOT_LOCAL_MIN: "not_local_min",
              SHARP_LOCAL_MIN: "local_min", GLOBAL_MIN: "global_min", UNCERTIFIED: "uncertified"}


# --------------------------------------------------------------------------------------------- helpers

@jax.jit
def _jacobian(obj, X):
    """``G[i] = d <A_i, M(X)> / dX`` (shape ``(m, N, k)``): the residual is polynomial, so this is exact."""
    return jax.jacfwd(obj.residual)(X)


def _truth_distance(obj: Any, X: np.ndarray, instance: Any) -> tuple[float, float]:
    """``(||M(X) - M*||_F, ||M*||_F)`` from the factors without cancellation: with ``[U, L] = Q1 R1`` and
    ``[V, R] = Q2 R2``, ``U V^T - L R^T = Q1 (R1_U R2_V^T - R1_L R2_R^T) Q2^T`` is a small matrix (the expanded
    Gram formula loses half the digits, ~1e-7 relative)."""
    U, V = (X, X) if obj.symmetric else (X[: obj.shape[0]], X[obj.shape[0]:])
    L = instance.truth_left
    R = L if instance.symmetric else instance.truth_right
    k = U.shape[1]
    Q1, R1 = np.linalg.qr(np.concatenate([U, L], axis=1))
    Q2, R2 = np.linalg.qr(np.concatenate([V, R], axis=1))
    diff = R1[:, :k] @ R2[:, :k].T - R1[:, k:] @ R2[:, k:].T
    truth = R1[:, k:] @ R2[:, k:].T
    return float(np.linalg.norm(diff)), float(np.linalg.norm(truth))


def _at_truth(obj: Any, X: np.ndarray, instance: Any) -> bool:
    """``M(X) = M*`` to ``1e-10`` relative (a rotated or padded truth counts)."""
    if instance is None:
        return False
    if instance.symmetric != obj.symmetric or tuple(instance.shape) != tuple(obj.shape):
        return False
    dist, norm = _truth_distance(obj, X, instance)
    return dist <= 1e-10 * max(norm, 1e-300)


def _point(red: mdl.Reduction, obj: Any, left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
    """A direction given in rotated coordinates (columns of ``[Z, 0]``) back in the caller's coordinates."""
    D = left if obj.symmetric else np.concatenate([left, right], axis=0)
    return D @ red.R.T


def _with_basis(sh: dict, model: mdl.LocalModel, index: list) -> dict:
    """A sharpness result with the basis it was computed in: ``B_j = O1 e_a e_b^T O2^T`` for ``(a, b) =
    basis_index[j]`` (symmetric: ``O2 = O1``, ``null``, and ``(e_a e_b^T + e_b e_a^T) / sqrt 2`` for ``a != b``),
    ``frame`` holding ``O1`` and ``O2`` (what a referee needs to recompute ``tau_inf_lower`` from its multipliers)."""
    return sh | {"basis_index": index, "frame": {"O1": model.O1.tolist(),
                                                 "O2": None if model.symmetric else model.O2.tolist()}}


def _fit_cols(A: np.ndarray, q: int) -> np.ndarray:
    """``A`` with exactly ``q`` columns (zero columns appended when it has fewer)."""
    return A if A.shape[1] == q else np.concatenate([A, np.zeros((A.shape[0], q - A.shape[1]))], axis=1)


def _spurious(at_truth: bool, is_global: bool, f0: float, instance: Any, obj: Any, tol: float) -> bool | None:
    if at_truth or is_global:
        return False
    if instance is None or obj.truth is None:
        return None
    from benign.certify.checks import balanced_truth

    ft = float(obj.value(jnp.asarray(balanced_truth(obj))))  # the truth as a point of obj (any factorisation)
    if f0 > ft + 1e3 * tol * (1.0 + abs(ft)):
        return True
    return None


# --------------------------------------------------------------------------------------------- public API

def certify_l1(obj: Any, X: Any, instance: Any = None, *, tol: float = 1e-8, gamma_min: float = 1e-4,
               searches: int = 16, iters: int = 300, sdp: bool = True, seed: int = 0,
               res_tol: float | None = None, rank_rtol: float = 1e-10) -> Certificate:
    """Certify a point of the l1 objective ``obj`` (``obj.loss.name == "l1"``) with the ladder of the module
    docstring; returns a :class:`~benign.certify.verdicts.Certificate`.

    ``instance`` (optional) identifies the ground truth: at the truth the corrupted set comes from its recorded
    outlier mask. ``tol`` is relative to the scales ``Gscale``/``Lscale`` (module docstring); ``gamma_min`` is
    the smallest step at which a descent claim is checked by evaluating ``f``; ``searches`` random restarts and
    ``iters`` iterations per direct search (0 restarts disables them); ``sdp=False`` skips the SDP stages (then
    ``sharp_local_min`` is only available with ``q = 0``); ``seed`` drives the random restarts; ``res_tol`` is the
    residual threshold for ``S`` away from the truth; ``rank_rtol`` the relative singular-value threshold of the
    rank of ``X``.
    """
    t_start = time.perf_counter()
    if getattr(getattr(obj, "loss", None), "name", None) != "l1":
        raise ValueError(f"certify_l1 needs an objective with the l1 loss, got "
                         f"{getattr(getattr(obj, 'loss', None), 'name', obj)!r}")
    if obj.nonnegative:
        raise ValueError("the l1 certifier does not handle the constraint X >= 0: build the l1 objective with "
                         "nonnegative=False (CLI: --no-nonneg), or use a smooth loss")
    if not obj.symmetric and obj.balance > 0:
        raise ValueError(f"certify_l1 needs the asymmetric objective without balancing (make_objective(..., "
                         f"balance=0), --balance 0 on the command line), got balance={obj.balance}")
    from benign.certify.core import check_instance_arg

    check_instance_arg(obj, instance)
    given = (("tol", tol), ("gamma_min", gamma_min), ("searches", searches), ("iters", iters), ("seed", seed),
             ("rank_rtol", rank_rtol), ("sdp", sdp))
    tol, gamma_min, searches, iters, seed, rank_rtol, sdp = (check_certify_setting(k, v) for k, v in given)
    if instance is not None and (instance.m != obj.operator.m
                                 or not np.array_equal(np.asarray(instance.b), np.asarray(obj.b))):
        what = (f"m = {instance.m} against m = {obj.operator.m}" if instance.m != obj.operator.m
                else "the same m but other measurements b")
        raise ValueError(f"instance {getattr(instance, 'name', '')!r} does not match the objective ({what}): "
                         "build the objective from the same instance")
    X = obj.check_point(X, "X", host=True)
    b = np.asarray(obj.b, dtype=float)
    Xj = jnp.asarray(X)
    f0 = float(obj.value(Xj))
    rho = np.asarray(obj.residual(Xj))
    size = max(float(np.max(np.abs(b))), float(np.max(np.abs(rho + b))))  # of the measurements: b, A(M) = rho + b
    if res_tol is None:  # relative to the measurements' size: no absolute floor
        res_tol = 1e-9 * size
    res_tol = check_certify_setting("res_tol", res_tol)
    # the steps at which descent claims are checked by evaluating f: from s down to s * gamma_min, s the point's or
    # the data's scale below 1 (a matrix of entries ~ sqrt(size) when the A_i are of unit size), else 1
    step_scale = min(1.0, max(float(np.linalg.norm(X)), math.sqrt(size))) or 1.0
    gammas = step_scale * mdl.gamma_grid(gamma_min)
    at_truth = _at_truth(obj, X, instance)
    in_S, sigma, rule = mdl.measurement_sets(rho, instance, at_truth, res_tol)
    m = obj.operator.m
    c = float(obj.loss.factor(m))
    tolerances = {"tol": tol, "gamma_min": gamma_min, "step_scale": step_scale, "rank_rtol": rank_rtol}
    if not at_truth:
        tolerances["res_tol"] = res_tol
    details: dict[str, Any] = {"at_truth": at_truth, "set_rule": rule, "n_S": int(in_S.sum()),
                               "n_I0": int((~in_S).sum()), "m": int(m), "loss_factor": c,
                               "search_rank": int(X.shape[1]), "factorization": obj.factorization, "searches": []}
    if rule == "residual_tolerance":
        details["max_I0_residual"] = float(np.max(np.abs(rho[~in_S]))) if (~in_S).any() else 0.0
    relerr = float(obj.relative_error(Xj)) if obj.truth is not None else None
    if relerr is not None and not np.isfinite(relerr):
        relerr = None
    lin = np.where(in_S, c * sigma, 0.0)
    absw = np.where(in_S, 0.0, c)

    def done(verdict: str, spurious: bool | None, margin_kind: str | None = None, **kw: Any) -> Certificate:
        details["seconds"] = time.perf_counter() - t_start
        if margin_kind is not None:  # which quantity certificate_margin is (module docstring)
            details["margin_kind"] = margin_kind
        return Certificate(verdict=verdict, spurious=spurious, loss=f0, grad_norm=details.get("grad_norm", 0.0),
                           relative_error=relerr, tolerances=tolerances, details=details, **kw)

    # ---------------------------------------------------------------- level 1
    if not in_S.any():
        details["grad_norm_kind"] = "min-norm subgradient (S empty: 0 is a subgradient)"
        details["level1"] = {"f": f0, "reason": "no corrupted / nonzero-residual measurement: f = 0 is minimal"}
        return done(GLOBAL_MIN, False, stationarity_gap=0.0, certificate_margin=None)

    # ---------------------------------------------------------------- level 2
    G = np.asarray(_jacobian(obj, Xj)).reshape(m, -1)
    Gscale = c * float(np.sum(np.abs(G)))
    tolerances["Gscale"] = Gscale
    fo = lp.first_order_lp(G, lin, absw)
    gnorm, _ = lp.min_norm_subgradient(G, lin, absw)
    details["grad_norm"] = gnorm
    details["grad_norm_kind"] = "min-norm (Clarke) subgradient, Frobenius"
    gap = max(-fo["value"], 0.0) + 0.0 if np.isfinite(fo["value"]) else float("nan")
    details["level2"] = {"lp_status": fo["status"], "lp_message": fo["message"], "lp_size": fo["size"],
                         "value": fo["value"], "dual_bound": fo["dual_bound"],
                         "multipliers": fo["lam"].tolist(), "I0": np.flatnonzero(~in_S).tolist()}
    if not np.isfinite(gap):
        details["level2"]["note"] = "first-order LP failed"
        return done(UNCERTIFIED, None, stationarity_gap=None)
    if gap > tol * Gscale:
        U = fo["U"].reshape(X.shape)
        nU = float(np.linalg.norm(U))
        U = U / nU
        chk = mdl.verify_curve(obj, X, f0, U, None, 1, fo["value"] / nU,
                               gammas)
        details["escape_check"] = chk
        if chk["verified"]:
            return done(NOT_CRITICAL, None, stationarity_gap=gap, escape_direction=U)
        details["level2"]["note"] = "LP descent direction not confirmed by evaluating f"
        return done(UNCERTIFIED, None, stationarity_gap=gap)
    stat_gap = gap

    # ---------------------------------------------------------------- reduce and compress
    red = mdl.reduce_point(obj, X, rank_rtol)
    details["reduction"] = {"how": red.how, "rank": red.s, "spare": red.q, "dropped": red.dropped}
    if not red.supported:
        details["reduction"]["reason"] = red.reason
        return done(UNCERTIFIED, None, stationarity_gap=stat_gap)
    model = mdl.build_model(obj, rho, in_S, sigma, rule, red)
    Lscale = model.scales["L"]
    tolerances["Lscale"] = Lscale
    details["K"] = model.scales["K"]
    thr = tol * Lscale
    ladder = _ladder_symmetric if obj.symmetric else _ladder_asymmetric
    return ladder(obj, X, rho, f0, model, red, instance, at_truth, thr, tol, gammas, searches, iters, sdp, seed,
                  stat_gap, details, done)


# --------------------------------------------------------------------------------------------- level 3

def _quadratic_coordinates(C: np.ndarray, W, symmetric: bool) -> tuple[np.ndarray, float]:
    """``a_i = <C_i, W W^T>`` (symmetric ``W``) or ``<C_i, W_0 W_1^T>`` (a pair), and ``||W||_F^2``."""
    if symmetric:
        return np.einsum("ijk,jq,kq->i", C, W, W), float(np.sum(W * W))
    return np.einsum("ijk,jq,kq->i", C, W[0], W[1]), float(np.sum(W[0] ** 2) + np.sum(W[1] ** 2))


def _level3(obj, X, rho, f0, model, red, thr, gammas, searches, iters, sdp, seed, details):
    """Strict-saddle search; returns ``(direction, c, check)`` or ``None``."""
    from benign.certify import _l1_search as srch

    q = red.q
    C, lin, absw = model.C, model.lin, model.absw
    info: dict[str, Any] = {}
    starts = []
    if sdp:
        from benign.certify._l1_sdp import saddle_relaxation

        rel = saddle_relaxation(C, lin, absw, obj.symmetric)
        info["relaxation"] = {"status": rel["status"], "value": rel["value"],
                              # a lower bound on L(W W^T)/||W||^2 (symmetric) or 2x that ratio (asymmetric) at
                              # every rank: a nonnegative solver value says no strict saddle exists at all
                              "rules_out_strict_saddle": bool(rel["value"] >= 0)}
        details["searches"].append("level3_relaxation_sdp")
        if "P" in rel:
            P = rel["P"]
            if obj.symmetric:
                w, Vec = np.linalg.eigh(P)
                order = np.argsort(w)[::-1]
                w, Vec = np.clip(w[order], 0, None), Vec[:, order]
                info["relaxation"]["rank"] = int(np.sum(w > 1e-6 * max(w[0], 1e-300)))
                starts.append(_fit_cols(Vec[:, :q] * np.sqrt(w[:q]), q))
            else:
                Uu, sv, Vt = np.linalg.svd(P)
                info["relaxation"]["rank"] = int(np.sum(sv > 1e-6 * max(sv[0], 1e-300)))
                starts.append((_fit_cols(Uu[:, :q] * np.sqrt(sv[:q]), q), _fit_cols(Vt[:q].T * np.sqrt(sv[:q]), q)))
    cands = []
    for st in starts:
        a, den = _quadratic_coordinates(C, st, obj.symmetric)
        if den > 0:
            cands.append((float(model.L_of_a(a)) / den, st, "relaxation_truncated"))
    if searches > 0:
        W, vals = srch.saddle_search(C, lin, absw, q, obj.symmetric, seed, searches, iters,
                                     starts[0] if starts else None)
        details["searches"].append(f"level3_subgradient({searches}x{iters})")
        j = int(np.argmin(vals))
        best = W[j] if obj.symmetric else (W[0][j], W[1][j])
        cands.append((float(vals[j]), best, "subgradient_search"))
        info["search_best"] = float(vals[j])
    if not cands:
        details["level3"] = info
        return None
    # recompute the ratio exactly for the best candidate
    ratio, Wb, how = min(cands, key=lambda t: t[0])
    a, nrm2 = _quadratic_coordinates(C, Wb, obj.symmetric)
    Lw = float(model.L_of_a(a))
    cval = -Lw / nrm2
    info.update(best_from=how, L_WWt=Lw, W_norm2=nrm2, c=cval)
    details["level3"] = info
    if cval <= thr:
        return None
    scale = 1.0 / np.sqrt(nrm2)
    if obj.symmetric:
        Wo = model.O1 @ (Wb * scale)
        U = _point(red, obj, np.concatenate([np.zeros((X.shape[0], red.s)), Wo], axis=1))
    else:
        d1 = obj.shape[0]
        W1 = model.O1 @ (Wb[0] * scale)
        W2 = model.O2 @ (Wb[1] * scale)
        U = _point(red, obj, np.concatenate([np.zeros((d1, red.s)), W1], axis=1),
                   np.concatenate([np.zeros((obj.shape[1], red.s)), W2], axis=1))
    chk = mdl.verify_curve(obj, X, f0, U, None, 2, -cval, gammas)
    details["escape_check"] = chk
    if not chk["verified"]:
        info["note"] = "negative L(WW^T) not confirmed by evaluating f"
        return None
    return U, cval, chk


# --------------------------------------------------------------------------------------------- level 4

def _curve_from(obj, model, red, X, v, e):
    """First- and second-order parts of the parabola (caller's coordinates) for ``V`` (22-block coordinates) and
    E coordinates ``e``: ``X(g) = X + g [0, V] + g^2 [u, 0]`` with ``E(u) = E(e)``."""
    s = red.s
    Eo = model.E_matrix(e)  # O coordinates, lower-right block zero
    if obj.symmetric:
        n = X.shape[0]
        Zt = model.O1[:, :s].T @ red.left  # s x s, invertible
        Zinv_T = np.linalg.inv(Zt).T
        E11, E12 = Eo[:s, :s], Eo[:s, s:]
        ut = np.concatenate([0.5 * E11 @ Zinv_T, E12.T @ Zinv_T], axis=0)
        u = model.O1 @ ut
        V = model.O1[:, s:] @ v
        first = _point(red, obj, np.concatenate([np.zeros((n, s)), V], axis=1))
        second = _point(red, obj, np.concatenate([u, np.zeros((n, red.q))], axis=1))
        return first, second
    d1, d2 = obj.shape
    Lt = model.O1[:, :s].T @ red.left
    Rt = model.O2[:, :s].T @ red.right
    E11, E12, E21 = Eo[:s, :s], Eo[:s, s:], Eo[s:, :s]
    # E = Lt' u2^T + u1 Rt'^T:  u1 = [E11 Rt^{-T}; E21 Rt^{-T}],  u2 = [0; (Lt^{-1} E12)^T]
    RinvT = np.linalg.inv(Rt).T
    u1 = np.concatenate([E11 @ RinvT, E21 @ RinvT], axis=0)
    u2 = np.concatenate([np.zeros((s, s)), (np.linalg.solve(Lt, E12)).T], axis=0)
    v1, v2 = v
    first = _point(red, obj, np.concatenate([np.zeros((d1, s)), model.O1[:, s:] @ v1], axis=1),
                   np.concatenate([np.zeros((d2, s)), model.O2[:, s:] @ v2], axis=1))
    second = _point(red, obj, np.concatenate([model.O1 @ u1, np.zeros((d1, red.q))], axis=1),
                    np.concatenate([model.O2 @ u2, np.zeros((d2, red.q))], axis=1))
    return first, second


def _level4(obj, X, rho, f0, model, red, thr, gammas, searches, iters, seed, relaxed_P, details):
    """Curved-descent search; returns ``(first, second, ratio, check)`` or ``None``."""
    from benign.certify import _l1_search as srch

    s, q = red.s, red.q
    C22 = model.C[:, s:, s:]
    bound = 1e3 * max(1.0, float(np.sqrt(model.p1 * model.p2)))
    clp = lp.CurvedLP(model.aE, model.lin, model.absw, bound)
    info: dict[str, Any] = {"lp_box": bound}
    starts = []
    if relaxed_P is not None and obj.symmetric:
        w, Vec = np.linalg.eigh(relaxed_P)
        order = np.argsort(w)[::-1]
        w, Vec = np.clip(w[order], 0, None), Vec[:, order]
        info["relaxed_rank"] = int(np.sum(w > 1e-6 * max(w[0], 1e-300)))
        if w[0] > 0:
            starts.append(_fit_cols(Vec[:, :q] * np.sqrt(w[:q]), q))
    cands = [(st, "relaxation_truncated") for st in starts]
    if searches > 0:
        V, vals = srch.curved_search(C22, model.aE, model.lin, model.absw, q, obj.symmetric, seed, searches,
                                     iters, starts[0] if starts else None)
        details["searches"].append(f"level4_subgradient({searches}x{iters})")
        order = np.argsort(vals)[: min(4, len(vals))]
        info["search_best"] = float(vals[order[0]])
        for j in order:
            cands.append((V[j] if obj.symmetric else (V[0][j], V[1][j]), "subgradient_search"))
    best = None
    evals = []
    for v, how in cands:
        if obj.symmetric:
            p = np.einsum("ijk,jq,kq->i", C22, v, v)
            nrm2 = float(np.sum(v * v))
        else:
            p = np.einsum("ijk,jq,kq->i", C22, v[0], v[1])
            nrm2 = float(np.sum(v[0] ** 2) + np.sum(v[1] ** 2))
        if nrm2 <= 0:
            continue
        r = clp.evaluate(p)
        a = model.aE @ r["e"] + p
        hval = float(model.L_of_a(a))  # exact L at the LP's u (not the solver's objective)
        evals.append({"from": how, "h_over_norm2": hval / nrm2, "lp_status": r["status"],
                      "box_active": r["box_active"]})
        if best is None or hval / nrm2 < best[0]:
            best = (hval / nrm2, v, r["e"], nrm2, how)
    info["candidates"] = evals
    details["level4"] = info
    if best is None or -best[0] <= thr:
        return None
    ratio, v, e, nrm2, how = best
    sc = 1.0 / np.sqrt(nrm2)
    v = v * sc if obj.symmetric else (v[0] * sc, v[1] * sc)
    e = e / nrm2
    first, second = _curve_from(obj, model, red, X, v, e)
    chk = mdl.verify_curve(obj, X, f0, first, second, 2, ratio, gammas)
    details["curve_check"] = chk
    info.update(best_from=how, h=ratio)
    if not chk["verified"]:
        info["note"] = "negative h(V) not confirmed by evaluating f along the parabola"
        return None
    return first, second, ratio, chk


# --------------------------------------------------------------------------------------------- ladders

def _ladder_symmetric(obj, X, rho, f0, model, red, instance, at_truth, thr, tol, gammas, searches, iters,
                      sdp, seed, stat_gap, details, done):
    s, q = red.s, red.q
    mu_info = None
    relaxed_P = None
    if sdp and s < model.p1:
        from benign.certify._l1_sdp import multiplier_sdp

        mu_info = multiplier_sdp(model.C, model.aE, model.lin, model.absw, s)
        details["searches"].append("level5_multiplier_sdp")
        relaxed_P = mu_info.get("P")
        details["level5_sdp"] = {k: v for k, v in mu_info.items() if k not in ("lam", "P")}
    mu = mu_info.get("mu") if mu_info else None
    eps = mu_info.get("eps") if mu_info else None
    K = model.scales["K"]
    need_tau = q == 0 or (mu is not None and mu > thr)
    if need_tau:
        dE = max(model.aE.shape[1], 1)
        sh = lp.sharpness(model.aE, model.lin, model.absw, thr * np.sqrt(dE))
        tau = sh["tau_frob"]
        if mu is not None and mu > thr and sh["method"] == "least_norm_multipliers" \
                and (tau * mu - eps * K) / (tau + K + mu + eps) <= thr:
            sh = lp.sharpness(model.aE, model.lin, model.absw, None)  # the exact tau before giving up
            tau = sh["tau_frob"]
        details["sharpness"] = _with_basis(sh, model, model.E_index)
        if mu is not None and mu > thr:
            c_sharp = (tau * mu - eps * K) / (tau + K + mu + eps)
            weights = model.lin.copy()
            weights[model.absw > 0] = model.absw[model.absw > 0] * mu_info["lam"]
            Y = np.einsum("i,ijk->jk", weights, model.C)  # the multiplier in O coordinates
            yz = float(np.linalg.norm(Y[:, :s] @ (model.O1[:, :s].T @ red.left)))
            details["level5"] = {"tau_frob": tau, "mu": mu, "eps_YZ": eps, "YZ_fro": yz, "K": K,
                                 "c_sharp": c_sharp, "multipliers": mu_info["lam"].tolist()}
            if c_sharp > thr:
                return done(SHARP_LOCAL_MIN, False, "c_sharp", stationarity_gap=stat_gap, certificate_margin=c_sharp)
        if q == 0 and tau > thr:
            details["level5"] = details.get("level5", {}) | {"tau_frob": tau, "global_certificate": False}
            return done(SHARP_LOCAL_MIN, _spurious(at_truth, False, f0, instance, obj, tol), "tau_F_E",
                        stationarity_gap=stat_gap, certificate_margin=tau)
    if q == 0:
        return done(UNCERTIFIED, None, stationarity_gap=stat_gap)
    if mu is not None and mu > thr:
        details["note"] = ("a multiplier with mu > 0 exists, so no strict saddle or curved descent exists; "
                           "horizontal sharpness was not certified")
        return done(UNCERTIFIED, None, stationarity_gap=stat_gap)
    found = _level3(obj, X, rho, f0, model, red, thr, gammas, searches, iters, sdp, seed, details)
    if found is not None:
        U, cval, chk = found
        return done(STRICT_SADDLE, None, "saddle_curvature", stationarity_gap=stat_gap, escape_direction=U,
                    certificate_margin=cval)
    found = _level4(obj, X, rho, f0, model, red, thr, gammas, searches, iters, seed, relaxed_P, details)
    if found is not None:
        first, second, ratio, chk = found
        details["escape_curve"] = {"form": "X + g * first + g**2 * second", "first": first, "second": second,
                                   "h": ratio}
        return done(NOT_LOCAL_MIN, None, "curved_descent", stationarity_gap=stat_gap, certificate_margin=-ratio)
    return done(UNCERTIFIED, None, stationarity_gap=stat_gap)


def _ladder_asymmetric(obj, X, rho, f0, model, red, instance, at_truth, thr, tol, gammas, searches, iters,
                       sdp, seed, stat_gap, details, done):
    q = red.q
    if q > 0:
        # full sharpness over every D (E and the Z^perp block) certifies the unique global minimum of F over all
        # matrices; its cheap least-norm bound (or rank test) runs first, the exact face LPs last
        full = [(j, l) for j in range(model.p1) for l in range(model.p2)]
        aF = mdl.E_coordinates(model.C, full, False)
        sh = lp.sharpness(aF, model.lin, model.absw, thr * np.sqrt(aF.shape[1]), lp_fallback=False)
        details["sharpness_full"] = _with_basis(sh, model, full)
        details["searches"].append(f"level5_full_sharpness({sh['method']})")
        if sh["tau_frob"] > thr:
            return done(SHARP_LOCAL_MIN, False, "tau_F_full", stationarity_gap=stat_gap,
                        certificate_margin=sh["tau_frob"])
        found = _level3(obj, X, rho, f0, model, red, thr, gammas, searches, iters, sdp, seed, details)
        if found is not None:
            U, cval, chk = found
            return done(STRICT_SADDLE, None, "saddle_curvature", stationarity_gap=stat_gap, escape_direction=U,
                        certificate_margin=cval)
        found = _level4(obj, X, rho, f0, model, red, thr, gammas, searches, iters, seed, None, details)
        if found is not None:
            first, second, ratio, chk = found
            details["escape_curve"] = {"form": "X + g * first + g**2 * second", "first": first,
                                       "second": second, "h": ratio}
            return done(NOT_LOCAL_MIN, None, "curved_descent", stationarity_gap=stat_gap, certificate_margin=-ratio)
        if sh["method"] == "least_norm_failed":
            sh = lp.sharpness(aF, model.lin, model.absw, None)
            details["sharpness_full"] = _with_basis(sh, model, full)
            details["searches"].append("level5_full_sharpness(face_lps)")
            if sh["tau_frob"] > thr:
                return done(SHARP_LOCAL_MIN, False, "tau_F_full", stationarity_gap=stat_gap,
                            certificate_margin=sh["tau_frob"])
        return done(UNCERTIFIED, None, stationarity_gap=stat_gap)
    sh = lp.sharpness(model.aE, model.lin, model.absw, thr * np.sqrt(max(model.aE.shape[1], 1)))
    details["sharpness"] = _with_basis(sh, model, model.E_index)
    if sh["tau_frob"] > thr:
        return done(SHARP_LOCAL_MIN, _spurious(at_truth, False, f0, instance, obj, tol), "tau_F_E",
                    stationarity_gap=stat_gap, certificate_margin=sh["tau_frob"])
    return done(UNCERTIFIED, None, stationarity_gap=stat_gap)


# --------------------------------------------------------------------------------------------- regimes

def l1_landscape_regime(instance: Any, k: int, *, scale: str = "mean", **kwargs: Any) -> dict[str, Any]:
    """Which regime the ground truth ``X* = [Z, 0]`` (search rank ``k``) of ``instance`` is in for the l1 loss:
    one of :data:`REGIMES` (``non_stationary``, ``strict_saddle``, ``not_local_min``, ``local_min`` -- a
    certified sharp local minimum --, ``global_min`` -- no corruption --, ``uncertified``).

    ``scale`` is the loss scaling (``mean``: ``1/m`` as in Ma--Fattahi; verdicts do not depend on it);
    ``kwargs`` go to :func:`certify_l1`. Returns ``{"regime", "verdict", "certificate", "seconds"}`` plus the
    instance's sizes.
    """
    from benign.certify.core import check_certify_options
    from benign.instances import check_instance
    from benign.losses import make_loss
    from benign.objective import make_objective

    check_instance(instance, "instance")
    k = check_int("k", k, minimum=1)
    if k < instance.rank:
        raise ValueError(f"search rank k = {k} is below the truth's rank {instance.rank}")
    t0 = time.perf_counter()
    obj = make_objective(instance, make_loss("l1", scale=scale))
    check_certify_options(obj, kwargs)
    cert = certify_l1(obj, instance.padded_truth(k), instance, **kwargs)
    d1, d2 = instance.shape
    return {"regime": _REGIME_OF[cert.verdict], "verdict": cert.verdict, "certificate": cert,
            "seconds": time.perf_counter() - t0, "d1": d1, "d2": d2, "m": instance.m, "r": instance.rank,
            "k": k, "symmetric": instance.symmetric,
            "outliers": int(np.sum(instance.outlier_mask)) if instance.outlier_mask is not None else 0}
