"""Checks shared by the smooth and nonnegative certifiers: reference values, globality, descent verification.

Conventions (stated once, used by every certifier of this package):

* ``f(0)`` -- the objective at ``X = 0`` -- is the *value scale*: "``f ~ 0``" means ``f(X) <= ftol * f(0)``.
* The known optimum is ``0`` when the instance is noiseless, detected as a zero data loss at the ground truth
  (``c sum psi(A(M*) - b) <= ftol * f(0)``); the balancing term of an asymmetric objective does not change the
  optimum (a balanced factorisation of ``M*`` exists), so it is never counted here.
* With noise the optimum is unknown; the ground truth, rebalanced for asymmetric problems, is a feasible point, so
  ``f(X) > f(truth)`` proves that ``X`` is not global (and says so); ``f(X) <= f(truth)`` proves nothing.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign._jax import jax, jnp

EPS = float(np.finfo(float).eps)


def value_at_zero(obj, r: int) -> float:
    return float(obj.value(jnp.zeros((obj.rows, r))))


def _data_loss(obj, X):
    return obj.loss.factor(obj.operator.m) * jnp.sum(obj.loss.psi(obj.residual(X)))


def data_loss(obj, X) -> float:
    """``c sum_i psi(rho_i)`` without the balancing term."""
    return float(_data_loss(obj, jnp.asarray(X)))


@jax.jit
def _reference_values(obj, Z0, T):
    """``f(0)``, the data loss at ``T`` and ``f(T)`` in one compiled call."""
    return obj.value(Z0), _data_loss(obj, T), obj.value(T)


def balanced_truth(obj) -> np.ndarray | None:
    """The ground truth as a point of ``obj``: ``Z`` (symmetric) or a balanced ``[L; R]`` with ``L^T L = R^T R``
    and ``L R^T = M*`` (computed from the factors by two QRs and an ``r x r`` SVD; no ``d1 x d2`` array)."""
    if obj.truth is None:
        return None
    T = np.asarray(obj.truth)
    if obj.symmetric:
        return T
    d1 = obj.shape[0]
    L, R = T[:d1], T[d1:]
    QL, RL = np.linalg.qr(L)
    QR, RR = np.linalg.qr(R)
    P, s, Wt = np.linalg.svd(RL @ RR.T)
    root = np.sqrt(s)
    return np.concatenate([QL @ P * root, QR @ Wt.T * root], axis=0)


def truth_point(obj, rank: int | None = None) -> np.ndarray | None:
    """The ground truth as a point of ``obj`` with ``rank`` columns (zero columns appended; default: the truth's
    rank): :func:`balanced_truth` when ``obj`` has a balancing term (asymmetric, ``balance > 0``: a critical point
    there, which unbalanced stored factors are not), else ``obj.truth``. ``None`` without a truth; ``ValueError``
    for a rank below the truth's."""
    if obj.truth is None:
        return None
    T = balanced_truth(obj) if not obj.symmetric and obj.balance > 0 else np.asarray(obj.truth, dtype=float)
    k = T.shape[1]
    rank = k if rank is None else int(rank)
    if rank < k:
        raise ValueError(f"search rank {rank} is below the truth's rank {k}")
    return np.concatenate([T, np.zeros((T.shape[0], rank - k))], axis=1)


def optimum_info(obj, r: int, ftol: float) -> dict[str, Any]:
    """Reference values: ``f0 = f(0)``, the truth's value and whether the known optimum is 0 (noiseless)."""
    T = balanced_truth(obj)
    if T is None:
        return {"f_zero": value_at_zero(obj, r), "truth_available": False, "noiseless": None, "f_truth": None}
    f0, fd, ft = (float(v) for v in _reference_values(obj, jnp.zeros((obj.rows, r)), jnp.asarray(T)))
    # the truth is a point of the search space only when the search rank reaches its rank: below it, f = 0 is not
    # attainable and "noiseless, f > 0" proves nothing about globality
    return {"f_zero": f0, "truth_available": True, "f_truth": ft, "noiseless": bool(fd <= ftol * max(f0, 1e-300)),
            "truth_feasible": bool(r >= T.shape[1])}


def decide_global(f: float, info: dict, *, ftol: float, convex: Any = None,
                  newton_gap: float | None = None) -> tuple[bool | None, str]:
    """Is ``X`` a global minimum? ``(True | False | None, reason)`` by the rules of the module docstring.

    Noiseless instances (the optimum is 0, over the PSD cone too) are decided by the value alone: a convex
    certificate there can only hold through its tolerance (exactly, it would imply ``f(X) = 0``), so it never makes
    a point global, and where it holds at a point above ``ftol * f(0)`` the point is left undecided rather than
    called spurious. Otherwise ``convex`` (a :class:`~benign.certify.convex.ConvexCertificate`, or None) proves
    "global" when it holds. ``newton_gap`` (``||g||^2 / (2 lambda_min)`` at a strict local minimum, the predicted
    decrease to the exact critical point next to ``X``) widens the tolerance of "not global" only: a value within it
    of the optimum is undecided, never "global".
    """
    scale = max(info["f_zero"], 1e-300)
    tol = ftol * scale
    wide = tol + (newton_gap or 0.0)
    feasible = info.get("truth_feasible", True)
    holds = convex is not None and convex.holds
    if info.get("noiseless"):
        if f <= tol:
            return True, f"noiseless and f(X) = {f:.3g} <= {tol:.3g} (the optimum is 0)"
        if not feasible:
            return None, ("the ground truth is not a feasible point (search rank below its rank, or its factor is "
                          "not nonnegative): noiseless, but the optimum at this rank is unknown; not decided")
        if holds:
            return None, (f"noiseless: f(X) = {f:.3g} > {tol:.3g} although the convex certificate holds (within its "
                          "tolerance ctol; exactly it would mean f(X) = 0): not decided")
        if f > wide:
            return False, f"noiseless: the optimum is 0 and f(X) = {f:.6g} > {wide:.3g}"
        return None, (f"noiseless: f(X) = {f:.3g} is above {tol:.3g} but within the predicted decrease "
                      f"{newton_gap:.3g} to the critical point next to X, which may be global: not decided")
    if holds:
        return True, f"convex certificate ({convex.kind}): {convex.proves}"
    if not feasible:
        return None, ("the ground truth is not a feasible point (search rank below its rank, or its factor is not "
                      "nonnegative): the optimum is unknown and globality is not decided")
    if info.get("f_truth") is not None:
        ft = info["f_truth"]
        if f > ft + wide:
            return False, (f"noisy: f(X) = {f:.6g} exceeds f at the ground truth ({ft:.6g}), so X is not global "
                           "(the optimum is unknown)")
        return None, (f"noisy and no convex certificate: f(X) = {f:.6g} <= f(truth) = {ft:.6g}; "
                      "globality is not decided")
    return None, "ground truth unknown and no convex certificate: globality is not decided"


@jax.jit
def _values_along(obj, X, D, ts):
    """``f(X)``, ``<grad f(X), D>``, and for each ``t``: ``f(X + t D)``, the cancellation-free change
    ``f(X + t D) - f(X)`` and the size of its terms (:func:`benign.objective.loss_change`)."""
    from benign.objective import values_and_changes

    f0, g = obj.value_and_grad(X)
    return (f0, jnp.sum(g * D)) + values_and_changes(obj, X, ts[:, None, None] * D)


def verify_descent(obj, X, D, *, curvature: float | None = None, t_max: float | None = None,
                   steps: int = 48) -> dict[str, Any]:
    """Evaluate ``f(X + t D) - f(X)`` on ``t = t_top 2^{-k}``, ``k = 0..steps-1``, and report the decrease.

    The change is computed without cancellation (:func:`benign.objective.loss_change`: residual changes from the
    factors, factored differences of ``psi``), so it is resolved even where it is far below the rounding of
    ``f`` itself (data of scale ``1e8`` have ``f ~ 1e32``). ``t_top = min(t_max, max(||X||_F, 1) / ||D||_F)``
    (``t_max`` keeps ``X + t D`` feasible for constrained problems). A ``t`` *verifies* the direction when the
    change is below ``-64 eps size`` (``size``: the sum of its absolute terms, the scale of its rounding) and
    the plain values agree (``f(X + t D) < f(X)``, or the change is within ``64 eps |f(X)|``, the rounding of
    the plain values). The reported ``t`` is the smallest one whose decrease is well resolved (``>= 1e3`` times
    both floors, so that plain evaluations of ``f`` show it too; else the verified one with the largest decrease), with the model
    ``t <g, D> + t^2 curvature / 2`` beside it (``predicted``; the first-order model ``t <g, D>`` when
    ``curvature`` is not given; ``model_agrees``: within 50%). ``witness_t`` (with ``witness_f_after`` and
    ``witness_decrease``) is the tested ``t`` with the largest decrease: the easiest to re-check in another
    implementation. ``verified`` is False when no ``t`` decreases ``f``; ``n_decreasing`` counts the tested
    ``t`` that do.
    """
    X = jnp.asarray(X)
    D = jnp.asarray(D).reshape(X.shape)
    dn = float(np.linalg.norm(np.asarray(D)))
    if dn == 0:
        return {"verified": False, "reason": "zero direction"}
    top = max(float(np.linalg.norm(np.asarray(X))), 1.0) / dn
    if t_max is not None:
        top = min(top, float(t_max))
    ts = top * 0.5 ** np.arange(steps)
    f0, slope, vals, dec, sizes = _values_along(obj, X, D, jnp.asarray(ts))
    f0, slope = float(f0), float(slope)
    vals, dec, sizes = np.asarray(vals), np.asarray(dec), np.asarray(sizes)
    floors = 64 * EPS * np.maximum(sizes, 1e-300)
    plain = 64 * EPS * max(abs(f0), 1e-300)
    ok = (dec < -floors) & ((vals < f0) | (np.abs(dec) <= plain))
    pred = slope * ts + (0.5 * curvature * dn ** 2 * ts ** 2 if curvature is not None else 0.0)
    chosen = None
    if np.any(ok):
        resolved = np.nonzero(ok & (dec <= -1e3 * np.maximum(floors, plain)))[0]  # resolved in plain values too
        chosen = int(resolved[-1]) if resolved.size else int(np.argmin(np.where(ok, dec, np.inf)))
    agrees = bool(chosen is not None and pred[chosen] < 0
                  and abs(dec[chosen] - pred[chosen]) <= 0.5 * abs(pred[chosen]))
    out = {"verified": bool(np.any(ok)), "f_before": f0, "slope": slope, "t_max_tested": float(ts[0]),
           "t_min_tested": float(ts[-1]), "n_decreasing": int(np.sum(ok)),
           "rounding_floor": float(floors.max())}  # (without a verified step: the largest floor tested)
    if chosen is not None:
        best = int(np.argmin(np.where(ok, dec, np.inf)))  # the easiest witness to re-check: the largest decrease
        out.update(t=float(ts[chosen]), f_after=float(vals[chosen]), decrease=float(dec[chosen]),
                   rounding_floor=float(floors[chosen]), predicted=float(pred[chosen]), model_agrees=agrees,
                   witness_t=float(ts[best]), witness_f_after=float(vals[best]), witness_decrease=float(dec[best]),
                   witness_rounding_floor=float(floors[best]))
    return out
