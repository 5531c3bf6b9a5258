"""The convex (global) certificate, MATH.md §4.

Write ``f(X) = h(M(X))`` with ``h(M) = c sum_i psi(A(M)_i - b_i)``, convex in ``M`` for every loss offered
(l2, lp, mixed, huber, l1). Its gradient (a subgradient for l1, with ``sign(0) = 0``) is
``G = nabla h(M) = c A*(psi'(rho))``.

**Symmetric** (``kind = "psd"``): with ``S_bar = (G + G^T)/2``, if ``S_bar >= 0`` and ``S_bar X = 0`` then
``M = X X^T`` satisfies the KKT conditions of the convex problem ``min_{M >= 0} h(M)`` (PSD cone), so ``M`` is a
minimiser of ``h`` over all PSD matrices and ``X`` is a global minimum of ``f`` for *every* search rank.
``margin = lambda_min(S_bar)``; ``first_order = ||S_bar X||_F`` (``= ||grad f||_F / 2``).

**Asymmetric** (``kind = "nuclear"``), via the nuclear-norm equivalence
``min_M h(M) + nu ||M||_* = min_{U,V} h(U V^T) + (nu/2)(||U||_F^2 + ||V||_F^2)``: if
``||G||_op <= nu``, ``G V = -nu U`` and ``G^T U = -nu V`` then ``M = U V^T`` minimises ``h + nu ||.||_*`` over all
``d1 x d2`` matrices and ``(U, V)`` is a global minimum of the nuclear-regularised factored problem at every rank.
``margin = nu - ||G||_op``; ``first_order = max(||G V + nu U||_F, ||G^T U + nu V||_F)``.
The objective ``f`` of :mod:`benign.objective` is the case ``nu = 0`` (plus the balancing term
``(mu/4)||U^T U - V^T V||_F^2``, which is 0 at a balanced point and never below 0): then the certificate says
``G = 0``, i.e. ``M`` minimises ``h`` over *all* matrices, and ``X`` is a global minimum of ``f`` for every search
rank provided ``mu = 0`` or ``U^T U = V^T V`` (checked to tolerance, ``balance_gap``). ``nu > 0`` certifies the
regularised problem only, never ``f``.

Tolerances (scale-aware): with ``s_ref = max(||S_bar(0)||_2, ||S_bar(X)||_2)`` (symmetric; ``||G||_op`` in the
asymmetric case, ``S_bar(0)`` being the gradient at ``M = 0``), the certificate holds when
``margin >= -tol * s_ref`` and ``first_order <= tol * s_ref * ||X||_F`` (and ``balance_gap <= tol ||X||_F^2``).

Spectra: dense when ``n <= DENSE_N`` (``A*(y)`` formed, ``n x n``), otherwise matrix-free block Lanczos
(symmetric, :func:`benign.certify.spectral.extreme_eigs`) or
``svds`` (asymmetric) on products ``A*(y) v`` through ``adjoint_matmul`` / ``adjoint_rmatmul``: a completion
operator is never densified.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.certify.spectral import check_method, extreme_eigs

#: dense eigen/singular values of ``S_bar`` / ``G`` up to this side length (``auto``)
DENSE_N = 300


@dataclass
class ConvexCertificate:
    """Outcome of the global certificate; see the module docstring for every field's meaning."""

    holds: bool
    kind: str
    margin: float
    margin_rel: float
    first_order: float
    scale: float
    tol: float
    top: float
    method: str
    proves: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@jax.jit
def _weights(obj, X):
    """``c psi'(rho)`` (the objective's own first-order weights)."""
    from benign.objective import _weights as objective_weights

    return objective_weights(obj, X)[1]


@jax.jit
def _sbar_mm(op, w, V):
    """``S_bar V`` for a block ``V`` (``n x b``) through the operator's factored adjoint products."""
    return 0.5 * (op.adjoint_matmul(w, V) + op.adjoint_rmatmul(w, V))


def _sym_extremes(op, w, method: str, seed: int):
    n = op.shape[0]
    if method == "dense" or (method == "auto" and n <= DENSE_N):
        S = np.asarray(op.adjoint(w))
        ev, V = np.linalg.eigh(0.5 * (S + S.T))
        return float(ev[0]), float(ev[-1]), V[:, 0], "dense"
    ex = extreme_eigs(lambda V: np.asarray(_sbar_mm(op, w, jnp.asarray(V))), n, seed=seed)
    return ex.lambda_min, ex.lambda_max, ex.vec_min, ex.method if ex.converged else ex.method + " (not converged)"


def _op_norm(op, w, method: str, seed: int) -> tuple[float, str]:
    d1, d2 = op.shape
    if method == "dense" or (method == "auto" and max(d1, d2) <= DENSE_N):
        return float(np.linalg.norm(np.asarray(op.adjoint(w)), 2)), "dense"
    from scipy.sparse.linalg import LinearOperator, svds

    mv = jax.jit(lambda y, v: op.adjoint_matmul(y, v[:, None])[:, 0])
    rmv = jax.jit(lambda y, u: op.adjoint_rmatmul(y, u[:, None])[:, 0])
    L = LinearOperator((d1, d2), matvec=lambda v: np.asarray(mv(w, jnp.asarray(v.reshape(-1)))),
                       rmatvec=lambda u: np.asarray(rmv(w, jnp.asarray(u.reshape(-1)))), dtype=float)
    v0 = np.random.default_rng(seed).standard_normal(min(d1, d2))
    s = svds(L, k=1, which="LM", v0=v0, tol=1e-10, return_singular_vectors=False)
    return float(s[0]), "svds"


@partial(jax.jit, static_argnames="dense")
def _sym_data(obj, X, dense):
    """Weights at ``X`` and at 0, ``||S_bar X||_F``, ``||X||_F`` and (``dense``) both ``S_bar`` matrices."""
    w = _weights(obj, X)
    w0 = _weights(obj, jnp.zeros_like(X))
    op = obj.operator
    sx = jnp.linalg.norm(0.5 * (op.adjoint_matmul(w, X) + op.adjoint_rmatmul(w, X)))
    mats = None
    if dense:
        S, S0 = op.adjoint(w), op.adjoint(w0)
        mats = (0.5 * (S + S.T), 0.5 * (S0 + S0.T))
    return w, w0, sx, jnp.linalg.norm(X), mats


def _extremes_from(S, op, w, method, seed):
    if S is not None:
        ev, V = np.linalg.eigh(np.asarray(S))
        return float(ev[0]), float(ev[-1]), V[:, 0], "dense"
    return _sym_extremes(op, w, method, seed)


def _checked(obj, X, tol: float, method: str, seed: int):
    """The arguments of the certificates, checked (``TypeError``/``ValueError`` naming the offending one): a benign
    Objective, a finite point of its shape, ``tol`` a verdict tolerance (``(0, TOLERANCE_MAX]``: a loose one
    would let a saddle pass), a spectrum method and a seed."""
    from benign.certify_settings import check_certify_setting
    from benign.objective import check_objective

    check_objective(obj)
    X = jnp.asarray(obj._point_array(X, "X"))  # the point as given (X >= 0 is not part of this certificate)
    return X, check_certify_setting("tol", tol), check_method(method), check_certify_setting("seed", seed)


def symmetric_certificate(obj, X, *, tol: float = 1e-6, method: str = "auto", seed: int = 0
                          ) -> ConvexCertificate:
    """The PSD certificate ``S_bar >= 0, S_bar X = 0`` (symmetric objectives; module docstring)."""
    X, tol, method, seed = _checked(obj, X, tol, method, seed)
    if not obj.symmetric:
        raise ValueError("symmetric_certificate needs a symmetric objective; use asymmetric_certificate")
    op = obj.operator
    dense = method == "dense" or (method == "auto" and op.shape[0] <= DENSE_N)
    w, w0, sx, xn, mats = _sym_data(obj, X, dense)
    sx, xn = float(sx), float(xn)
    lmin, lmax, vmin, how = _extremes_from(None if mats is None else mats[0], op, w, method, seed)
    l0min, l0max, _, _ = _extremes_from(None if mats is None else mats[1], op, w0, method, seed + 1)
    scale = max(abs(l0min), abs(l0max), abs(lmin), abs(lmax), 1e-300)
    # an unconverged Ritz value only bounds lambda_min(S_bar) from above: never certify on it
    holds = bool(lmin >= -tol * scale and sx <= tol * scale * xn and "not converged" not in how)
    proves = ("M = X X^T minimises h over the PSD cone: X is a global minimum of f for every search rank"
              if holds else "nothing (certificate fails)")
    return ConvexCertificate(holds, "psd", lmin, lmin / scale, sx, scale, tol, lmax, how, proves,
                             {"sbar_norm_at_zero": max(abs(l0min), abs(l0max)), "x_norm": xn,
                              # a unit u with u^T S_bar u = lambda_min < -tol * scale (a failed certificate only)
                              "violating_direction": None if holds or lmin >= 0 else np.asarray(vmin).tolist()})


@jax.jit
def _gv(op, w, U, V):
    return op.adjoint_matmul(w, V), op.adjoint_rmatmul(w, U)


def asymmetric_certificate(obj, X, *, nuclear: float = 0.0, tol: float = 1e-6, method: str = "auto",
                           seed: int = 0) -> ConvexCertificate:
    """The nuclear-norm certificate ``||G||_op <= nu`` with first-order conditions (module docstring)."""
    from benign.errors import check_float

    X, tol, method, seed = _checked(obj, X, tol, method, seed)
    if obj.symmetric:
        raise ValueError("asymmetric_certificate needs an asymmetric objective; use symmetric_certificate")
    nuclear = check_float("nuclear (nu)", nuclear, lo=0.0)
    op = obj.operator
    U, V = obj.split(X)
    w = _weights(obj, X)
    gnorm, how = _op_norm(op, w, method, seed)
    g0, _ = _op_norm(op, _weights(obj, jnp.zeros_like(X)), method, seed + 1)
    scale = max(g0, gnorm, 1e-300)
    GV, GtU = _gv(op, w, U, V)
    fo = max(float(jnp.linalg.norm(GV + nuclear * U)), float(jnp.linalg.norm(GtU + nuclear * V)))
    xn = float(jnp.linalg.norm(X))
    gap = float(jnp.linalg.norm(U.T @ U - V.T @ V))
    margin = nuclear - gnorm
    ok = margin >= -tol * scale and fo <= tol * scale * xn
    need_balance = nuclear == 0 and obj.balance > 0
    balanced = gap <= tol * max(xn ** 2, 1e-300)
    holds = bool(ok and (balanced or not need_balance))
    if not holds:
        proves = "nothing (certificate fails)"
    elif nuclear == 0:
        proves = ("G = 0: M = U V^T minimises h over all matrices; X is a global minimum of f for every "
                  "search rank" + (" (balanced point, so the balancing term is 0)" if obj.balance > 0 else ""))
    else:
        proves = (f"M = U V^T minimises h(M) + {nuclear:g} ||M||_*; (U, V) is a global minimum of "
                  f"h(UV^T) + {nuclear / 2:g}(||U||^2 + ||V||^2) for every rank (not a statement about f)")
    return ConvexCertificate(holds, "nuclear", margin, margin / scale, fo, scale, tol, gnorm, how, proves,
                             {"nuclear": nuclear, "grad_op_norm_at_zero": g0, "balance_gap": gap,
                              "balance_required": need_balance, "x_norm": xn})


def global_certificate(obj, X, *, tol: float = 1e-6, method: str = "auto", seed: int = 0,
                       nuclear: float = 0.0) -> ConvexCertificate:
    """The certificate that applies to ``obj`` (PSD for symmetric objectives, nuclear-norm otherwise)."""
    if obj.symmetric:
        return symmetric_certificate(obj, X, tol=tol, method=method, seed=seed)
    return asymmetric_certificate(obj, X, nuclear=nuclear, tol=tol, method=method, seed=seed)
