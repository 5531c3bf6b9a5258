"""Certificates for smooth losses (l2, lp, mixed; huber with a caveat), MATH.md §4.

Numbers reported for a point ``X`` (shape ``(N, r)``):

* ``grad_norm = ||grad f(X)||_F`` (absolute) and the scale-aware ``stationarity_gap``
  ``= ||grad f||_F / (||X||_F * max(2 ||S_bar||_2, |lambda|_max))`` where ``S_bar = sym(c A*(psi'(rho)))``
  (``||G||_op`` for asymmetric objectives) and ``|lambda|_max`` is the largest Hessian eigenvalue in modulus on
  ``H_X``. For the data term ``||grad f|| = ||2 S_bar X|| <= 2 ||S_bar||_2 ||X||_F``, so the ratio is at most about 1,
  and near a nondegenerate critical point it is about the relative distance to it. ``X`` is *critical* when
  ``stationarity_gap <= gtol`` (``X = 0`` is always critical: ``grad f(0) = 0``).
* ``lambda_min``, ``lambda_max``: extreme eigenvalues of the Hessian restricted to the horizontal space
  ``H_X = V_X^perp`` (:mod:`benign.certify.symmetry`); ``symmetry_zeros = dim V_X``, counted separately.
  The curvature tolerance is ``h_abs = htol * max(|lambda_min|, |lambda_max|)``.
* ``certificate_margin``: the convex certificate's margin (:mod:`benign.certify.convex`).

Verdicts, in this order: ``not_critical`` (gap above ``gtol``; the escape direction is ``-grad f``),
``strict_saddle`` (``lambda_min < -h_abs``; escape direction = the eigenvector, sign chosen so that
``<grad f, D> <= 0``), ``global_min`` (convex certificate, or the optimum is known and attained: see
:mod:`benign.certify.checks`), ``strict_local_min`` (``lambda_min > h_abs`` and a strict local minimum proven to
exist next to ``X``: :mod:`benign.certify.existence`, ``details["existence"]``), else ``degenerate`` (a second-order
point with flat horizontal directions, or positive curvature without that proof: not claimed to be a minimum).
``spurious`` is True for a second-order point proven not global, False for a global one, None when undecided or for
non-minima. Escape directions are verified by evaluating ``f`` along them (``details["escape_check"]``).

Over-parameterised and rank-deficient points: the vertical space shrinks with the numerical rank (tolerance
``rank_rtol``), and the directions that move the zero columns are *not* symmetries; at a global minimum with
``r > r*`` they are flat (``details["flat_directions"]``), so the point is not strict, but the convex certificate
still proves it global.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.certify import verdicts as V
from benign.certify.checks import decide_global, optimum_info, verify_descent
from benign.certify.convex import global_certificate
from benign.certify.existence import strict_minimum_nearby
from benign.certify.spectral import check_method, hessian_spectrum
from benign.certify.symmetry import RANK_RTOL, vertical_space
from benign.certify.verdicts import Certificate
from benign.certify_settings import check_certify_setting


#: the rounding allowance added to the computed gradient norm in the existence proof, relative to ``grad_scale``
GRAD_ROUNDING = 1e3 * float(np.finfo(float).eps)


def check_tolerances(**tols: float) -> dict[str, float]:
    """Validate relative tolerances by :data:`benign.certify_settings.SETTING_RULES` (``ValueError`` naming the
    offending one): verdict tolerances lie in ``(0, TOLERANCE_MAX]`` (a loose one would call a visibly non-critical
    point critical), ``rank_rtol`` in ``(0, 1)``."""
    return {k: check_certify_setting(k, v) for k, v in tols.items()}


def default_ctol(gtol: float, htol: float, ctol: float | None) -> float:
    """The convex certificate's tolerance: ``min(gtol, htol)`` unless given, so that loosening one local test never
    loosens the global claim."""
    return min(gtol, htol) if ctol is None else check_certify_setting("ctol", ctol)


def _relative_error(obj, X) -> float | None:
    e = float(obj.relative_error(X))
    return None if not np.isfinite(e) else e


@jax.jit
def _summary(obj, X):
    """``f``, ``grad f``, ``||grad f||``, ``||X||`` and the relative error in one compiled call."""
    f, g = obj.value_and_grad(X)
    return f, g, jnp.linalg.norm(g), jnp.linalg.norm(X), obj.relative_error(X)


def certify_smooth(obj, X: Any, *, instance: Any = None, gtol: float = 1e-6, htol: float = 1e-6,
                   ftol: float = 1e-10, ctol: float | None = None, method: str = "auto", verify: bool = True,
                   rank_rtol: float = RANK_RTOL, seed: int = 0) -> Certificate:
    """Certify ``X`` for a smooth loss (module docstring). ``ctol`` (default ``min(gtol, htol)``) is the convex
    certificate's tolerance, ``ftol`` the relative value tolerance of globality checks, ``seed`` the Lanczos start."""
    tols = check_tolerances(gtol=gtol, htol=htol, ftol=ftol, rank_rtol=rank_rtol)
    ctol = default_ctol(gtol, htol, ctol)
    check_method(method)
    if obj.loss.name == "l1":
        raise ValueError("certify_smooth does not handle the l1 loss; use benign.certify.certify")
    X = obj.check_point(X)
    r = int(X.shape[1])
    f, g, gnorm, xnorm, relerr = _summary(obj, X)
    f, gnorm, xnorm, relerr = float(f), float(gnorm), float(xnorm), float(relerr)
    if not (np.isfinite(f) and np.isfinite(gnorm)):  # the objective's own check, on the values computed here
        obj._finite(X, jnp.asarray([f, gnorm]), "the loss or its gradient")

    vert = vertical_space(obj, X, rank_rtol)
    spec = hessian_spectrum(obj, X, vert, method=method, seed=seed)
    lmin, lmax = spec.lambda_min, spec.lambda_max
    convex = global_certificate(obj, X, tol=ctol, method=method, seed=seed)
    dual = 2 * max(abs(convex.margin), abs(convex.top)) if convex.kind == "psd" else convex.top
    gscale = xnorm * max(dual, abs(lmin), abs(lmax))
    gap = gnorm / gscale if gscale > 0 else (0.0 if gnorm == 0 else float("inf"))
    h_abs = htol * max(abs(lmin), abs(lmax))
    info = optimum_info(obj, r, ftol)

    details: dict[str, Any] = {
        "kind": "smooth", "factorization": obj.factorization, "loss_spec": obj.loss.describe(),
        "search_rank": r, "truth_rank": None if obj.truth is None else int(np.asarray(obj.truth).shape[1]),
        "hessian_converged": spec.converged,
        # matrix-free: ||P H v - theta v|| of the Ritz pairs the stopping test waited for (min, then max): each
        # theta is within its residual of an eigenvalue, the bound behind lambda_min / lambda_max
        "hessian_residuals": None if spec.residuals is None else [float(v) for v in spec.residuals],
        "grad_rel": gap, "grad_scale": gscale, "hess_abs_tol": h_abs,
        "symmetry": vert.describe(), "hessian_method": spec.method, "hessian_matvecs": spec.matvecs,
        "horizontal_dim": spec.horizontal_dim, "vertical_curvature": spec.vertical_curvature,
        "convex_certificate": convex.to_dict(), "reference": info,
    }
    if details["truth_rank"] is not None:
        details["over_parameterised"] = r > details["truth_rank"]
    if spec.full_min is not None:
        details["full_space_lambda_min"] = spec.full_min
        details["full_space_lambda_max"] = spec.full_max
    if spec.eigenvalues is not None:
        details["flat_directions"] = int(np.sum(np.abs(spec.eigenvalues) <= h_abs))
    if not obj.loss.smooth:
        details["caveat"] = (f"the {obj.loss.name} loss is only C^1: the Hessian uses psi'' where it exists; "
                             "a residual exactly at a kink makes the second-order test inexact")
    if instance is not None:
        details["instance"] = getattr(instance, "name", None)

    escape = None
    spurious = None
    if gap > gtol:
        verdict = V.NOT_CRITICAL
        escape = -np.asarray(g) / gnorm
        if verify:
            curv = float(jnp.sum(jnp.asarray(escape) * obj.hvp(X, jnp.asarray(escape))))
            details["escape_check"] = verify_descent(obj, X, escape, curvature=curv)
    elif lmin < -h_abs:
        verdict = V.STRICT_SADDLE
        D = np.asarray(spec.vec_min).reshape(X.shape)
        if float(np.sum(np.asarray(g) * D)) > 0:
            D = -D
        escape = D
        if verify:
            details["escape_check"] = verify_descent(obj, X, D, curvature=lmin)
        if convex.holds:
            details["inconsistent"] = "negative curvature although the convex certificate holds (tolerances)"
    else:
        strict = lmin > h_abs
        # an unconverged Lanczos lambda_min is only an upper bound: no Newton widening from it
        newton_gap = gnorm ** 2 / (2 * lmin) if strict and spec.converged else None
        is_global, reason = decide_global(f, info, ftol=ftol, convex=convex, newton_gap=newton_gap)
        details["global_reason"] = reason
        details["strict"] = bool(strict)
        if is_global:
            verdict, spurious = V.GLOBAL_MIN, False
        else:
            if strict and not spec.converged:
                strict = False
                details["strict"] = False
                details["note"] = ("Lanczos did not converge: the reported lambda_min is only an upper bound, so the "
                                   "point is not claimed strict (use method='dense' or a looser tolerance)")
            if strict:
                # a strict local minimum must exist next to X, not only positive curvature at X
                ritz = spec.residuals[0] if spec.residuals else 0.0  # matrix-free: the Ritz pair's residual
                proof = strict_minimum_nearby(obj, np.asarray(X), lam=lmin - max(h_abs, ritz), grad_norm=gnorm,
                                              grad_allowance=GRAD_ROUNDING * gscale, vertical=vert)
                proof["lambda_from"] = ("dense eigendecomposition" if spec.method == "dense" else
                                        f"{spec.method} Ritz value (an upper bound on the smallest eigenvalue: one "
                                        f"the Krylov space missed is not seen)")
                details["existence"] = proof
                if not proof["proved"]:
                    strict = False
                    details["strict"] = False
                    details["strict_withdrawn"] = (
                        "positive curvature on the horizontal space, but no critical point near X could be proven to "
                        f"exist: {proof['reason']}")
            verdict = V.STRICT_LOCAL_MIN if strict else V.DEGENERATE
            spurious = True if is_global is False else None
    return Certificate(
        verdict=verdict, spurious=spurious, loss=f, grad_norm=gnorm, lambda_min=lmin, lambda_max=lmax,
        symmetry_zeros=vert.dim, certificate_margin=convex.margin, escape_direction=escape,
        stationarity_gap=gap, relative_error=relerr if np.isfinite(relerr) else None,
        tolerances={**tols, "ctol": ctol, "grad_abs_tol": gtol * gscale, "hess_abs_tol": h_abs,
                    "f_abs_tol": ftol * max(info["f_zero"], 1e-300)},
        details=details)
