"""``certify(obj, X)``: what a point is, dispatched on the loss and the constraint.

* ``obj.loss.name == "l1"`` -> :func:`benign.certify.l1.certify_l1` (the nonsmooth ladder of MATH.md §4);
* ``obj.nonnegative`` -> :func:`benign.certify.nonneg.certify_nonneg` (KKT + critical-cone test);
* otherwise -> :func:`benign.certify.smooth.certify_smooth` (gradient, horizontal Hessian spectrum, convex
  certificate).

Every certifier returns the shared :class:`~benign.certify.verdicts.Certificate`; tolerances are stated in the
module of each certifier and echoed in ``cert.tolerances``.
"""
from __future__ import annotations

from typing import Any

from benign.certify.spectral import check_method
from benign.certify.verdicts import Certificate


def certify(obj, X: Any, *, instance: Any = None, gtol: float = 1e-6, htol: float = 1e-6, method: str = "auto",
            verify: bool = True, **kw: Any) -> Certificate:
    """Certify the point ``X`` of the objective ``obj`` (an :class:`~benign.objective.Objective`).

    ``gtol``: scale-aware stationarity tolerance; ``htol``: relative curvature tolerance; ``method``: ``"auto"``
    (dense Hessian when ``N r <= 600``), ``"dense"`` or ``"lanczos"`` (matrix-free); ``verify``: evaluate ``f``
    along every returned escape direction. Extra keywords go to the certifier (``ftol``, ``ctol``, ``rank_rtol``,
    ``seed``; ``xtol``, ``max_enum`` for nonnegative points; the l1 certifier's own options).
    A point with fewer columns than the truth's rank is used as given (search rank = its number of columns).
    """
    from benign.objective import Objective

    if not isinstance(obj, Objective):
        raise TypeError(f"obj must be a benign Objective, got {type(obj).__name__}")
    check_method(method)
    if not isinstance(verify, bool):
        raise TypeError(f"verify must be a bool, got {verify!r}")
    if obj.loss.name == "l1":
        try:
            from benign.certify.l1 import certify_l1
        except ImportError as exc:
            raise NotImplementedError(f"the l1 certifier (benign.certify.l1) is not available: {exc}") from None
        return certify_l1(obj, X, instance=instance, **kw)
    if obj.nonnegative:
        from benign.certify.nonneg import certify_nonneg

        cert = certify_nonneg(obj, X, instance=instance, gtol=gtol, htol=htol, method=method, verify=verify, **kw)
    else:
        from benign.certify.smooth import certify_smooth

        cert = certify_smooth(obj, X, instance=instance, gtol=gtol, htol=htol, method=method, verify=verify, **kw)
    return localize_spurious(cert, obj, X, instance)


def localize_spurious(cert: Certificate, obj, X: Any, instance: Any = None) -> Certificate:
    """Withdraw a ``spurious`` claim that the numbers do not support (noiseless symmetric problems).

    A strict local minimum is certified at ``X`` only up to its stationarity tolerance: what is proved is that a
    strict local minimiser lies within ``rho = 2 ||grad f(X)||_F / lambda_min`` of ``X``. Every global minimiser
    ``Y`` (``Y Y^T = M*``) is at distance ``>= ||X X^T - M*||_F / (||X||_F + ||Z||_F)`` from ``X`` (because
    ``||XX^T - YY^T|| <= ||X - Y|| (||X|| + ||Y||)`` and ``||Y||_F = ||Z||_F``). When ``rho`` reaches that lower
    bound the nearby minimiser may be a global one: ``spurious`` becomes ``None`` and ``details["spurious_undecided"]``
    says why. (Typical case: an unconverged end point next to the degenerate set of global minima of an
    over-parameterised problem.)
    """
    import numpy as np

    from benign.certify.verdicts import STRICT_LOCAL_MIN

    if not (cert.spurious and cert.verdict == STRICT_LOCAL_MIN and obj.symmetric and obj.truth is not None):
        return cert
    noise = None if instance is None else instance.noise
    if noise is not None and np.any(np.asarray(noise) != 0):
        return cert
    lam = cert.lambda_min
    if lam is None or not lam > 0:
        return cert
    Xn = np.asarray(obj.check_point(X))
    rho = 2.0 * float(cert.grad_norm) / float(lam)
    dist = float(obj.distance(Xn)) / (float(np.linalg.norm(Xn)) + float(np.linalg.norm(np.asarray(obj.truth))))
    cert.details["localization"] = {"radius": rho, "distance_to_global_set_lower_bound": dist}
    if rho >= dist:
        cert.spurious = None
        cert.details["spurious_undecided"] = (
            f"the strict minimiser near X lies within 2||g||/lambda_min = {rho:.3g} of X, which does not exclude the "
            f"global minimisers (distance >= {dist:.3g}); converge further before calling it spurious")
    return cert
