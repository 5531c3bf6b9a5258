"""Copositivity of a quadratic form on ``K = R^p x R_+^q`` (free block first, then the cone block).

``Q`` is copositive on ``K`` when ``x^T Q x >= 0`` for every ``x in K``. The test (:func:`copositive`):

1. ``lambda_min(Q_FF) < 0``: not copositive (witness: the eigenvector, cone part 0);
2. ``q = 0`` or ``lambda_min(Q) >= 0``: copositive (a subspace / PSD test);
3. ``Q_FF`` positive definite: minimising over the free block leaves the Schur complement
   ``S = Q_DD - Q_DF Q_FF^{-1} Q_FD`` and ``Q`` is copositive on ``K`` iff ``S`` is copositive on ``R_+^q``
   (witness ``x_F = -Q_FF^{-1} Q_FD x_D``);
4. ``S`` on ``R_+^q`` by Kaplan's criterion (Kaplan 2000, *Linear Algebra Appl.* 313): ``S`` is copositive iff no
   principal submatrix ``S_JJ`` has an eigenvector ``v > 0`` with eigenvalue ``< 0`` -- checked exactly by
   enumerating the ``2^q - 1`` index sets when ``q <= max_enum`` (repeated eigenvalues: a linear program looks for a
   positive vector in the eigenspace). The enumeration runs to the end, and the witness is the most negative of
   those eigenvectors: it attains ``min x^T S x`` over ``x >= 0``, ``||x|| = 1`` (a minimiser ``x`` with support
   ``J`` has ``x_J > 0`` and, by the KKT conditions on the sphere, is an eigenvector of ``S_JJ``), so ``value`` is
   the smallest curvature on the cone, not merely a negative one;
5. otherwise a heuristic: projected gradient descent of ``x^T S x`` on ``{x >= 0, ||x|| = 1}`` from random starts.
   A negative value found is a proof (the witness is returned); finding none proves nothing (``None``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

#: exact enumeration of the cone coordinates' index sets up to this many (2^12 - 1 = 4095 sets)
MAX_ENUM = 12


@dataclass
class CopositivityResult:
    """``copositive``: True / False / None (undecided); ``witness``: ``x in K`` with ``x^T Q x < 0`` (unit norm)."""

    copositive: bool | None
    method: str
    witness: np.ndarray | None = None
    value: float | None = None  # witness^T Q witness
    sets_checked: int = 0


def _positive_in_span(E: np.ndarray, rtol: float = 1e-9) -> np.ndarray | None:
    """A vector of ``span(E)`` with all entries strictly positive, or None."""
    if E.shape[1] == 1:
        v = E[:, 0]
        for s in (1.0, -1.0):
            if np.all(s * v > rtol * np.max(np.abs(v))):
                return s * v
        return None
    from scipy.optimize import linprog

    res = linprog(np.zeros(E.shape[1]), A_ub=-E, b_ub=-np.ones(E.shape[0]), bounds=[(None, None)] * E.shape[1],
                  method="highs")
    return E @ res.x if res.status == 0 else None


def kaplan(S: np.ndarray, max_enum: int = MAX_ENUM, rtol: float = 1e-12) -> CopositivityResult:
    """Exact copositivity of the symmetric ``S`` on ``R_+^q`` by Kaplan's criterion (module docstring)."""
    q = S.shape[0]
    if q > max_enum:
        raise ValueError(f"exact enumeration needs q <= {max_enum}, got {q}")
    scale = max(float(np.max(np.abs(S))) if S.size else 0.0, 1e-300)
    checked = 0
    best, best_value = None, 0.0
    for size in range(1, q + 1):
        for J in itertools.combinations(range(q), size):
            idx = list(J)
            w, V = np.linalg.eigh(S[np.ix_(idx, idx)])
            checked += 1
            neg = np.nonzero(w < -rtol * scale)[0]
            i = 0
            # eigenvalues ascending: the first negative eigenspace holding a positive vector is this set's lowest
            # candidate, and one below the best so far is needed to improve on it
            while i < neg.size and w[neg[i]] < best_value:
                j = i
                while j + 1 < neg.size and abs(w[neg[j + 1]] - w[neg[i]]) <= 1e-10 * scale:
                    j += 1
                v = _positive_in_span(V[:, neg[i:j + 1]])
                if v is not None:
                    x = np.zeros(q)
                    x[idx] = v
                    x /= np.linalg.norm(x)
                    value = float(x @ S @ x)
                    if value < best_value:
                        best, best_value = x, value
                    break
                i = j + 1
    if best is not None:
        return CopositivityResult(False, "enumeration", best, best_value, checked)
    return CopositivityResult(True, "enumeration", sets_checked=checked)


def _heuristic(S: np.ndarray, seed: int, starts: int = 64, iters: int = 500) -> CopositivityResult:
    q = S.shape[0]
    rng = np.random.default_rng(seed)
    step = 1.0 / max(np.linalg.norm(S, 2), 1e-300)
    X = np.abs(rng.standard_normal((q, starts)))
    X = np.concatenate([X, np.eye(q)], axis=1)
    X /= np.linalg.norm(X, axis=0)
    for _ in range(iters):  # batched over the starts: one matmul per iteration
        X = np.maximum(X - step * (S @ X), 0.0)
        nrm = np.linalg.norm(X, axis=0)
        nrm[nrm == 0] = 1.0
        X /= nrm
    vals = np.sum(X * (S @ X), axis=0)
    k = int(np.argmin(vals))
    if vals[k] < 0 and np.linalg.norm(X[:, k]) > 0:
        return CopositivityResult(False, "heuristic", X[:, k], float(vals[k]))
    return CopositivityResult(None, "heuristic")


def copositive(Q: np.ndarray, p: int, *, max_enum: int = MAX_ENUM, seed: int = 0,
               rtol: float = 1e-12) -> CopositivityResult:
    """Copositivity of ``Q`` on ``R^p x R_+^q`` (``q = len(Q) - p``); see the module docstring."""
    Q = 0.5 * (np.asarray(Q, dtype=float) + np.asarray(Q, dtype=float).T)
    n = Q.shape[0]
    q = n - p
    scale = max(float(np.max(np.abs(Q))) if Q.size else 0.0, 1e-300)
    if p:
        wF, VF = np.linalg.eigh(Q[:p, :p])
        if wF[0] < -rtol * scale:
            x = np.zeros(n)
            x[:p] = VF[:, 0]
            return CopositivityResult(False, "subspace", x, float(wF[0]))
    if q == 0:
        return CopositivityResult(True, "subspace")
    w, V = np.linalg.eigh(Q)
    if w[0] >= -rtol * scale:
        return CopositivityResult(True, "psd")
    if p and wF[0] <= rtol * scale:
        # singular free block: a direction in its kernel coupled to the cone block makes Q unbounded below;
        # otherwise fall back to a slightly regularised Schur complement (documented as heuristic)
        res = copositive(Q + 1e3 * rtol * scale * np.eye(n), p, max_enum=max_enum, seed=seed, rtol=rtol)
        if res.copositive is False:
            return res
        return CopositivityResult(None, res.method + "+singular-free-block", sets_checked=res.sets_checked)
    if p:
        QFF, QFD, QDD = Q[:p, :p], Q[:p, p:], Q[p:, p:]
        K = np.linalg.solve(QFF, QFD)
        S = QDD - QFD.T @ K
    else:
        K = np.zeros((0, q))
        S = Q
    S = 0.5 * (S + S.T)
    res = kaplan(S, max_enum, rtol) if q <= max_enum else _heuristic(S, seed)
    if res.witness is not None:
        xD = res.witness
        x = np.concatenate([-K @ xD, xD])
        x /= np.linalg.norm(x)
        res = CopositivityResult(False, res.method, x, float(x @ Q @ x), res.sets_checked)
    return res
