"""Theorem conditions as margin functions (MATH.md §7).

Every evaluator returns a :class:`TheoremCheck`: ``holds`` (the hypothesis-checkable condition),
``margin`` (signed; ``holds`` iff ``margin > 0`` for strict inequalities, ``>= 0`` for non-strict ones) and, where
the theorem gives one, the implied ``bound``. The RIP constant ``delta`` is an input: pass an *upper bound* on the
constant the theorem names (``delta_{r+r*}``, ``delta_{2r}``, ``delta_n``, ...); every condition below gets harder
and every bound weaker as ``delta`` grows, so an upper bound such as :func:`benign.rip.full_rank_rip`'s exact
full-rank constant (which bounds every ``delta_k``) keeps the conclusions valid.

Setting of seed 001's theorems: symmetric ``M* = Z Z^T`` (``r*`` columns), noiseless ``b = A(M*)``,
``f(X) = 1/2 ||A(X X^T) - b||^2`` (plain sum; Thm 6 adds ``lam/l ||A(X X^T) - b||_l^l``), ``X in R^{n x r}``,
``D = ||X X^T - M*||_F``, ``sigma_r(X)`` the ``r``-th singular value of ``X`` (0 when rank-deficient),
``lambda_{r*}(M*)`` the smallest nonzero eigenvalue of ``M*``.

=====================  =========================================================================================
:func:`thm3`           first-order point with ``D^2 > 2 (1+d)/(1-d) tr(M*) sigma_r^2`` is a strict saddle with
                       ``lambda_min <= 2 (1+d) sigma_r^2 - D^2 (1-d)/tr(M*)``
:func:`thm5`           ``||M*||_F tr(M*) / lambda_{r*}^2 <= sqrt(r)/(2 sqrt 2) (1+d)^{1/2} (1-d)^{7/2}``
                       => every second-order point is global
:func:`thm6`           high-order version of Thm 3 (``l >= 2`` even, ``C(l) = m^{(2-l)/2}((2^l - 1)/l - 1)``)
:func:`zhang_zhang`    second-order point with ``D <= tau lambda_{r*}(M*)``, ``tau in (0, 1 - d^2)`` => ground truth
:func:`sharp_rank1`    ``r = r* = 1``: ``d < 1/2`` => no spurious second-order point (Zhang--Sojoudi--Lavaei 2019)
:func:`rank1_local`    ``f(x0) <= (1 - d)^2 f(0)`` => descent from ``x0`` recovers ``M*`` (same paper)
:func:`zhang2022`      ``r > r* [(1+d_n)/(1-d_n) - 1]^2 / 4`` (``r* <= r < n``) => every SOP is global
:func:`zhang2021`      ``d < 1/(1 + sqrt(r*/r))`` => every SOP is global
:func:`bhojanapalli`   ``delta_{2r} <= 1/5`` => no spurious SOP (Bhojanapalli et al. 2016)
:func:`recht`          ``delta_{5r*} <= 1/10`` => the SDP relaxation is exact (Recht et al. 2010)
=====================  =========================================================================================
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from benign.errors import check_array, check_float, check_int


@dataclass(frozen=True)
class TheoremCheck:
    """The outcome of one theorem's condition (see the module docstring)."""

    name: str
    reference: str
    holds: bool
    margin: float
    conclusion: str
    bound: float | None = None
    bound_meaning: str | None = None
    applicable: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _delta(delta: Any, name: str = "delta") -> float:
    return check_float(name, delta, lo=0.0, hi=1.0, hi_open=True)


def _factor(name: str, A: Any) -> np.ndarray:
    arr = check_array(name, A, ndim=(1, 2))
    return arr[:, None] if arr.ndim == 1 else arr


def truth_summary(Z: Any) -> dict[str, float]:
    """``tr(M*)``, ``||M*||_F``, ``lambda_{r*}(M*)`` (smallest nonzero eigenvalue) and ``r*`` from ``Z``."""
    Z = _factor("Z", Z)
    s = np.linalg.svd(Z, compute_uv=False)
    ev = s ** 2
    nz = ev[ev > 1e-12 * max(ev.max(initial=0.0), 1e-300)]
    return {"trace": float(np.sum(ev)), "fro": float(np.sqrt(np.sum(ev ** 2))),
            "lambda_rstar": float(nz.min()) if nz.size else 0.0, "rank": int(nz.size)}


def point_summary(X: Any, Z: Any) -> dict[str, float]:
    """``D = ||X X^T - Z Z^T||_F`` (from the factors) and ``sigma_r(X)`` (``r`` = number of columns of ``X``)."""
    X = _factor("X", X)
    Z = _factor("Z", Z)
    if X.shape[0] != Z.shape[0]:
        raise ValueError(f"X and Z must have the same number of rows, got {X.shape} and {Z.shape}")
    from benign.instances import product_distance  # (QR-based: no cancellation next to the truth)

    s = np.linalg.svd(X, compute_uv=False)
    r = X.shape[1]
    sigma_r = float(s[r - 1]) if s.size >= r else 0.0
    return {"D": product_distance(X, X, Z, Z), "sigma_r": sigma_r, "r": r}


def _reason(applicable: bool, why: str) -> dict[str, str]:
    """``{"not_applicable": why}`` when the theorem's setting does not hold, else nothing."""
    return {} if applicable else {"not_applicable": why}


def _zero_truth(name: str, reference: str, conclusion: str,
                why: str = "M* = 0: the condition divides by tr(M*)") -> TheoremCheck:
    """A theorem whose condition divides by a quantity of ``M*`` that vanishes (``tr M*``, ``lambda_{r*}(M*)``):
    not applicable, with the reason."""
    return TheoremCheck(name, reference, False, float("nan"), conclusion, applicable=False,
                        details={"not_applicable": why})


def thm3(delta: float, X: Any, Z: Any) -> TheoremCheck:
    """Seed 001, Thm 3 (needs ``RIP_{r+r*}`` with ``delta``; applies at first-order critical points)."""
    d = _delta(delta)
    t, p = truth_summary(Z), point_summary(X, Z)
    tr, D, s = t["trace"], p["D"], p["sigma_r"]
    if tr == 0:
        return _zero_truth("thm3", "seed 001 (Ma, Chen, Lavaei, Sojoudi), Theorem 3",
                           "a first-order critical point is a strict saddle")
    rhs = 2 * (1 + d) / (1 - d) * tr * s ** 2
    bound = 2 * (1 + d) * s ** 2 - D ** 2 * (1 - d) / tr
    return TheoremCheck("thm3", "seed 001 (Ma, Chen, Lavaei, Sojoudi), Theorem 3", D ** 2 > rhs, D ** 2 - rhs,
                        "a first-order critical point is a strict saddle", bound,
                        "upper bound on lambda_min(Hessian) at a critical point",
                        details={"D": D, "sigma_r": s, "trace": tr, "threshold": rhs, "delta": d})


def thm5(delta: float, Z: Any, r: int) -> TheoremCheck:
    """Seed 001, Thm 5: a condition on ``M*`` alone (search rank ``r``)."""
    d = _delta(delta)
    r = check_int("r", r, minimum=1)
    t = truth_summary(Z)
    if not t["lambda_rstar"] > 0:
        return _zero_truth("thm5", "seed 001, Theorem 5", "every second-order critical point satisfies X X^T = M*",
                           "lambda_{r*}(M*) = 0 (M* = 0 or a rank-deficient Z): the condition divides by it")
    lhs = t["fro"] * t["trace"] / t["lambda_rstar"] ** 2
    rhs = np.sqrt(r) / (2 * np.sqrt(2)) * np.sqrt(1 + d) * (1 - d) ** 3.5
    return TheoremCheck("thm5", "seed 001, Theorem 5", bool(lhs <= rhs), float(rhs - lhs),
                        "every second-order critical point satisfies X X^T = M*",
                        details={"lhs": lhs, "rhs": float(rhs), "delta": d, "r": r})


def c_of_l(l: int, m: int) -> float:
    """``C(l) = m^{(2-l)/2} ((2^l - 1)/l - 1)`` (seed 001, Thm 6)."""
    return float(m ** ((2 - l) / 2) * ((2 ** l - 1) / l - 1))


def thm6(delta: float, X: Any, Z: Any, lam: float, l: int, m: int) -> TheoremCheck:
    """Seed 001, Thm 6 for ``f + lam f^l`` (``l >= 2`` even, ``m`` measurements); reduces to Thm 3 at ``lam = 0``."""
    d = _delta(delta)
    lam = check_float("lam", lam, lo=0.0)
    l = check_int("l", l, minimum=2)
    if l % 2:
        raise ValueError(f"l must be even, got {l}")
    m = check_int("m", m, minimum=1)
    t, p = truth_summary(Z), point_summary(X, Z)
    tr, D, s = t["trace"], p["D"], p["sigma_r"]
    if tr == 0:
        return _zero_truth("thm6", "seed 001, Theorem 6",
                           "a first-order critical point of f + lam f^l is a strict saddle")
    C = c_of_l(l, m)
    Dl = D ** (l - 2)
    num = (1 + d) + lam * (l - 1) * (1 + d) ** (l / 2) * Dl
    den = (1 - d) / 2 + lam * C * (1 - d) ** (l / 2) * Dl
    rhs = tr * s ** 2 * num / den
    bound = (2 * (1 + d) * s ** 2 - D ** 2 * (1 - d) / tr) + lam * Dl * (
        2 * (1 + d) ** (l / 2) * (l - 1) * s ** 2 - 2 * (1 - d) ** (l / 2) * C * D ** 2 / tr)
    return TheoremCheck("thm6", "seed 001, Theorem 6", D ** 2 >= rhs, D ** 2 - rhs,
                        "a first-order critical point of f + lam f^l is a strict saddle", bound,
                        "upper bound on lambda_min(Hessian) at a critical point",
                        details={"D": D, "sigma_r": s, "trace": tr, "threshold": rhs, "C_l": C, "delta": d,
                                 "lam": lam, "l": l, "m": m})


def zhang_zhang(delta: float, X: Any, Z: Any, tau: float | None = None) -> TheoremCheck:
    """Zhang & Zhang 2020 (seed 001, Thm 4). Without ``tau`` the best admissible one is used: the condition is
    then ``D < (1 - delta^2) lambda_{r*}(M*)`` (``tau`` ranges over the open interval)."""
    d = _delta(delta)
    t, p = truth_summary(Z), point_summary(X, Z)
    lim = 1 - d ** 2
    if not t["lambda_rstar"] > 0:
        return _zero_truth("zhang_zhang", "Zhang & Zhang 2020 (NeurIPS)",
                           "a second-order critical point is the ground truth",
                           "lambda_{r*}(M*) = 0 (M* = 0 or a rank-deficient Z): the neighbourhood D < tau "
                           "lambda_{r*}(M*) is empty")
    if tau is None:
        margin = lim * t["lambda_rstar"] - p["D"]
        holds = margin > 0
    else:
        tau = check_float("tau", tau, lo=0.0, hi=lim, lo_open=True, hi_open=True)
        margin = tau * t["lambda_rstar"] - p["D"]
        holds = margin >= 0
    return TheoremCheck("zhang_zhang", "Zhang & Zhang 2020 (NeurIPS)", bool(holds), float(margin),
                        "a second-order critical point is the ground truth",
                        details={"D": p["D"], "lambda_rstar": t["lambda_rstar"], "tau": tau, "tau_sup": lim})


def sharp_rank1(delta: float, r: int = 1, r_star: int = 1) -> TheoremCheck:
    """Zhang--Sojoudi--Lavaei 2019: for ``r = r* = 1``, ``delta_2 < 1/2`` excludes spurious SOPs (sharp)."""
    d = _delta(delta)
    r = check_int("r", r, minimum=1)
    r_star = check_int("r_star", r_star, minimum=1)
    app = r == 1 and r_star == 1
    return TheoremCheck("sharp_rank1", "Zhang, Sojoudi, Lavaei 2019 (JMLR 20(114))", bool(app and d < 0.5),
                        0.5 - d, "no spurious second-order critical point (rank 1)", applicable=app,
                        details={"delta": d, "r": r, "r_star": r_star, "threshold": 0.5,
                                 **_reason(app, f"needs r = r* = 1, got r = {r}, r* = {r_star}")})


def rank1_local(delta: float, f_x0: float, f_zero: float) -> TheoremCheck:
    """ZSL 2019 local guarantee: ``f(x0) <= (1 - delta)^2 f(0)``: no spurious SOP in that sublevel set."""
    d = _delta(delta)
    f_x0 = check_float("f_x0", f_x0, lo=0.0)
    f_zero = check_float("f_zero", f_zero, lo=0.0)
    lim = (1 - d) ** 2 * f_zero
    return TheoremCheck("rank1_local", "Zhang, Sojoudi, Lavaei 2019", f_x0 <= lim, lim - f_x0,
                        "local descent from x0 recovers M* (rank 1)", lim, "largest admissible f(x0)",
                        details={"delta": d, "f_x0": f_x0, "f_zero": f_zero})


def zhang2022(delta_n: float, r: int, r_star: int, n: int | None = None) -> TheoremCheck:
    """Zhang 2022 (over-parameterisation): ``r > r* [(1+d)/(1-d) - 1]^2 / 4`` with ``r* <= r < n``."""
    d = _delta(delta_n, "delta_n")
    r = check_int("r", r, minimum=1)
    r_star = check_int("r_star", r_star, minimum=1)
    thr = r_star * ((1 + d) / (1 - d) - 1) ** 2 / 4
    app = r >= r_star and (n is None or r < check_int("n", n, minimum=1))
    return TheoremCheck("zhang2022", "R. Y. Zhang 2022, arXiv:2207.01789", bool(app and r > thr), r - thr,
                        "every second-order critical point satisfies X X^T = M*", thr, "rank threshold",
                        applicable=app, details={"delta_n": d, "r": r, "r_star": r_star,
                                                 **_reason(app, f"needs r* <= r < n, got r = {r}, r* = {r_star}"
                                                           + ("" if n is None else f", n = {n}"))})


def zhang2021(delta: float, r: int, r_star: int) -> TheoremCheck:
    """Zhang 2021: ``delta < 1/(1 + sqrt(r*/r))`` => every SOP is global (``1/2`` at ``r = r*``)."""
    d = _delta(delta)
    r = check_int("r", r, minimum=1)
    r_star = check_int("r_star", r_star, minimum=1)
    thr = 1 / (1 + np.sqrt(r_star / r))
    app = r >= r_star
    return TheoremCheck("zhang2021", "R. Y. Zhang 2021 (sharp global guarantee, over-parameterised)",
                        bool(app and d < thr), float(thr - d), "every second-order critical point is global",
                        float(thr), "largest admissible delta", applicable=app,
                        details={"delta": d, "r": r, "r_star": r_star,
                                 **_reason(app, f"needs r >= r*, got r = {r}, r* = {r_star}")})


def bhojanapalli(delta_2r: float) -> TheoremCheck:
    """Bhojanapalli, Neyshabur, Srebro 2016: ``delta_{2r} <= 1/5``."""
    d = _delta(delta_2r, "delta_2r")
    return TheoremCheck("bhojanapalli", "Bhojanapalli et al. 2016 (NeurIPS)", d <= 0.2, 0.2 - d,
                        "every second-order critical point is global", 0.2, "largest admissible delta_2r")


def recht(delta_5r: float) -> TheoremCheck:
    """Recht, Fazel, Parrilo 2010: ``delta_{5r*} <= 1/10`` => the nuclear-norm / SDP relaxation is exact."""
    d = _delta(delta_5r, "delta_5r")
    return TheoremCheck("recht", "Recht, Fazel, Parrilo 2010 (SIAM Review)", d <= 0.1, 0.1 - d,
                        "the SDP relaxation recovers M*", 0.1, "largest admissible delta_5r")


#: the theorems about the l2 objective's landscape (all but Thm 6, about ``f + lam f^l``, and Recht et al., about the
#: convex relaxation)
L2_THEOREMS = ("thm3", "thm5", "sharp_rank1", "rank1_local", "zhang2022", "zhang2021", "zhang_zhang", "bhojanapalli")


def _not_applicable(check: TheoremCheck, reason: str) -> TheoremCheck:
    """``check`` with ``applicable = holds = False`` and the reason in ``details["not_applicable"]`` (the margin is
    kept as information)."""
    from dataclasses import replace

    return replace(check, holds=False, applicable=False, details={**check.details, "not_applicable": reason})


def evaluate(instance: Any, X: Any | None = None, *, loss: Any = None, delta: float | None = None,
             nonnegative: bool = False) -> list[TheoremCheck]:
    """Every evaluator that applies to a symmetric ``instance`` (and the point ``X`` if given).

    The theorems are about noiseless data (``b = A(M*)``) and the l2 loss (Thm 6: ``f + lam f^l``): on a noisy
    instance every check is marked ``applicable = False`` (``holds = False``, the reason in
    ``details["not_applicable"]``), and with another ``loss`` (``lp``, ``huber``, ``l1``; for ``mixed`` all but Thm 6)
    the checks about the l2 objective are, since the point certified is one of another objective; with
    ``nonnegative`` (the point is certified under ``X >= 0``) every statement about the unconstrained landscape is
    (only Recht et al.'s, about the convex relaxation, stays).

    ``delta`` defaults to the exact full-rank constant of :func:`benign.rip.full_rank_rip` (an upper bound on every
    ``delta_k``; needs a small ``n``) plus the bound on its rounding (``delta_upper``): a condition such as
    ``delta < 1/2`` is never declared to hold on a computed ``0.4999999999999998`` whose exact value is ``1/2``.
    Point-dependent theorems (3, 6, Zhang--Zhang, the rank-1 local guarantee) need ``X``; Thm 6 is evaluated for a
    ``mixed`` loss (either scale: ``scale=mean`` divides the sum by ``m``, with the same critical points and saddles).
    ``loss`` is a :class:`~benign.losses.Loss` or a spec string.
    """
    from benign.instances import check_instance

    check_instance(instance, "instance")
    if not instance.symmetric:
        raise ValueError("the theorems of MATH.md §7 are stated for symmetric problems")
    if isinstance(loss, str):
        from benign.specs import parse_loss

        loss = parse_loss(loss)
    elif loss is not None and not hasattr(loss, "name"):
        raise TypeError(f"loss must be a Loss or a loss spec string, got {type(loss).__name__}")
    if delta is not None:
        delta = check_float("delta", delta, lo=0.0)
    else:
        from benign.rip import full_rank_rip

        n = instance.shape[0]
        if n > 30:
            raise ValueError(f"pass delta: computing the full-rank RIP constant needs n <= 30, got n = {n}")
        delta = full_rank_rip(instance.operator)["delta_upper"]
    if delta >= 1:
        return []
    Z = instance.truth_left
    r_star = Z.shape[1]
    r = r_star if X is None else _factor("X", X).shape[1]
    out = [thm5(delta, Z, r), sharp_rank1(delta, r, r_star), zhang2022(delta, r, r_star, instance.shape[0]),
           zhang2021(delta, r, r_star), bhojanapalli(delta), recht(delta)]
    if X is not None:
        out += [thm3(delta, X, Z), zhang_zhang(delta, X, Z)]
        if loss is not None and loss.name == "mixed":  # (scale=mean is the sum over m: the same critical points)
            out.append(thm6(delta, X, Z, loss.lam, loss.l, instance.m))
        if r == 1 and r_star == 1:
            from benign._jax import jnp
            from benign.objective import make_objective

            obj = make_objective(instance, "l2")
            f0 = float(obj.value(jnp.zeros((instance.shape[0], 1))))
            fx = float(obj.value(jnp.asarray(_factor("X", X))))
            out.append(rank1_local(delta, fx, f0))
    name = getattr(loss, "name", "l2")
    if not instance.noiseless:
        return [_not_applicable(c, "noisy measurements: the theorems assume b = A(M*)") for c in out]
    if name != "l2":
        out = [_not_applicable(c, f"a statement about the l2 objective; the point is certified for the {name} loss")
               if c.name in L2_THEOREMS else c for c in out]
    if nonnegative:
        out = [_not_applicable(c, "a statement about the unconstrained problem; the point is certified under X >= 0")
               if c.name in L2_THEOREMS + ("thm6",) and c.applicable else c for c in out]
    return out
