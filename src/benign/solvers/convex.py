"""The convex baseline: semidefinite relaxations solved with CVXPY (Clarabel, SCS as fallback). Small problems only.

Symmetric problems (``M = X X^T``), variable ``M`` symmetric ``n x n``:

* ``mode="trace"`` (noiseless recovery): ``min tr(M)  s.t.  A(M) = b,  M >= 0``;
* ``mode="loss"``: ``min c sum_i psi(A(M)_i - b_i) + trace_weight * tr(M)  s.t.  M >= 0`` with the objective's own
  convex loss ``psi`` (l2: the least-squares SDP; also lp, mixed, l1, huber).

Asymmetric problems (``M = U V^T``) use the nuclear norm ``||M||_*`` in place of ``tr(M)`` and no PSD constraint.

The solution is *checked*, not trusted: ``details`` reports the relative residual ``||A(M) - b|| / ||b||``, the error
``||M - M*||_F / ||M*||_F`` when the truth is known, the solver's status, ``M``'s eigenvalues (singular values) and its
numerical rank (``#{lambda_i > rank_tol * lambda_max}``). Status ``converged`` requires a solver status ``optimal``
(or ``optimal_inaccurate``) **and** the checks: in trace mode a residual ``<= feas_tol``; in loss mode for smooth
losses the optimality conditions of ``min_{M >= 0} h(M)`` through the bound
``h(M) - h(M') <= |<S, M>| + max(0, -lambda_min(S)) tr(M)`` (``S = grad h(M) + trace_weight I``, ``tr(M')`` taken as
``tr(M)``), required to be ``<= feas_tol * h(0)``. Otherwise the status is ``stalled`` and ``message`` says which
check failed.

``Result.x`` is the rank-``r`` factor of ``M`` from its eigendecomposition, ``X = V_r Lambda_r^{1/2}`` (``U = U_r
Sigma_r^{1/2}``, ``V = V_r Sigma_r^{1/2}``); ``r`` defaults to the truth's rank when known, else the numerical
rank. Interior-point solutions of the least-squares SDP carry small spurious eigenvalues (about ``1e-6`` relative with
Clarabel's default tolerances), so ``numerical_rank`` can exceed the true rank there; trace minimisation is accurate
to about ``1e-15``. When the factor leaves out more than that -- ``truncation_error = ||M - X X^T||_F / ||M||_F >
sqrt(rank_tol)`` (``1e-3``), e.g. a rank-2 solution with too few measurements and ``r = 1``, or the least-squares
SDP fitting noise -- the status still describes the SDP and its checks, and the message says that the point returned
is a rank-``r`` truncation (its loss and gradient are the truncation's). Size limit: ``max(d1, d2) <= max_dim``
(default 30); beyond it a ``ValueError`` is raised (the SDP has ``O(n^2)`` variables and a dense sensing operator
``m n^2`` coefficients).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from benign.errors import check_choice, check_int
from benign.solver_options import CONVEX_MAX_DIM, METHOD_OPTIONS, check_convex_size
from benign.solvers.base import Solver, relative_error
from benign.solvers.result import Result

MODES = METHOD_OPTIONS["convex"]["mode"]
SOLVERS = METHOD_OPTIONS["convex"]["solver"]


@dataclass(frozen=True)
class ConvexBaseline(Solver):
    """Settings of the convex baseline; see the module docstring."""

    mode: str = "trace"
    trace_weight: float = 0.0
    solver: str = "auto"
    max_dim: int = CONVEX_MAX_DIM
    feas_tol: float = 1e-6
    rank_tol: float = 1e-6
    verbose: bool = False

    name = "convex"
    jitted = False

    def validate(self, obj) -> None:
        check_choice("convex mode", self.mode, MODES)
        check_choice("convex solver", self.solver, SOLVERS)
        for name in ("trace_weight", "feas_tol", "rank_tol"):
            self.setting(name)
        check_convex_size(*obj.operator.shape, self.setting("max_dim"))
        if obj.nonnegative:
            raise ValueError("the convex baseline does not model X >= 0 (its relaxation M >= 0 elementwise "
                             "is not implemented); build the objective with nonnegative=False")
        if obj.loss.name in ("lp", "mixed") and self.mode == "loss" and obj.loss.l > 8:
            raise ValueError(f"mode='loss' supports l <= 8 for high-order losses, got l = {obj.loss.l}")


def _measure(cp, op, M):
    """``A(M)`` as a CVXPY expression, without densifying completion or rank-one operators."""
    kind = op.kind
    if kind == "completion":
        return cp.multiply(np.asarray(op.weights), M[np.asarray(op.rows), np.asarray(op.cols)])
    if kind == "rank-one":
        a, c = np.asarray(op.a), np.asarray(op.c)
        return cp.sum(cp.multiply(a @ M, c), axis=1)
    A = np.asarray(op.full_rows())  # dense: rows are row-major vec(A_i)
    return A @ cp.vec(M, order="C")


def _loss_expr(cp, loss, rho, m):
    c = loss.factor(m)
    if loss.name == "l2":
        return c * 0.5 * cp.sum_squares(rho)
    if loss.name == "l1":
        return c * cp.norm1(rho)
    if loss.name == "huber":
        return c * 0.5 * cp.sum(cp.huber(rho, loss.huber_delta))
    high = cp.sum(cp.power(rho, loss.l)) / loss.l
    if loss.name == "lp":
        return c * high
    return c * (0.5 * cp.sum_squares(rho) + loss.lam * high)


def _factor(obj, M: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` factor of ``M`` and ``M``'s spectrum (eigenvalues descending, or singular values)."""
    if obj.symmetric:
        lam, V = np.linalg.eigh(0.5 * (M + M.T))
        lam, V = lam[::-1], V[:, ::-1]
        return V[:, :rank] * np.sqrt(np.maximum(lam[:rank], 0.0)), lam
    U, s, Vt = np.linalg.svd(M)
    sq = np.sqrt(s[:rank])
    return np.concatenate([U[:, :rank] * sq, Vt[:rank].T * sq], axis=0), s


def solve_convex(obj, settings: ConvexBaseline, rank: int | None = None) -> Result:
    """Solve the relaxation for ``obj`` and return a checked :class:`Result` (see the module docstring)."""
    import cvxpy as cp

    from benign._sdp import solver_output_to_stderr

    from benign._jax import jnp

    settings.validate(obj)
    op = obj.operator
    d1, d2 = op.shape
    b = np.asarray(obj.b)
    if obj.symmetric:
        M = cp.Variable((d1, d1), PSD=True)
        reg = cp.trace(M)
    else:
        M = cp.Variable((d1, d2))
        reg = cp.normNuc(M)
    rho = _measure(cp, op, M) - b
    if settings.mode == "trace":
        problem = cp.Problem(cp.Minimize(reg), [rho == 0])
    else:
        problem = cp.Problem(cp.Minimize(_loss_expr(cp, obj.loss, rho, op.m) + settings.trace_weight * reg))
    order = {"auto": ["CLARABEL", "SCS"], "clarabel": ["CLARABEL"], "scs": ["SCS"]}[settings.solver]
    attempts = []
    best = None
    t0 = time.perf_counter()
    for name in order:
        try:
            with solver_output_to_stderr(), warnings.catch_warnings():
                # CVXPY warns on "optimal_inaccurate": that status is recorded in attempts, and the solution's
                # residual and error are checked below whatever the status
                warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
                problem.solve(solver=name, verbose=settings.verbose)
            status = problem.status
        except cp.error.SolverError as exc:  # pragma: no cover - depends on the installed solvers
            attempts.append({"solver": name, "status": f"error: {exc}"})
            continue
        attempts.append({"solver": name, "status": status})
        if M.value is not None:
            best = (name, status, np.array(M.value, dtype=float), problem.solver_stats)
            if status == cp.OPTIMAL:
                break
    seconds = time.perf_counter() - t0
    if best is None:
        Mv = np.zeros((d1, d2))
        used, status, stats = order[-1], attempts[-1]["status"] if attempts else "not run", None
    else:
        used, status, Mv, stats = best
    return _checked_result(obj, settings, rank, Mv, used, status, stats, attempts, seconds, jnp)


def _checked_result(obj, settings, rank, Mv, used, status, stats, attempts, seconds, jnp) -> Result:
    op = obj.operator
    b = np.asarray(obj.b)
    if obj.symmetric:
        Mv = 0.5 * (Mv + Mv.T)
    Mj = jnp.asarray(Mv)
    resid = float(np.linalg.norm(np.asarray(op.forward(Mj)) - b) / max(np.linalg.norm(b), 1e-300))
    _, spectrum = _factor(obj, Mv, 1)
    top = float(np.max(np.abs(spectrum))) if spectrum.size else 0.0
    num_rank = int(np.sum(spectrum > settings.rank_tol * top)) if top > 0 else 0
    if rank is not None:
        r = check_int("rank", rank, minimum=1)
    elif obj.truth is not None:
        r = int(np.shape(obj.truth)[1])
    else:
        r = max(num_rank, 1)
    X, _ = _factor(obj, Mv, r)
    product = X @ X.T if obj.symmetric else X[: op.shape[0]] @ X[op.shape[0]:].T
    truncation = float(np.linalg.norm(Mv - product) / max(np.linalg.norm(Mv), 1e-300))
    details: dict[str, Any] = {
        "mode": settings.mode, "solver": used, "solver_status": status, "attempts": attempts,
        "residual": resid, "numerical_rank": num_rank, "truncation_error": truncation,
        "trace": float(np.trace(Mv)) if obj.symmetric else None,
        "nuclear_norm": float(np.sum(np.abs(spectrum))),
        "spectrum": spectrum[: min(10, spectrum.size)].tolist(),
        "min_eigenvalue": float(spectrum[-1]) if obj.symmetric else None,
        "solver_iterations": getattr(stats, "num_iters", None) if stats is not None else None,
    }
    if obj.truth is not None:
        T = np.asarray(obj.truth)
        Mstar = T @ T.T if obj.symmetric else T[: op.shape[0]] @ T[op.shape[0]:].T
        details["matrix_relative_error"] = float(np.linalg.norm(Mv - Mstar) / max(np.linalg.norm(Mstar), 1e-300))
    optimal = status in ("optimal", "optimal_inaccurate")
    problems = []
    if not optimal:
        problems.append(f"solver status {status!r}")
    if settings.mode == "trace":
        if resid > settings.feas_tol:
            problems.append(f"residual {resid:.3g} > feas_tol {settings.feas_tol:g}")
    elif (obj.loss.smooth or obj.loss.name == "huber") and obj.symmetric:  # h differentiable: a tight bound
        # optimality of min_{M >= 0} h(M) + w tr(M): with S = grad h(M) + w I, for every PSD M',
        # h(M) - h(M') <= <S, M - M'> <= <S, M> + max(0, -lambda_min(S)) tr(M'); bound it with tr(M') ~ tr(M)
        c = obj.loss.factor(op.m)
        w = c * np.asarray(obj.loss.dpsi(jnp.asarray(np.asarray(op.forward(Mj)) - b)))
        S = np.asarray(op.adjoint(jnp.asarray(w)))
        S = 0.5 * (S + S.T) + settings.trace_weight * np.eye(S.shape[0])
        lmin = float(np.linalg.eigvalsh(S)[0])
        gap = abs(float(np.sum(S * Mv))) + max(0.0, -lmin) * max(float(np.trace(Mv)), 0.0)
        h0 = float(c * np.sum(np.asarray(obj.loss.psi(jnp.asarray(-b))))) + 0.0
        details["kkt_lambda_min"] = lmin
        details["kkt_gap"] = gap
        if gap > settings.feas_tol * max(h0, 1e-300):
            problems.append(f"optimality gap bound {gap:.3g} > feas_tol * h(0) = {settings.feas_tol * h0:.3g}")
    if settings.mode != "trace":
        details["kkt_checked"] = "kkt_gap" in details
    Xj = jnp.asarray(X)
    loss = float(obj.value(Xj))
    gnorm = float(np.linalg.norm(np.asarray(obj.grad(Xj))))
    err = float(relative_error(obj, Xj)) if obj.truth is not None else float("nan")
    if problems:
        status_out, message = "stalled", "convex solution failed its checks: " + "; ".join(problems)
    else:
        status_out = "converged"
        if settings.mode == "trace":
            message = f"converged: solver {used} {status}, residual checked"
        elif "kkt_gap" in details:
            message = f"converged: solver {used} {status}, optimality conditions checked"
        else:  # l1 (sign(0) is no optimal subgradient: the bound would not close) or asymmetric
            message = (f"converged: solver {used} {status}; optimality conditions not checked (the check covers "
                       f"differentiable losses on symmetric problems): the solver's status is trusted here")
    if truncation > np.sqrt(settings.rank_tol):  # the checks are about M; the point returned is not M's factor
        message += (f"; the point returned is the rank-{r} truncation of a solution of numerical rank {num_rank} "
                    f"(||M - X X^T||_F / ||M||_F = {truncation:.3g}): loss, grad_norm and relative_error are the "
                    f"truncation's, details.matrix_relative_error the solution's (ask for rank {num_rank} for all "
                    f"of it)")
    iters = details["solver_iterations"] or 0
    history = {"iteration": np.array([iters]), "loss": np.array([loss]), "error": np.array([err]),
               "grad_norm": np.array([gnorm]), "step": np.array([np.nan])}
    return Result(x=X, loss=loss, relative_error=err, grad_norm=gnorm, iterations=int(iters), seconds=seconds,
                  status=status_out, message=message, method="convex", options=settings.options(),
                  history=history, details=details)
