"""A small affine-conic SDP container solved through CVXPY (Clarabel, SCS fallback).

The problem is ``min c^T x`` over one variable vector ``x`` subject to constraints given as explicit affine maps
built with NumPy / scipy.sparse (no Kronecker products inside CVXPY expressions):

* ``lmi``:  ``mat(A x + b) >= 0`` (PSD), where ``A x + b`` is the row-major ``vec`` of a symmetric ``t x t`` matrix
  for every ``x`` (callers guarantee it; row- and column-major ``vec`` then agree);
* ``ineq``: ``A x + b >= 0`` elementwise;
* ``eq``:   ``A x + b == 0``.

Duality (Lagrangian ``L = c^T x - sum <Lam_i, A_i x + b_i> - sum nu_j^T (A_j x + b_j)`` with ``Lam_i`` in the dual
cones): the dual value is ``-sum <Lam_i, b_i> - sum nu_j^T b_j`` and it is a valid lower bound when the dual is
feasible, i.e. when the stationarity residual ``c - sum A_i^T Lam_i - sum A_j^T nu_j`` vanishes. Both numbers are
reported; a solver status string is never trusted on its own. CVXPY's equality duals use the opposite sign,
which :meth:`AffineSDP.solve` corrects.
"""
from __future__ import annotations

import contextlib
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

SOLVERS = ("clarabel", "scs")


#: the redirect of :func:`solver_output_to_stderr` is process-wide: the first caller in saves the real stdout, the
#: last one out restores it (threads that overlap would otherwise restore a redirected descriptor)
_REDIRECT_LOCK = threading.Lock()
_REDIRECT = {"depth": 0, "saved": None}


@contextlib.contextmanager
def solver_output_to_stderr():
    """File descriptor 1 points to stderr while a conic solver runs: SCS and Clarabel print from native code (SCS's
    ``ERROR: could not determine problem status`` even when not verbose), which would land in front of ``--json``
    output on stdout. Process-wide, counted: overlapping callers (threads) share one redirect, undone when the last
    leaves. A no-op where stdout has no file descriptor."""
    import os
    import sys

    with _REDIRECT_LOCK:
        if _REDIRECT["depth"] == 0:
            try:
                sys.stdout.flush()
                saved = os.dup(1)
            except (OSError, ValueError, AttributeError):
                saved = None
            if saved is not None:
                os.dup2(2, 1)
            _REDIRECT["saved"] = saved
        _REDIRECT["depth"] += 1
    try:
        yield
    finally:
        with _REDIRECT_LOCK:
            _REDIRECT["depth"] -= 1
            saved = _REDIRECT["saved"]
            if _REDIRECT["depth"] == 0 and saved is not None:
                try:
                    sys.stdout.flush()
                except (OSError, ValueError):
                    pass
                os.dup2(saved, 1)
                os.close(saved)
                _REDIRECT["saved"] = None


@dataclass
class _Block:
    kind: str  # "lmi" | "ineq" | "eq"
    name: str
    A: Any  # (rows, nvar) sparse or dense
    b: np.ndarray
    size: int  # t for lmi, rows otherwise


@dataclass
class SDPSolution:
    """What came back: primal ``x``, objective, dual value, gap, residuals, solver and timings."""

    x: np.ndarray | None
    value: float
    dual_value: float
    duality_gap: float
    dual_residual: float
    status: str
    solver: str
    solve_time: float
    setup_time: float
    duals: dict[str, np.ndarray] = field(default_factory=dict)
    primal_residuals: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.x is not None and self.status in ("optimal", "optimal_inaccurate")


class AffineSDP:
    """Collects affine constraints on ``x`` (length ``nvar``) and the cost ``c``; see the module docstring."""

    def __init__(self, nvar: int, c: np.ndarray) -> None:
        self.nvar = int(nvar)
        self.c = np.asarray(c, dtype=float).reshape(-1)
        if self.c.shape != (self.nvar,):
            raise ValueError(f"cost must have length {self.nvar}, got {self.c.shape}")
        self.blocks: list[_Block] = []

    def _add(self, kind: str, name: str, A: Any, b: Any, size: int) -> None:
        A = sp.csr_matrix(A) if not sp.issparse(A) else A.tocsr()
        b = np.asarray(b, dtype=float).reshape(-1)
        if A.shape[1] != self.nvar or A.shape[0] != b.shape[0]:
            raise ValueError(f"constraint {name!r}: A is {A.shape}, b is {b.shape}, nvar = {self.nvar}")
        self.blocks.append(_Block(kind, name, A, b, size))

    def lmi(self, name: str, A: Any, b: Any) -> None:
        rows = np.asarray(b).size
        t = int(round(np.sqrt(rows)))
        if t * t != rows:
            raise ValueError(f"LMI {name!r}: {rows} rows is not a square")
        self._add("lmi", name, A, b, t)

    def ineq(self, name: str, A: Any, b: Any) -> None:
        self._add("ineq", name, A, b, np.asarray(b).size)

    def eq(self, name: str, A: Any, b: Any) -> None:
        self._add("eq", name, A, b, np.asarray(b).size)

    # ------------------------------------------------------------------------------------------------
    def solve(self, solver: str = "clarabel", fallback: bool = True, verbose: bool = False) -> SDPSolution:
        """Solve with ``solver`` (``clarabel`` or ``scs``); on failure try the other one when ``fallback``."""
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        order = [solver] + ([s for s in SOLVERS if s != solver] if fallback else [])
        last = None
        for name in order:
            try:
                sol = self._solve_once(name, verbose)
            except Exception as exc:  # noqa: BLE001 -- a solver crash means "try the next one"
                last = f"{name}: {type(exc).__name__}: {exc}"
                continue
            if sol.ok or sol.status in ("infeasible", "unbounded"):
                return sol  # a certificate of infeasibility from an interior-point method is not a failure
            last = f"{name}: status {sol.status}"
        return SDPSolution(None, float("nan"), float("nan"), float("nan"), float("nan"),
                           f"failed ({last})", order[-1], 0.0, 0.0)

    def _solve_once(self, solver: str, verbose: bool) -> SDPSolution:
        import cvxpy as cp

        t0 = time.perf_counter()
        x = cp.Variable(self.nvar)
        cons = []
        for blk in self.blocks:
            expr = blk.A @ x + blk.b
            if blk.kind == "lmi":
                M = cp.reshape(expr, (blk.size, blk.size), order="C")
                cons.append(0.5 * (M + M.T) >> 0)
            elif blk.kind == "ineq":
                cons.append(expr >= 0)
            else:
                cons.append(expr == 0)
        prob = cp.Problem(cp.Minimize(self.c @ x), cons)
        kwargs: dict[str, Any] = {}
        if solver == "clarabel":
            kwargs = dict(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9,
                          tol_ktratio=1e-8, max_iter=400)
        else:
            kwargs = dict(solver=cp.SCS, eps_abs=1e-9, eps_rel=1e-9, max_iters=200_000)
        setup = time.perf_counter() - t0
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            # "Solution may be inaccurate": the status string says so and the caller re-verifies anyway
            warnings.simplefilter("ignore", UserWarning)
            with solver_output_to_stderr():
                prob.solve(verbose=verbose, **kwargs)
        elapsed = time.perf_counter() - t1
        status = str(prob.status)
        if x.value is None:
            return SDPSolution(None, float("nan"), float("nan"), float("nan"), float("nan"), status, solver,
                               elapsed, setup)
        xv = np.asarray(x.value, dtype=float)
        duals: dict[str, np.ndarray] = {}
        dual_val = 0.0
        grad = self.c.copy()
        prim: dict[str, float] = {}
        for blk, con in zip(self.blocks, cons):
            val = blk.A @ xv + blk.b
            if blk.kind == "lmi":
                lam = np.asarray(con.dual_value, dtype=float).reshape(blk.size, blk.size)
                lam = 0.5 * (lam + lam.T)
                y = lam.reshape(-1)
                prim[blk.name] = float(min(np.linalg.eigvalsh(val.reshape(blk.size, blk.size)).min(), 0.0))
            elif blk.kind == "ineq":
                y = np.asarray(con.dual_value, dtype=float).reshape(-1)
                prim[blk.name] = float(min(val.min(), 0.0)) if val.size else 0.0
            else:
                # CVXPY's Lagrangian adds nu^T (expr); ours subtracts it
                y = -np.asarray(con.dual_value, dtype=float).reshape(-1)
                prim[blk.name] = float(np.abs(val).max()) if val.size else 0.0
            duals[blk.name] = y
            dual_val -= float(y @ blk.b)
            grad -= blk.A.T @ y
        value = float(self.c @ xv)
        return SDPSolution(xv, value, dual_val, value - dual_val, float(np.linalg.norm(grad)), status, solver,
                           elapsed, setup, duals, prim)


def sym_expansion(s: int) -> sp.csr_matrix:
    """Sparse ``E`` with ``vec(K) = E k`` (row-major) for a symmetric ``s x s`` matrix ``K`` whose upper triangle
    (row by row, ``i <= j``) is the vector ``k`` of length ``s(s+1)/2``."""
    iu, ju = np.triu_indices(s)
    idx = np.arange(iu.size)
    rows = np.concatenate([iu * s + ju, (ju * s + iu)[iu != ju]])
    cols = np.concatenate([idx, idx[iu != ju]])
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(s * s, iu.size))


def sym_from_upper(k: np.ndarray, s: int) -> np.ndarray:
    """The symmetric ``s x s`` matrix whose upper triangle (row by row) is ``k``."""
    K = np.zeros((s, s))
    K[np.triu_indices(s)] = k
    return K + np.triu(K, 1).T
