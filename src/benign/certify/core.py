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

        return certify_nonneg(obj, X, instance=instance, gtol=gtol, htol=htol, method=method, verify=verify, **kw)
    from benign.certify.smooth import certify_smooth

    return certify_smooth(obj, X, instance=instance, gtol=gtol, htol=htol, method=method, verify=verify, **kw)
