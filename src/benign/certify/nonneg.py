"""Certificates for nonnegative points ``X >= 0`` (symmetric, MATH.md §4 and seed 000).

With ``G = grad f(X)`` and the coordinate sets (tolerances stated, ``x_abs = xtol * max X``,
``g_abs = gtol * gscale``, ``gscale = ||X||_F max(2 ||S_bar||_2, |lambda|_max)`` as in the smooth case):

* positive ``P = {X_ij > x_abs}`` (free directions);
* active ``A+ = {X_ij <= x_abs, G_ij > g_abs}`` (strictly complementary: directions fixed at 0);
* degenerate ``D0 = {X_ij <= x_abs, |G_ij| <= g_abs}`` (directions ``>= 0``).

KKT (first order): ``||G_P||`` (stationarity) and ``||min(G_Z, 0)||`` (dual feasibility on the zeros ``Z``);
``stationarity_gap = sqrt(stat^2 + dual^2) / gscale``, critical when ``<= gtol``; otherwise the escape direction
is the projected negative gradient (``-G`` on ``P``, ``max(-G, 0)`` on ``Z``).

Second order on the critical cone ``C = {D : D_P free, D_D0 >= 0, D_A+ = 0}`` with ``Q`` the Hessian on the
``P u D0`` coordinates and ``h_abs = htol * max|eig(Q)|``:

1. *necessary* (second-order KKT point): ``Q + h_abs I`` copositive on ``C``; a witness ``D`` with
   ``Q[D, D] < -h_abs ||D||^2`` makes ``X`` a ``strict_saddle``; the direction is verified along the feasible
   path ``X + t D >= 0`` (``t <= min X_ij / |D_ij|`` over ``D_ij < 0``);
2. *flat orbit*: the rotations ``X -> X R`` that keep ``X >= 0`` have tangent ``{X Omega}``; the part staying in
   the face (``(X Omega)_Z = 0``) on which ``Q`` vanishes (``|curvature| <= h_abs``) is the flat orbit tangent
   ``T`` (``details["orbit_dim"]``). One-sided orbit directions at the boundary of a face are not quotiented
   (conservative: such a point may be reported ``degenerate``);
3. *strict modulo the orbit*: ``Q - h_abs I`` copositive on ``C cap T^perp`` and a KKT point proven to exist next to
   ``X`` (:func:`_existence`, ``details["existence"]``) -> ``strict_local_min`` (strict in ``X X^T``), unless proven
   global; else ``degenerate``.

Copositivity (:mod:`benign.certify.copositive`): a subspace test under strict complementarity (``D0`` empty),
exact enumeration when ``|D0| <= max_enum`` (12), else a heuristic that can prove non-copositivity but never
copositivity (``details["second_order_method"]`` says which; an undecided test gives ``degenerate``).
The Hessian on ``P u D0`` is formed from Hessian-vector products (``|P u D0| <= NONNEG_DENSE_MAX``).
Globality as in :mod:`benign.certify.checks`; the PSD convex certificate also proves global optimality here (its
relaxation contains every nonnegative factorisation).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.certify import verdicts as V
from benign.certify.checks import decide_global, optimum_info, verify_descent
from benign.certify.convex import symmetric_certificate
from benign.certify.copositive import MAX_ENUM, copositive
from benign.certify.smooth import _relative_error, check_tolerances, default_ctol
from benign.certify.spectral import check_method
from benign.certify.symmetry import RANK_RTOL, orthogonal_vertical
from benign.certify.verdicts import Certificate
from benign.certify_settings import check_certify_setting

#: the Hessian block on the cone coordinates is formed densely up to this many coordinates
NONNEG_DENSE_MAX = 4000


@jax.jit
def _hess_columns(obj, X, idx):
    """Columns ``H e_k`` (vec coords) for the coordinates ``idx``."""
    def col(k):
        E = jnp.zeros(X.size, dtype=X.dtype).at[k].set(1.0).reshape(X.shape)
        return obj.hvp(X, E).reshape(-1)
    return jax.vmap(col)(idx).T


def _hessian_block(obj, X, idx: np.ndarray) -> np.ndarray:
    if idx.size == 0:
        return np.zeros((0, 0))
    cols = [np.asarray(_hess_columns(obj, X, jnp.asarray(idx[i:i + 512]))) for i in range(0, idx.size, 512)]
    H = np.concatenate(cols, axis=1)[idx]
    return 0.5 * (H + H.T)


def _orbit_tangent(X: np.ndarray, Q: np.ndarray, free: np.ndarray, cone: np.ndarray, h_abs: float,
                   rank_rtol: float) -> np.ndarray:
    """Orthonormal basis (in the ``P`` coordinates) of the flat orbit tangent ``T`` (module docstring, item 2)."""
    B, _ = orthogonal_vertical(X, rank_rtol)
    if B.shape[1] == 0 or free.size == 0:
        return np.zeros((free.size, 0))
    mask = np.ones(X.size, dtype=bool)
    mask[free] = False
    Bz = B[mask]  # components on the zero coordinates must vanish
    if Bz.size:
        _, s, Wt = np.linalg.svd(Bz, full_matrices=True)
        k = int(np.sum(s > 1e-10 * max(s[0] if s.size else 0.0, 1e-300)))
        C = Wt[k:].T
    else:
        C = np.eye(B.shape[1])
    if C.shape[1] == 0:
        return np.zeros((free.size, 0))
    T = B[free] @ C
    T, _ = np.linalg.qr(T)
    QFF = Q[: free.size, : free.size]
    w, W = np.linalg.eigh(T.T @ QFF @ T)
    flat = np.abs(w) <= h_abs
    return T @ W[:, flat]


def _existence(obj, Xn: np.ndarray, G: np.ndarray, lmin: float | None, h_abs: float, gscale: float,
               free: np.ndarray, active: np.ndarray, cone: np.ndarray, T: np.ndarray, rank_rtol: float) -> dict:
    """The existence proof behind a strict claim (:func:`benign.certify.existence.strict_minimum_nearby`), in the two
    cases it covers: strict complementarity (no degenerate coordinate) and either no flat orbit direction (the face's
    free coordinates, no symmetry; the minimiser must stay in the face with positive multipliers) or no zero
    coordinate at all (the smooth slice argument with the rotations, the minimiser staying positive)."""
    from benign.certify.existence import strict_minimum_nearby
    from benign.certify.smooth import GRAD_ROUNDING
    from benign.certify.symmetry import vertical_space

    if not np.any(Xn):  # X = 0: grad f(0) = 2 sym(c A*(psi'(-b))) 0 = 0 exactly, so X itself is the KKT point
        return {"proved": True, "radius": 0.0, "location_radius": 0.0,
                "reason_proved": "X = 0 is exactly a KKT point (grad f(0) = 0 for every loss)"}
    if cone.size:
        return {"proved": False, "reason": f"{cone.size} degenerate coordinate(s) (zero with a zero gradient): the "
                                           "existence proof needs strict complementarity"}
    if lmin is None:
        return {"proved": False, "reason": "no free direction off the flat orbit (no curvature to build on)"}
    x = Xn.reshape(-1)
    if np.any(x[active] != 0.0):  # the face argument is centred on the face
        return {"proved": False, "reason": f"active coordinates not exactly 0 (largest {float(x[active].max()):.3g}): "
                                           "the existence proof is made on the face; certify the point with them "
                                           "set to 0"}
    common = dict(lam=lmin - h_abs, grad_norm=float(np.linalg.norm(G[free])), grad_allowance=GRAD_ROUNDING * gscale,
                  stay_above=float(x[free].min()), multipliers=G[active])
    if T.shape[1] == 0:
        return strict_minimum_nearby(obj, Xn, **common)
    # flat rotations: covered when they keep the face, i.e. the zero coordinates are whole zero rows of X (every
    # rotation keeps them zero), so that f on the face is invariant and the slice argument applies within it
    zero_rows = ~np.any(Xn != 0.0, axis=1)
    vert = vertical_space(obj, Xn, rank_rtol)
    if np.any((x == 0.0) != np.repeat(zero_rows, Xn.shape[1])) or vert.dim != T.shape[1]:
        return {"proved": False, "reason": "flat rotation directions at a point whose zero coordinates are not whole "
                                           "zero rows: not covered by the existence proof"}
    return strict_minimum_nearby(obj, Xn, **common, vertical=vert)


def certify_nonneg(obj, X: Any, *, instance: Any = None, gtol: float = 1e-6, htol: float = 1e-6,
                   ftol: float = 1e-10, ctol: float | None = None, xtol: float = 1e-9, method: str = "auto",
                   verify: bool = True, max_enum: int = MAX_ENUM, rank_rtol: float = RANK_RTOL,
                   seed: int = 0) -> Certificate:
    """Certify a nonnegative point (module docstring)."""
    if not obj.symmetric:
        raise ValueError("nonnegative certificates are implemented for the symmetric factorisation only")
    tols = check_tolerances(gtol=gtol, htol=htol, ftol=ftol, xtol=xtol, rank_rtol=rank_rtol)
    ctol = default_ctol(gtol, htol, ctol)
    max_enum = check_certify_setting("max_enum", max_enum)
    check_method(method)
    Xj = obj.check_point(X)
    if np.any(np.asarray(Xj) < 0):
        raise ValueError("a nonnegative certificate needs X >= 0 elementwise")
    Xn = np.asarray(Xj)
    r = Xn.shape[1]
    f, g = obj.value_and_grad(Xj)
    f = float(f)
    G = np.asarray(g).reshape(-1)
    x = Xn.reshape(-1)
    gnorm = float(np.linalg.norm(G))
    xnorm = float(np.linalg.norm(x))

    x_abs = xtol * max(float(x.max()), 0.0)
    pos = x > x_abs
    convex = symmetric_certificate(obj, Xj, tol=ctol, method=method, seed=seed)
    dual = 2 * max(abs(convex.margin), abs(convex.top))
    free = np.nonzero(pos)[0]
    # curvature scale from the free block (cheap): |lambda|max of H on the positive coordinates
    cone_guess = np.nonzero(~pos & (np.abs(G) <= gtol * max(xnorm * dual, 1e-300)))[0]
    idx = np.concatenate([free, cone_guess])
    if idx.size > NONNEG_DENSE_MAX:
        raise NotImplementedError(f"the nonnegative certificate forms the Hessian on {idx.size} cone coordinates; "
                                  f"the limit is {NONNEG_DENSE_MAX}")
    Hc = _hessian_block(obj, Xj, idx)
    hmax = float(np.max(np.abs(np.linalg.eigvalsh(Hc)))) if idx.size else 0.0
    gscale = xnorm * max(dual, hmax)
    g_abs = gtol * gscale
    zero = ~pos
    active = zero & (G > g_abs)
    degen = zero & (np.abs(G) <= g_abs)
    stat = float(np.linalg.norm(G[pos]))
    dual_res = float(np.linalg.norm(np.minimum(G[zero], 0.0)))
    kkt = float(np.hypot(stat, dual_res))
    gap = kkt / gscale if gscale > 0 else (0.0 if kkt == 0 else float("inf"))
    info = optimum_info(obj, r, ftol)
    if obj.truth is not None:  # the truth is a feasible point only if its factor is nonnegative (or nonpositive)
        Tn = np.asarray(obj.truth)
        info["truth_feasible"] = bool(info.get("truth_feasible", True) and (np.all(Tn >= 0) or np.all(Tn <= 0)))

    cone = np.nonzero(degen)[0]
    if not np.array_equal(cone, cone_guess):  # recompute the block on the final coordinate sets
        idx = np.concatenate([free, cone])
        Hc = _hessian_block(obj, Xj, idx)
    h_abs = htol * (float(np.max(np.abs(np.linalg.eigvalsh(Hc)))) if idx.size else 0.0)
    p = free.size

    def coords(I):
        return [[int(k // r), int(k % r)] for k in I]

    details: dict[str, Any] = {
        "kind": "nonnegative", "search_rank": r, "loss_spec": obj.loss.describe(),
        "kkt": {"stationarity": stat, "dual_feasibility": dual_res, "complementarity": float(np.sum(np.abs(x * G))),
                "residual": kkt},
        "grad_rel": gap, "grad_scale": gscale, "hess_abs_tol": h_abs, "x_abs_tol": x_abs, "g_abs_tol": g_abs,
        "sets": {"positive": int(pos.sum()), "active": int(active.sum()), "degenerate": int(degen.sum()),
                 "degenerate_coords": coords(cone) if cone.size <= 50 else None},
        "strict_complementarity": bool(cone.size == 0),
        "convex_certificate": convex.to_dict(), "reference": info,
    }
    if instance is not None:
        details["instance"] = getattr(instance, "name", None)

    escape = None
    spurious = None
    lmin = lmax = None
    if idx.size:
        ev = np.linalg.eigvalsh(Hc)
        lmax = float(ev[-1])
    if gap > gtol:
        verdict = V.NOT_CRITICAL
        D = np.where(pos, -G, np.maximum(-G, 0.0))
        D = D / max(np.linalg.norm(D), 1e-300)
        escape = D.reshape(Xn.shape)
        if verify:
            neg = D < 0
            tmax = float(np.min(x[neg] / -D[neg])) if np.any(neg) else None
            curv = float(jnp.sum(jnp.asarray(escape) * obj.hvp(Xj, jnp.asarray(escape))))  # as for smooth losses
            details["escape_check"] = verify_descent(obj, Xj, escape, curvature=curv, t_max=tmax)
        T = np.zeros((p, 0))
        lmin = float(np.linalg.eigvalsh(Hc[:p, :p])[0]) if p else None
    else:
        nec = copositive(Hc + h_abs * np.eye(idx.size), p, max_enum=max_enum, seed=seed) if idx.size else None
        T = _orbit_tangent(Xn, Hc, free, cone, h_abs, rank_rtol) if p else np.zeros((0, 0))
        details["orbit_dim"] = int(T.shape[1])
        # the free block modulo the orbit: basis of the complement of T inside the P coordinates
        if p:
            Bf = np.linalg.qr(T, mode="complete")[0][:, T.shape[1]:] if T.shape[1] else np.eye(p)
        else:
            Bf = np.zeros((0, 0))
        Tr = np.zeros((idx.size, idx.size - T.shape[1]))
        Tr[:p, :Bf.shape[1]] = Bf
        Tr[p:, Bf.shape[1]:] = np.eye(idx.size - p)
        Qq = Tr.T @ Hc @ Tr
        if Bf.shape[1]:
            lmin = float(np.linalg.eigvalsh(Qq[:Bf.shape[1], :Bf.shape[1]])[0])
        if nec is not None and nec.copositive is False:
            verdict = V.STRICT_SADDLE
            D = np.zeros(x.size)
            D[idx] = nec.witness
            curv = float(nec.witness @ Hc @ nec.witness)
            lmin = min(lmin, curv) if lmin is not None else curv
            details["second_order_method"] = nec.method
            details["cone_witness_curvature"] = curv
            escape = D.reshape(Xn.shape)
            if verify:
                neg = D < 0
                tmax = float(np.min(x[neg] / -D[neg])) if np.any(neg) else None
                details["escape_check"] = verify_descent(obj, Xj, escape, curvature=curv, t_max=tmax)
        else:
            strict = copositive(Qq - h_abs * np.eye(Qq.shape[0]), Bf.shape[1], max_enum=max_enum,
                                seed=seed + 1) if Qq.size else None
            method_used = (strict.method if strict is not None else "trivial")
            if nec is not None and nec.copositive is None:
                method_used = "heuristic (second-order necessary test undecided)"
            details["second_order_method"] = method_used
            details["second_order_necessary"] = None if nec is None else nec.copositive
            details["strict_modulo_orbit"] = None if strict is None else strict.copositive
            is_strict = bool(strict is not None and strict.copositive) and bool(nec is None or nec.copositive)
            is_global, reason = decide_global(f, info, ftol=ftol, convex=convex)
            details["global_reason"] = reason
            details["strict"] = is_strict
            if is_global:
                verdict, spurious = V.GLOBAL_MIN, False
            else:
                if is_strict:
                    proof = _existence(obj, Xn, G, lmin, h_abs, gscale, free, active, cone, T, rank_rtol)
                    details["existence"] = proof
                    if not proof["proved"]:
                        is_strict = details["strict"] = False
                        details["strict_withdrawn"] = (
                            "positive curvature on the critical cone, but no KKT point near X could be proven to "
                            f"exist: {proof['reason']}")
                verdict = V.STRICT_LOCAL_MIN if is_strict else V.DEGENERATE
                spurious = True if is_global is False else None
                if nec is not None and nec.copositive is None:
                    details["note"] = ("the second-order test was only heuristic (no negative direction found); "
                                       "the point is not claimed to be a local minimum")
    return Certificate(
        verdict=verdict, spurious=spurious, loss=f, grad_norm=gnorm, lambda_min=lmin, lambda_max=lmax,
        symmetry_zeros=int(details.get("orbit_dim", 0)), certificate_margin=convex.margin,
        escape_direction=escape, stationarity_gap=gap, relative_error=_relative_error(obj, Xj),
        tolerances={**tols, "ctol": ctol, "grad_abs_tol": g_abs, "hess_abs_tol": h_abs, "x_abs_tol": x_abs,
                    "f_abs_tol": ftol * max(info["f_zero"], 1e-300)},
        details=details)
