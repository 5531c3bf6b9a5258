"""Counterexample operators: the smallest RIP constant for which a given ``X`` is a spurious second-order point.

Zhang--Sojoudi--Lavaei 2019 (MATH.md §6). For the symmetric problem with ground truth ``M* = Z Z^T``, l2 loss and a
kernel ``H = A^T A`` (``f(X) = 1/2 e^T H e``, ``e = vec(X X^T - Z Z^T)``, plain sum, no ``1/m``)::

    delta*(X, Z) = min_{delta, H} delta
        s.t.  grad f(X) = 0                                  (first order; linear in H)
              Hess f(X) >= margin on the horizontal space    (second order; an LMI in H)
              (1 - delta) I <= H <= (1 + delta) I            (on symmetric matrices)

solved on the ``n(n+1)/2``-dimensional symmetric subspace (see :mod:`benign._cx_formulation` for the coordinates,
the affine maps and the exact symmetry reduction that makes the size independent of ``n``). The optimal kernel is
lifted back to ``vec`` space (vanishing on antisymmetric matrices), factored by
:func:`benign.operators.from_kernel`, wrapped by :func:`benign.instances.from_arrays` and **re-verified with the
library's own machinery** (``full_rank_rip``, the objective's gradient and dense Hessian), never from the SDP status.

Variants:

* ``"full"``: isometry on all symmetric ``n x n`` matrices; the built operator is a genuine ``delta``-RIP operator
  (every rank).
* ``"span"``: isometry imposed only on ``Sym(W)``, ``W = span[X Z]`` (matrices ``Q_W A Q_W^T``, rank
  ``<= rank[X Z] <= r + r*``); elsewhere ``H`` is only PSD. Its value is a threshold for that weaker hypothesis: an
  operator whose restriction to ``Sym(W)`` is ``delta``-isometric with ``delta < delta*_span`` (in particular any
  ``delta``-RIP_{r+r*} operator) cannot have ``X`` as a spurious second-order point with truth ``Z``. The symmetry
  reduction shows ``delta*_span = delta*_full``: the threshold for ``(X, Z)`` is already decided on that subspace.
  ``verified_delta`` is then the isometry constant measured on ``Sym(W)``.

Nonnegative variant (seed 000, :func:`nonneg_counterexample`): ``X >= 0`` and the KKT conditions replace
``grad = 0``: ``G_ij = 0`` where ``X_ij > 0`` and ``G_ij >= margin`` where ``X_ij = 0`` (strict complementarity);
the Hessian restricted to the free coordinates is ``>= margin`` (modulo the part of the rotation orbit's tangent
that lies in them, which must then be ``>= 0``). With strict complementarity and a positive definite free block,
``X`` is a strict local minimum over ``X >= 0``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from benign.errors import check_array, check_bool, check_float

if TYPE_CHECKING:  # (importing benign.instances loads JAX: bad input is refused before that)
    from benign.instances import Instance

VARIANTS = ("full", "span")
METHODS = ("reduced", "direct")
SOLVERS = ("clarabel", "scs")
#: largest ``n`` for which the ``n^2 x n^2`` kernel is built and verified (memory ``8 n^4`` bytes)
MAX_BUILD_N = 48


@dataclass
class CounterexampleResult:
    """The SDP value and the independently verified properties of the operator built from its solution.

    * ``delta``: SDP optimal value; ``dual_value``, ``duality_gap = delta - dual_value`` and ``dual_residual`` (norm
      of the Lagrangian's gradient: the dual value is a valid lower bound when it is ~0);
    * ``verified_delta``: RIP constant of the built operator, from :func:`benign.rip.full_rank_rip` (``"full"``) or
      the isometry constant on ``Sym(span[X Z])`` (``"span"``; ``full_rank_delta`` is reported as well);
    * ``first_order_residual``: ``||grad f(X)||_F`` from the objective (smooth); for ``nonneg`` see ``kkt``;
      ``gradient_scale = 2 ||X||_F ||e||_F lambda_max(H)`` bounds the size a gradient could have;
    * ``second_order_margin``: ``lambda_min`` of the dense ``obj.hessian(X)`` on the horizontal space (smooth) or on
      the free coordinates modulo the orbit (nonneg); a second-order point may have zero curvature;
      ``second_order_test`` says which in words; ``hessian_lambda_min`` is over all directions (with ``X >= 0`` it can
      be negative at a constrained minimum: directions that leave the cone do not count);
    * ``verdict``: ``strict_local_min`` / ``degenerate`` / ``strict_saddle`` / ``not_critical`` from those numbers and
      ``tolerances`` (gradient: ``1e-7 x gradient_scale``; curvature: ``1e-7 x lambda_max(H) (4||X||^2 + 2||e||)``);
      ``spurious``: ``X X^T != Z Z^T`` (``distance`` = ``||X X^T - Z Z^T||_F``) and ``f(X) > 0 = f(Z)`` beyond
      ``tolerances["loss"] = 1e-7 lambda_max(H) distance^2 / 2``, shown by ``loss_value`` or by the bound
      ``(1 - verified_delta) distance^2 / 2`` (an operator that nearly annihilates ``XX^T - ZZ^T`` makes ``X``
      nearly global too);
    * ``verified``: ``X`` is a spurious second-order (KKT) point of the built operator, that operator has
      ``verified_delta < 1``, and the independent ``certificate`` does not contradict it; with ``verified_delta >=
      1`` ``note`` says whether the SDP's dual bound proves that no restricted isometry makes ``X`` spurious;
    * ``lower_bound``: ``(||XX^T||_F^2 - ||Z^T X||_F^2) / (||XX^T - ZZ^T||_F ||XX^T||_F)``, implied by
      ``<grad f(X), X> = 0`` -- every ``delta*`` is at least this.
    """

    delta: float
    dual_value: float
    duality_gap: float
    dual_residual: float
    status: str
    solver: str
    variant: str
    method: str
    margin: float
    nonneg: bool
    n: int
    r: int
    span_dim: int
    lower_bound: float
    verified_delta: float | None = None
    full_rank_delta: float | None = None
    first_order_residual: float | None = None
    gradient_scale: float | None = None
    second_order_margin: float | None = None
    second_order_test: str | None = None
    hessian_lambda_min: float | None = None
    vertical_dim: int = 0
    loss_value: float | None = None
    distance: float | None = None
    spurious: bool | None = None
    note: str | None = None
    verdict: str | None = None
    tolerances: dict[str, float] = field(default_factory=dict)
    kkt: dict[str, Any] | None = None
    certificate: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    instance: Instance | None = None
    X: np.ndarray | None = None
    Z: np.ndarray | None = None
    kernel: np.ndarray | None = None  # H on row-major vec space (n^2 x n^2)

    @property
    def verified(self) -> bool:
        """True when the built operator was re-checked, ``X`` is a spurious second-order (KKT) point of it, it is a
        restricted isometry (``verified_delta < 1``), and the independent certificate does not say otherwise (no
        ``strict_saddle`` / ``not_critical`` / ``spurious: False`` from :func:`benign.certify.certify`)."""
        cert = self.certificate or {}
        disagrees = cert.get("verdict") in ("strict_saddle", "not_critical") or cert.get("spurious") is False
        return bool(self.verdict in ("strict_local_min", "degenerate") and self.spurious and not disagrees
                    and self.verified_delta is not None and self.verified_delta < 1.0)

    def to_dict(self, arrays: bool = False) -> dict[str, Any]:
        """JSON-ready summary (the instance as its description; ``X``, ``Z`` and ``H`` only when ``arrays``)."""
        out = {k: getattr(self, k) for k in (
            "delta", "dual_value", "duality_gap", "dual_residual", "status", "solver", "variant", "method",
            "margin", "nonneg", "n", "r", "span_dim", "lower_bound", "verified_delta", "full_rank_delta",
            "first_order_residual", "gradient_scale", "second_order_margin", "second_order_test",
            "hessian_lambda_min", "vertical_dim", "loss_value", "distance", "spurious", "verdict", "verified", "note",
            "tolerances", "kkt", "certificate", "timings")}
        if self.instance is not None:
            out["instance"] = self.instance.describe()
        if arrays:
            out["X"] = None if self.X is None else np.asarray(self.X).tolist()
            out["Z"] = None if self.Z is None else np.asarray(self.Z).tolist()
            out["kernel_H"] = None if self.kernel is None else np.asarray(self.kernel).tolist()
        return out

    def save(self, path: str) -> str:
        """Write the built instance with ``X`` as its point and the l2 objective it is a point of
        (:func:`benign.io.save_instance`)."""
        if self.instance is None:
            raise ValueError("no instance was built (the SDP failed or build=False)")
        from benign.io import save_instance
        from benign.objective import make_objective

        return save_instance(path, self.instance, point=self.X, objective=make_objective(self.instance))


# ------------------------------------------------------------------------------------------- validation

def _as_factor(name: str, A: Any) -> np.ndarray:
    arr = check_array(name, A, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty n x r array, got shape {arr.shape}")
    return arr


def _validate(X: Any, Z: Any, variant: str, solver: str, margin: float, method: str,
              nonneg: bool) -> tuple[np.ndarray, np.ndarray, float]:
    Xa = _as_factor("X", X)
    Za = _as_factor("Z", Z)
    if Xa.shape[0] != Za.shape[0]:
        raise ValueError(f"X and Z must have the same number of rows n, got {Xa.shape[0]} and {Za.shape[0]}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    margin = check_float("margin", margin, lo=0.0)
    if not np.any(Za):
        raise ValueError("Z must be nonzero (the ground truth Z Z^T is the zero matrix)")
    if Za.shape[1] > Za.shape[0]:
        raise ValueError(f"Z has rank r* = {Za.shape[1]} columns, more than n = {Za.shape[0]}")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by name, not warned about
        for name, A in (("X", Xa), ("Z", Za)):
            if not np.isfinite(np.linalg.norm(A @ A.T)):
                raise ValueError(f"{name} {name}^T overflows float64 (largest |entry| of {name} "
                                 f"{float(np.max(np.abs(A))):.3g}): scale X and Z down together")
    E = Xa @ Xa.T - Za @ Za.T
    if np.linalg.norm(E) <= 1e-12 * max(np.linalg.norm(Za @ Za.T), 1.0):
        raise ValueError("X X^T equals Z Z^T: X is a global minimum, not a spurious point")
    if nonneg and (np.any(Xa < 0) or np.any(Za < 0)):
        raise ValueError(f"the nonnegative variant needs X >= 0 and Z >= 0, got min(X) = {Xa.min():.3g}, "
                         f"min(Z) = {Za.min():.3g}")
    return Xa, Za, margin


def first_order_lower_bound(X: Any, Z: Any) -> float:
    """``(||XX^T||_F^2 - ||Z^T X||_F^2) / (||XX^T - ZZ^T||_F ||XX^T||_F)`` (0 when ``X = 0``).

    ``<grad f(X), X> = 2 e^T H vec(XX^T) = 0`` at a first-order (or KKT) point; writing ``H = I + D`` with
    ``||D|| <= delta`` gives ``|<e, vec(XX^T)>| <= delta ||e|| ||XX^T||``, i.e. ``delta* >=`` this bound.
    """
    Xa, Za = _as_factor("X", X), _as_factor("Z", Z)
    XX = Xa @ Xa.T
    den = np.linalg.norm(XX - Za @ Za.T) * np.linalg.norm(XX)
    if den == 0:
        return 0.0
    return float(abs(np.sum(XX * XX) - np.sum((Za.T @ Xa) ** 2)) / den)


# --------------------------------------------------------------------------------------------- public API

def counterexample(X: Any, Z: Any, *, variant: str = "full", solver: str = "clarabel", margin: float = 0.0,
                   method: str = "reduced", build: bool = True, fallback: bool = True) -> CounterexampleResult:
    """Smallest ``delta`` for which ``X`` (``n x r``) is a spurious second-order point of some RIP-``delta``
    operator with ground truth ``Z Z^T`` (l2 loss, symmetric factorisation); see the module docstring.

    ``margin``: ask for ``Hess f(X) >= margin`` on the horizontal space (absolute; same units as the Hessian) so
    the point is a strict local minimum that survives rounding; ``0`` gives the published ``delta*``.
    ``method="reduced"`` (default) solves the exact symmetry-reduced SDP, whose size does not depend on ``n``;
    ``"direct"`` solves the ``n(n+1)/2``-sided SDP as written (slow beyond ``n ~ 10``; a cross-check).
    ``build=False`` skips building and verifying the operator (needed for ``n > MAX_BUILD_N``).
    """
    Xa, Za, margin = _validate(X, Z, variant, solver, margin, method, nonneg=False)
    build, fallback = check_bool("build", build), check_bool("fallback", fallback)
    from benign import _cx_formulation as F

    t0 = time.perf_counter()
    if method == "reduced":
        form = F.reduced_problem(Xa, Za, variant=variant, margin=margin)
    else:
        form = F.direct_problem(Xa, Za, variant=variant, margin=margin, nonneg=False)
    t_form = time.perf_counter() - t0
    sol = form.problem.solve(solver, fallback=fallback)
    res = _result(sol, Xa, Za, variant, method, margin, False, form)
    res.timings.update(formulate=t_form, solve=sol.solve_time + sol.setup_time)
    if sol.ok and build:
        t1 = time.perf_counter()
        H = F.kernel_from_reduced(form, sol.x) if method == "reduced" else _lift_direct(form, sol.x)
        _build_and_verify(res, H, Xa, Za)
        res.timings["build_verify"] = time.perf_counter() - t1
    return res


def nonneg_counterexample(X: Any, Z: Any, *, margin: float = 0.0, variant: str = "full",
                          solver: str = "clarabel", build: bool = True,
                          fallback: bool = True) -> CounterexampleResult:
    """Smallest ``delta`` for which ``X >= 0`` is a spurious second-order KKT point of ``min_{X >= 0} f`` for some
    RIP-``delta`` operator with truth ``Z Z^T`` (seed 000; MATH.md §6 last paragraph, §4 for the KKT conditions).

    Constraints: ``G = grad f(X)`` vanishes on ``{X_ij > 0}``, ``G_ij >= margin`` on ``{X_ij = 0}``; the Hessian on
    the free coordinates (modulo orbit directions inside them) ``>= margin``. Solved in dimension ``n`` (the
    coordinates matter, so there is no reduction): keep ``n`` small. The built operator is re-verified with the
    objective (KKT residuals, second-order test on the critical cone) and independently by ``benign.certify``.
    """
    Xa, Za, margin = _validate(X, Z, variant, solver, margin, "direct", nonneg=True)
    build, fallback = check_bool("build", build), check_bool("fallback", fallback)
    from benign import _cx_formulation as F

    t0 = time.perf_counter()
    form = F.direct_problem(Xa, Za, variant=variant, margin=margin, nonneg=True)
    t_form = time.perf_counter() - t0
    sol = form.problem.solve(solver, fallback=fallback)
    res = _result(sol, Xa, Za, variant, "direct", margin, True, form)
    res.timings.update(formulate=t_form, solve=sol.solve_time + sol.setup_time)
    if sol.ok and build:
        t1 = time.perf_counter()
        _build_and_verify(res, _lift_direct(form, sol.x), Xa, Za)
        res.timings["build_verify"] = time.perf_counter() - t1
    return res


#: values of eps that :func:`nonneg_rip_family` tries (halved each time) before it reports failure
FAMILY_TRIES = 6


def nonneg_rip_family(delta_target: float, *, n: int = 2, margin_factor: float = 0.5,
                      solver: str = "clarabel", arrays: bool = False) -> tuple[Instance, np.ndarray, dict[str, Any]]:
    """Seed 000 claim (b): a rank-1 nonnegative truth and an operator with RIP constant ``<= delta_target`` having a
    certified spurious nonnegative strict local minimum.

    Pair: ``Z = e_1`` and ``X = eps e_2`` (disjoint supports, so ``X_1 = 0`` is active on the truth's support), with
    ``eps^2 = delta_target / 2`` (the first-order bound gives ``delta* >= eps^2 / sqrt(1 + eps^4)``, and the SDP
    attains about ``eps^2``) and margins ``gamma = margin_factor * eps^3`` (the natural size of ``G``). ``eps`` is
    halved until the verified constant is ``<= delta_target``. Returns ``(instance, X, report)``; ``report`` holds the
    :meth:`CounterexampleResult.to_dict` numbers (with ``X``, ``Z`` and the kernel ``H`` when ``arrays``), ``eps``
    and ``certified`` (bool).
    """
    delta_target = check_float("delta_target", delta_target, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    from benign.errors import check_int

    n = check_int("n", n, minimum=2)
    margin_factor = check_float("margin_factor", margin_factor, lo=0.0, lo_open=True)
    arrays = check_bool("arrays", arrays)
    eps = np.sqrt(delta_target / 2.0)
    last = None
    last_eps = eps
    for _ in range(FAMILY_TRIES):
        X = np.zeros((n, 1))
        X[1, 0] = eps
        Z = np.zeros((n, 1))
        Z[0, 0] = 1.0
        res = nonneg_counterexample(X, Z, margin=margin_factor * eps ** 3, solver=solver)
        last, last_eps = res, eps
        if _certified(res, delta_target):
            break
        eps /= 2.0
    assert last is not None
    report = last.to_dict(arrays=arrays)
    report.update(delta_target=delta_target, eps=float(last_eps), certified=_certified(last, delta_target))
    if not report["certified"] and last.instance is not None:
        lib = last.certificate or {}
        report["note"] = (f"not certified after {FAMILY_TRIES} tries (eps halved each time): the built operator's "
                          f"constant "
                          f"{last.verified_delta!r} (target {delta_target:g}), local verdict {last.verdict!r}, library "
                          f"verdict {lib.get('verdict')!r}; at targets this small the margins 0.5 eps^3 fall below "
                          f"the SDP solvers' accuracy")
    if last.instance is None:
        raise RuntimeError(f"the nonnegative counterexample SDP failed for delta_target = {delta_target}: "
                           f"{last.status}")
    return last.instance, last.X, report


# ------------------------------------------------------------------------------------------ internals

def _result(sol, X, Z, variant, method, margin, nonneg, form) -> CounterexampleResult:
    return CounterexampleResult(
        delta=float(sol.value), dual_value=float(sol.dual_value), duality_gap=float(sol.duality_gap),
        dual_residual=float(sol.dual_residual), status=sol.status, solver=sol.solver, variant=variant,
        method=method, margin=margin, nonneg=nonneg, n=X.shape[0], r=X.shape[1],
        span_dim=int(np.linalg.matrix_rank(np.concatenate([X, Z], axis=1))),
        lower_bound=first_order_lower_bound(X, Z), X=X, Z=Z)


def _lift_direct(form, x: np.ndarray) -> np.ndarray:
    from benign import _cx_formulation as F
    from benign.operators import symmetric_basis

    P = symmetric_basis(form.n)
    H = P @ F.kernel_from_direct(form, x) @ P.T
    return 0.5 * (H + H.T)


def _project_psd_floor(H: np.ndarray) -> np.ndarray:
    """Clip tiny negative eigenvalues (solver rounding) so the kernel factors; the verification sees the result."""
    lam, Q = np.linalg.eigh(H)
    if lam[0] >= 0:
        return H
    lam = np.maximum(lam, 0.0)
    return (Q * lam) @ Q.T


def _build_and_verify(res: CounterexampleResult, H: np.ndarray, X: np.ndarray, Z: np.ndarray) -> None:
    from benign._cx_formulation import horizontal_basis, span_frame
    from benign.instances import from_arrays
    from benign.objective import make_objective
    from benign.operators import from_kernel, symmetric_basis
    from benign.rip import full_rank_rip, restricted_kernel

    n = X.shape[0]
    if n > MAX_BUILD_N:
        raise ValueError(f"building the n^2 x n^2 kernel needs n <= {MAX_BUILD_N}, got n = {n}; use build=False")
    H = _project_psd_floor(H)
    op = from_kernel(H)
    meta = {"kind": "counterexample", "variant": res.variant, "method": res.method, "sdp_delta": res.delta,
            "margin": res.margin, "nonneg": res.nonneg}
    name = f"counterexample({'nonneg,' if res.nonneg else ''}{res.variant},n={n},r={X.shape[1]})"
    inst = from_arrays(op, Z, nonnegative=res.nonneg, name=name, meta=meta)
    obj = make_objective(inst, "l2", nonnegative=res.nonneg)
    rip = full_rank_rip(op)
    res.full_rank_delta = float(rip["delta"])
    if res.variant == "full":
        res.verified_delta = res.full_rank_delta
    else:
        Q, d = span_frame(X, Z)
        Uw = symmetric_basis(n).T @ np.kron(Q[:, :d], Q[:, :d]) @ symmetric_basis(d)
        lam = np.linalg.eigvalsh(Uw.T @ restricted_kernel(op) @ Uw)
        res.verified_delta = float(max(1.0 - lam[0], lam[-1] - 1.0))
    Xj = obj.check_point(X)
    G = np.asarray(obj.grad(Xj))
    Hess = np.asarray(obj.hessian(Xj))
    lam_max_H = float(rip["lambda_max"])
    e_norm = float(np.linalg.norm(X @ X.T - Z @ Z.T))
    res.gradient_scale = 2.0 * float(np.linalg.norm(X)) * e_norm * max(lam_max_H, 1e-300)
    # the Hessian is J^T H J + 2 (S kron I): its natural size is lambda_max(H) (4 ||X||^2 + 2 ||e||)
    curv_scale = max(lam_max_H * (4.0 * float(np.sum(X * X)) + 2.0 * e_norm), 1e-300)
    tol_g = 1e-7 * res.gradient_scale
    tol_h = 1e-7 * curv_scale
    tol_f = 1e-7 * 0.5 * lam_max_H * e_norm ** 2  # f(X) <= lambda_max(H) e^2 / 2
    res.tolerances = {"gradient": tol_g, "curvature": tol_h, "loss": tol_f,
                      "rule": "1e-7 x gradient_scale; 1e-7 x lambda_max(H) (4 ||X||_F^2 + 2 ||XX^T - ZZ^T||_F); "
                              "loss: 1e-7 x lambda_max(H) ||XX^T - ZZ^T||_F^2 / 2"}
    res.loss_value = float(obj.value(Xj))
    res.distance = e_norm
    # spurious: X X^T != Z Z^T and f(X) > 0 = f(Z) beyond the loss tolerance, shown by the loss itself or by the
    # lower bound f(X) >= (1 - delta) e^2 / 2 that the verified constant gives (1 - delta bounds the kernel's smallest
    # eigenvalue on the space of e); an operator that nearly annihilates e makes X (nearly) global as well
    floor = max(1.0 - res.verified_delta, 0.0) * 0.5 * e_norm ** 2
    res.spurious = bool(e_norm > 1e-8 * max(float(np.linalg.norm(Z @ Z.T)), 1e-300)
                        and max(res.loss_value, floor) > tol_f)
    if res.verified_delta >= 1.0:
        proven = res.dual_value >= 1.0  # the SDP's dual bound: no feasible operator has delta < 1
        res.note = (f"delta = {res.verified_delta:.6g} >= 1: the built operator is not a restricted isometry (it may "
                    "annihilate a matrix); " + (
                        "no operator with delta < 1 makes X a spurious second-order point (with this margin; the "
                        f"SDP's dual bound is {res.dual_value:.10g})" if proven else
                        f"delta* = 1 to the solver's accuracy (SDP value {res.delta:.10g}, dual bound "
                        f"{res.dual_value:.10g})"))
    res.hessian_lambda_min = float(np.linalg.eigvalsh(Hess)[0])
    if not res.nonneg:
        B, vdim = horizontal_basis(X)
        res.vertical_dim = vdim
        res.first_order_residual = float(np.linalg.norm(G))
        res.second_order_margin = float(np.linalg.eigvalsh(B.T @ Hess @ B)[0]) if B.shape[1] else float("inf")
        res.verdict = _verdict(res.first_order_residual <= tol_g, res.second_order_margin, tol_h)
        res.second_order_test = "lambda_min of the Hessian on the horizontal space (the rotation orbit removed)"
    else:
        res.kkt = nonneg_second_order(X, G, Hess, tol_g, tol_h)
        res.first_order_residual = res.kkt["stationarity"]
        res.second_order_margin = res.kkt["cone_lambda_min"]
        res.vertical_dim = res.kkt["orbit_dim"]
        res.verdict = res.kkt["verdict"]
        res.second_order_test = ("lambda_min of the Hessian on the critical cone of X >= 0 (kkt.cone_test); "
                                 "hessian_lambda_min is over all directions and can be negative at a constrained "
                                 "minimum")
    res.certificate = _library_certificate(inst, obj, X)
    res.instance = inst
    res.kernel = H


def _verdict(first_order: bool, margin: float, tol_h: float) -> str:
    if not first_order:
        return "not_critical"
    if margin > tol_h:
        return "strict_local_min"
    if margin < -tol_h:
        return "strict_saddle"
    return "degenerate"


def nonneg_second_order(X: np.ndarray, G: np.ndarray, Hess: np.ndarray, tol_g: float, tol_h: float,
                        max_enumerate: int = 12) -> dict[str, Any]:
    """KKT residuals and the second-order test on the critical cone of ``X >= 0`` (MATH.md §4).

    ``G`` is the gradient and ``Hess`` the dense Hessian (row-major ``vec``). Free coordinates ``X_ij > 0``;
    zeros with ``G_ij > tol_g`` are fixed (``D_ij = 0``), zeros with ``|G_ij| <= tol_g`` are *degenerate*
    (``D_ij >= 0``). Without degenerate zeros the cone is the free subspace and the test is ``lambda_min`` of the
    Hessian block there (also reported modulo orbit directions ``X Omega`` supported on the free coordinates,
    ``orbit_dim``). With ``k <= max_enumerate`` degenerate zeros the minimum of ``D^T Hess D / ||D||^2`` over the
    cone is computed exactly by enumerating supports (the minimiser is an eigenvector of a principal block with
    the same-sign entries on the degenerate coordinates it uses); beyond that the verdict is ``degenerate``.
    """
    from benign._cx_formulation import complement_basis

    x = X.reshape(-1)
    g = G.reshape(-1)
    free = x > 0
    zeros = ~free
    stat = float(np.abs(g[free]).max()) if np.any(free) else 0.0
    min_gz = float(g[zeros].min()) if np.any(zeros) else float("inf")
    degenerate = zeros & (np.abs(g) <= tol_g)
    violated = zeros & (g < -tol_g)
    fi = np.nonzero(free)[0]
    Hf = Hess[np.ix_(fi, fi)]
    lam_free = float(np.linalg.eigvalsh(Hf)[0]) if fi.size else float("inf")
    # orbit directions inside the free coordinates
    Vf, flat = _free_orbit(X, zeros)
    orbit_dim = Vf.shape[1]
    lam_mod = lam_free
    kernel_ok = False
    if orbit_dim:
        Vff = np.linalg.qr(Vf[fi])[0]
        B = complement_basis(Vff, fi.size)
        lam_mod = float(np.linalg.eigvalsh(B.T @ Hf @ B)[0]) if B.shape[1] else float("inf")
        kernel_ok = bool(np.linalg.norm(Hf @ Vff) <= tol_h * max(1, orbit_dim))
    out: dict[str, Any] = {"stationarity": stat, "min_grad_on_zeros": min_gz, "free": int(free.sum()),
                           "zeros": int(zeros.sum()), "degenerate_zeros": int(degenerate.sum()),
                           "sign_violations": int(violated.sum()), "free_lambda_min": lam_free,
                           "orbit_dim": orbit_dim, "free_lambda_min_mod_orbit": lam_mod,
                           "strict_complementarity": bool(not np.any(degenerate) and not np.any(violated))}
    if stat > tol_g or np.any(violated):
        out.update(verdict="not_critical", cone_lambda_min=None, cone_test="not a KKT point")
        return out
    if not np.any(degenerate):
        cone = lam_free
        out["cone_test"] = "free subspace (strict complementarity)"
    elif int(degenerate.sum()) <= max_enumerate:
        cone = _cone_min(Hess, fi, np.nonzero(degenerate)[0])
        out["cone_test"] = f"exact enumeration over {int(degenerate.sum())} degenerate zeros"
    else:
        out.update(verdict="degenerate", cone_lambda_min=None,
                   cone_test=f"{int(degenerate.sum())} degenerate zeros: copositivity not tested")
        return out
    if orbit_dim and not np.any(degenerate):
        out.update(orbit_flat=flat, orbit_zero_curvature=kernel_ok)
        if flat and kernel_ok:
            # a flat orbit of equivalent points (X R >= 0, f constant): classify on its complement
            cone = lam_mod
            out["cone_test"] = f"free subspace modulo the {orbit_dim}-dimensional flat orbit (strict in X X^T)"
    out["cone_lambda_min"] = cone
    if cone > tol_h:
        out["verdict"] = "strict_local_min"
    elif cone < -tol_h:
        # with an orbit, negative curvature can only come from outside the quotient
        out["verdict"] = "strict_saddle"
    else:
        out["verdict"] = "degenerate"
    return out


def _free_orbit(X: np.ndarray, zeros: np.ndarray) -> tuple[np.ndarray, bool]:
    """Orbit tangent directions ``X Omega`` vanishing on the zeros of ``X`` (orthonormal columns, row-major
    ``vec``) and whether the orbit stays in ``X >= 0``: ``X expm(t Omega) >= 0`` checked for ``|t|`` in
    ``[1e-4, 1e-1]`` along each generator (exact for ``r = 2``, where the orbit is one-dimensional)."""
    from scipy.linalg import expm

    n, r = X.shape
    if r < 2:
        return np.zeros((n * r, 0)), True
    gens = []
    for k in range(r):
        for l in range(k + 1, r):
            Om = np.zeros((r, r))
            Om[k, l], Om[l, k] = 1.0, -1.0
            gens.append(Om)
    T = np.stack([(X @ Om).reshape(-1) for Om in gens], axis=1)
    if np.any(zeros):
        _, s_, Vt = np.linalg.svd(T[zeros], full_matrices=True)
        tol = 1e-9 * max(float(np.abs(T).max()), 1e-300)
        null = Vt[int(np.sum(s_ > tol)):].T
    else:
        null = np.eye(len(gens))
    if null.shape[1] == 0:
        return np.zeros((n * r, 0)), True
    U, s_, _ = np.linalg.svd(T @ null, full_matrices=False)
    keep = s_ > 1e-9 * max(float(s_.max()), 1e-300) if s_.size else np.zeros(0, bool)
    flat = True
    scale = max(float(np.abs(X).max()), 1e-300)
    for c in null.T:
        Om = sum(ci * G for ci, G in zip(c, gens))
        for t in (1e-4, 1e-3, 1e-2, 1e-1):
            for sgn in (1.0, -1.0):
                if np.min(X @ expm(sgn * t * Om)) < -1e-12 * scale:
                    flat = False
    return U[:, keep], flat


def _cone_min(Hess: np.ndarray, fi: np.ndarray, di: np.ndarray) -> float:
    """``min D^T Hess D / ||D||^2`` over ``D`` free on ``fi``, ``>= 0`` on ``di``, zero elsewhere (exact)."""
    best = float("inf")
    for k in range(di.size + 1):
        for T in combinations(di.tolist(), k):
            idx = np.concatenate([fi, np.asarray(T, dtype=np.int64)]).astype(np.int64)
            if idx.size == 0:
                continue
            lam, vec = np.linalg.eigh(Hess[np.ix_(idx, idx)])
            for j in range(lam.size):
                tail = vec[fi.size:, j]
                if tail.size == 0 or np.all(tail >= -1e-12) or np.all(tail <= 1e-12):
                    best = min(best, float(lam[j]))
                    break
    return best


def _certified(res: "CounterexampleResult", delta_target: float) -> bool:
    """Built operator within the target constant, and BOTH the local check and the library certificate
    (``benign.certify.certify``) say: spurious strict local minimum."""
    lib = res.certificate or {}
    return bool(res.verdict == "strict_local_min" and res.spurious and res.verified_delta is not None
                and res.verified_delta <= delta_target and lib.get("verdict") == "strict_local_min"
                and lib.get("spurious") is True)


def _library_certificate(inst: Instance, obj: Any, X: np.ndarray) -> dict[str, Any] | None:
    """Run ``benign.certify.certify`` on the built instance (verdict and spurious), as an independent check."""
    from benign.certify import certify

    try:
        cert = certify(obj, X, instance=inst)
    except Exception as exc:  # noqa: BLE001 -- report, do not fail the construction
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}
    d = cert.to_dict() if hasattr(cert, "to_dict") else dict(cert)
    keep = ("verdict", "spurious", "grad_norm", "lambda_min", "symmetry_zeros", "certificate_margin")
    return {"available": True, **{k: d.get(k) for k in keep}}
