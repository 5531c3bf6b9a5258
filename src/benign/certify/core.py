"""``certify(obj, X)``: what a point is, dispatched on the loss and the constraint.

* ``obj.loss.name == "l1"`` -> :func:`benign.certify.l1.certify_l1` (the nonsmooth ladder of MATH.md §4);
* ``obj.nonnegative`` -> :func:`benign.certify.nonneg.certify_nonneg` (KKT + critical-cone test);
* otherwise -> :func:`benign.certify.smooth.certify_smooth` (gradient, horizontal Hessian spectrum, convex
  certificate).

Every certifier returns the shared :class:`~benign.certify.verdicts.Certificate`; tolerances are stated in the
module of each certifier and echoed in ``cert.tolerances``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from benign.certify.spectral import check_method
from benign.certify_settings import (COMMON_SETTINGS, check_certify_setting,  # COMMON_SETTINGS: what certify takes
                                     check_l1_common)
from benign.certify.verdicts import Certificate


def certify(obj, X: Any, *, instance: Any = None, gtol: float = 1e-6, htol: float = 1e-6, method: str = "auto",
            verify: bool = True, **kw: Any) -> Certificate:
    """Certify the point ``X`` of the objective ``obj`` (an :class:`~benign.objective.Objective`).

    ``gtol``: scale-aware stationarity tolerance; ``htol``: relative curvature tolerance; ``method``: ``"auto"``
    (dense Hessian when ``N r <= 600``, ``<= 1500`` for symmetric dense sensing whose Jacobian fits), ``"dense"``
    or ``"lanczos"`` (matrix-free); ``verify``: evaluate ``f`` along every returned escape direction. Extra
    keywords go to the certifier (``ftol``, ``ctol``, ``rank_rtol``, ``seed``; ``xtol``, ``max_enum`` for
    nonnegative points; the l1 certifier's own options), checked by :func:`check_certify_options`.
    A point with fewer columns than the truth's rank is used as given (search rank = its number of columns).
    """
    from benign.objective import check_objective

    check_objective(obj)
    check_method(method)
    gtol, htol, verify = (check_certify_setting(k, v) for k, v in (("gtol", gtol), ("htol", htol),
                                                                   ("verify", verify)))
    check_instance_arg(obj, instance)
    _, certifier = _certifier(obj)
    check_certify_options(obj, kw)
    if "seed" in kw:
        kw["seed"] = check_certify_setting("seed", kw["seed"])
    if obj.loss.name == "l1":
        check_l1_common({"gtol": gtol, "htol": htol, "method": method, "verify": verify})
        return certifier(obj, X, instance=instance, **kw)
    cert = certifier(obj, X, instance=instance, gtol=gtol, htol=htol, method=method, verify=verify, **kw)
    # the two rules that withdraw claims near the truth share the distance, computed once and only if one applies
    near = functools.cache(lambda: _near_noiseless_truth(obj, X, instance, cert))
    return withdraw_strict(localize_spurious(cert, obj, near), obj, near)


def check_instance_arg(obj, instance: Any) -> None:
    """``instance`` (what ``spurious`` is judged against) must be ``None`` or a benign Instance of the objective's
    shape and number of measurements."""
    from benign.instances import check_instance

    if check_instance(instance, "instance", optional=True) is None:
        return
    if tuple(instance.shape) != tuple(obj.shape) or instance.m != obj.operator.m:
        raise ValueError(f"instance {instance.name!r} ({instance.shape[0]} x {instance.shape[1]}, m = {instance.m}) "
                         f"is not the objective's ({obj.shape[0]} x {obj.shape[1]}, m = {obj.operator.m})")


def _certifier(obj):
    """``(kind, function)``: the certifier :func:`certify` uses for ``obj``, l1, nonnegative or smooth."""
    if obj.loss.name == "l1":
        try:
            from benign.certify.l1 import certify_l1
        except ImportError as exc:
            raise NotImplementedError(f"the l1 certifier (benign.certify.l1) is not available: {exc}") from None
        return "l1", certify_l1
    if obj.nonnegative:
        from benign.certify.nonneg import certify_nonneg

        return "nonnegative", certify_nonneg
    from benign.certify.smooth import certify_smooth

    return "smooth", certify_smooth


def check_certify_options(obj, kw: dict, *, common: bool = False) -> dict:
    """``kw`` if every key is a setting of the certifier :func:`certify` uses for ``obj`` (with ``common``, also
    :data:`COMMON_SETTINGS`: for callers that pass ``kw`` to :func:`certify` whole); else ``ValueError`` naming the
    key and listing the settings (callers that certify many points check once, up front)."""
    import inspect

    from benign.errors import suggest

    if not isinstance(kw, dict):
        raise TypeError(f"certificate settings must be a dict, got {kw!r}")
    kind, certifier = _certifier(obj)
    params = inspect.signature(certifier).parameters
    names = [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and n not in COMMON_SETTINGS + ("instance",)]
    names += list(COMMON_SETTINGS) if common else []
    for key in kw:
        if key not in names:
            raise ValueError(f"unknown setting {key!r} for the {kind} certificate{suggest(key, names)}; "
                             f"settings: {', '.join(names)}")
    if kind == "l1" and common:
        check_l1_common(kw)
    return kw


SPURIOUS_RTOL = 1e-3


def _near_noiseless_truth(obj, X: Any, instance: Any, cert: Certificate | None = None) -> tuple | None:
    """``(X, relative error, lower bound on the distance to the global set)`` for a symmetric objective with a
    known truth and noiseless data (every ``YY^T = M*`` is at distance ``>= ||XX^T - M*||_F / (||X||_F +
    ||Z||_F)``); ``None`` otherwise. Noiseless: the ``instance``'s recorded noise is zero, or, without an instance,
    the certificate's reference values say so (``f(truth) <= ftol f(0)``, ``details["reference"]["noiseless"]``):
    the rules that use this only withdraw claims."""
    import numpy as np

    if instance is not None:
        noiseless = instance.noiseless
    else:
        noiseless = bool(cert is not None and (cert.details.get("reference") or {}).get("noiseless"))
    if not (obj.symmetric and obj.truth is not None and noiseless):
        return None
    Xn = obj.check_point(X, host=True)
    dist = float(obj.distance(Xn)) / (float(np.linalg.norm(Xn)) + float(np.linalg.norm(np.asarray(obj.truth))))
    return Xn, float(obj.relative_error(Xn)), dist


def _stationarity_residual(cert: Certificate, obj) -> float:
    """The residual the first-order radius uses: ``||grad f||``, or the KKT residual for ``X >= 0``."""
    if obj.nonnegative:
        return float(cert.details.get("kkt", {}).get("residual", cert.grad_norm))
    return float(cert.grad_norm)


def localize_spurious(cert: Certificate, obj, near: Callable[[], tuple | None], *,
                      spurious_rtol: float = SPURIOUS_RTOL) -> Certificate:
    """Withdraw a ``spurious`` claim that the numbers do not support (noiseless symmetric problems with a known
    truth; ``near()`` is :func:`_near_noiseless_truth` of the point, called only when the rule applies).

    Two rules, both recorded in ``details["localization"]`` (``spurious`` becomes ``None`` and
    ``details["spurious_undecided"]`` says why):

    1. *error floor* (strict and degenerate points): a point with ``||XX^T - M*||_F / ||M*||_F <= spurious_rtol``
       (default ``1e-3``) is never called spurious -- typically an unconverged end point next to the degenerate
       set of global minimisers of an over-parameterised problem;
    2. *localization* (strict local minima): to first order, the minimiser certified near ``X`` lies within
       ``rho = 2 r / lambda_min`` of ``X`` (``r`` the stationarity residual: ``||grad f||``, or the KKT residual
       for ``X >= 0``). Every global minimiser ``Y`` (``YY^T = M*``) is at distance
       ``>= ||XX^T - M*||_F / (||X||_F + ||Z||_F)``. When ``rho`` reaches that bound the nearby minimiser may be a
       global one. This is a first-order estimate (it takes ``lambda_min`` at ``X`` for the whole ball), used only
       to withdraw claims, never to make one.
    """
    from benign.certify.verdicts import DEGENERATE, STRICT_LOCAL_MIN

    if not (cert.spurious and cert.verdict in (STRICT_LOCAL_MIN, DEGENERATE)) or near() is None:
        return cert
    _, rel, dist = near()
    loc: dict[str, Any] = {"relative_error": rel, "spurious_rtol": spurious_rtol,
                           "distance_to_global_set_lower_bound": dist}
    cert.details["localization"] = loc
    if rel <= spurious_rtol:
        cert.spurious = None
        cert.details["spurious_undecided"] = (
            f"relative error {rel:.3g} <= {spurious_rtol:g}: too close to the global set to call spurious")
        return cert
    lam = cert.lambda_min
    if cert.verdict != STRICT_LOCAL_MIN or lam is None or not lam > 0:
        return cert
    rho = 2.0 * _stationarity_residual(cert, obj) / float(lam)
    loc["radius"] = rho
    if rho >= dist:
        cert.spurious = None
        cert.details["spurious_undecided"] = (
            f"the strict minimiser near X lies within 2r/lambda_min = {rho:.3g} of X (first-order estimate), which "
            f"does not exclude the global minimisers (distance >= {dist:.3g}); converge further")
    return cert


def withdraw_strict(cert: Certificate, obj, near: Callable[[], tuple | None], *,
                    spurious_rtol: float = SPURIOUS_RTOL) -> Certificate:
    """Withdraw a ``strict_local_min`` verdict next to a degenerate global set (smooth or nonnegative, noiseless,
    symmetric, search rank ``r`` above the truth's rank ``r*``; ``near()`` is :func:`_near_noiseless_truth` of the
    point, called only when the rule applies).

    A ``strict_local_min`` at a point ``X`` that is critical only to tolerance says: the critical point next to
    ``X`` is a strict local minimum (the Hessian at ``X`` is positive definite on the horizontal space). With
    ``r > r*`` the global minimisers ``Y`` (``YY^T = M*``) form a degenerate set (flat directions that move the
    spare columns), so when that set may be the critical point next to ``X`` -- the relative error is at most
    ``spurious_rtol``, or the first-order radius ``2 r / lambda_min`` (``r`` the gradient norm) reaches the lower
    bound ``||XX^T - M*||_F / (||X||_F + ||Z||_F)`` on the distance to it (``r`` the KKT residual for ``X >= 0``,
    whose global set ``{Y >= 0 : YY^T = M*}`` is not isolated either: a column of ``Z`` split over two columns,
    ``[z cos t, z sin t]``, stays nonnegative) -- strictness is not proven: the verdict
    becomes ``degenerate`` (``spurious = None``) and ``details["strict_withdrawn"]`` says why. Typically an end
    point of an unconverged run of an over-parameterised problem, from which ``f`` still decreases towards the
    global set.
    """
    import numpy as np

    from benign.certify.verdicts import DEGENERATE, STRICT_LOCAL_MIN

    if not (cert.verdict == STRICT_LOCAL_MIN and cert.details.get("kind") in ("smooth", "nonnegative")) \
            or near() is None:
        return cert
    Xn, rel, dist = near()
    r, r_star = Xn.shape[1], np.asarray(obj.truth).shape[1]
    if r <= r_star:
        return cert
    lam = cert.lambda_min
    radius = 2.0 * _stationarity_residual(cert, obj) / float(lam) if lam is not None and lam > 0 else float("inf")
    if rel <= spurious_rtol or radius >= dist:
        why = (f"relative error {rel:.3g} <= {spurious_rtol:g}" if rel <= spurious_rtol else
               f"the first-order radius 2 (stationarity residual) / lambda_min = {radius:.3g} reaches the distance "
               f"bound {dist:.3g} to the global set")
        cert.verdict, cert.spurious = DEGENERATE, None
        cert.details["strict_withdrawn"] = (
            f"{why}: the critical point next to X may be a global minimiser, and with search rank "
            f"{r} > rank {r_star} of the truth those are degenerate (not strict)")
    return cert
