"""The symmetry orbit through a point and its tangent (the *vertical* space), MATH.md §4.

Points are one array ``X`` of shape ``(N, r)``; tangent vectors are arrays of the same shape, written in
row-major ``vec`` coordinates (``X.reshape(-1)``), the convention of :meth:`benign.objective.Objective.hessian`.

Which group acts:

* symmetric ``M = X X^T``: ``X -> X R`` with ``R in O(r)``; vertical space ``V_X = {X Omega : Omega = -Omega^T}``;
* asymmetric with balancing ``mu > 0``: ``(U, V) -> (U R, V R)``, ``R in O(r)`` (the balancing term
  ``||U^T U - V^T V||_F^2`` is invariant only under this), so ``V_X = {[U Omega; V Omega]}`` -- the same formula
  applied to the stacked ``X = [U; V]``;
* asymmetric without balancing: ``(U, V) -> (U G, V G^{-T})``, ``G in GL(r)``; ``V_X = {[U Xi; -V Xi^T] : Xi in
  R^{r x r}}``.

Dimensions, with numerical ranks counted as the number of singular values ``> rank_rtol * sigma_max``:

* ``O(r)`` with ``k = rank X``: ``dim V_X = r(r-1)/2 - (r-k)(r-k-1)/2`` (a skew ``Omega`` supported on the null
  space of ``X`` does not move ``X``);
* ``GL(r)`` with ``kU = rank U``, ``kV = rank V``: ``dim V_X = r^2 - (r-kU)(r-kV)``.

The horizontal space ``H_X`` is the orthogonal complement of ``V_X``; for ``O(r)`` it is
``{D : X^T D = D^T X}`` whatever the rank of ``X``.

At a critical point the Hessian vanishes on ``V_X`` (``f`` is constant on the orbit), so these directions are the
*symmetry zeros* that the certificate counts separately instead of calling them degeneracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: default relative tolerance of the numerical rank: singular values ``<= RANK_RTOL * sigma_max`` count as zero
RANK_RTOL = 1e-8


@dataclass(frozen=True)
class VerticalSpace:
    """An orthonormal basis of the vertical space (columns of ``basis``, shape ``(N r, dim)``).

    ``group`` is ``"O(r)"`` or ``"GL(r)"``; ``ranks`` the numerical ranks used (``X``, or ``U`` and ``V``);
    ``full_dim`` the dimension at a full-rank point (``r(r-1)/2`` or ``r^2``); ``dim = full_dim - deficiency``.
    """

    basis: np.ndarray
    group: str
    ranks: tuple[int, ...]
    full_dim: int
    rank_rtol: float

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    @property
    def deficiency(self) -> int:
        return self.full_dim - self.dim

    def project_out(self, v: np.ndarray) -> np.ndarray:
        """``(I - B B^T) v`` for a vector (or a stack of column vectors) in ``vec`` coordinates."""
        if self.dim == 0:
            return v
        return v - self.basis @ (self.basis.T @ v)

    def describe(self) -> dict:
        return {"group": self.group, "dim": self.dim, "full_dim": self.full_dim, "deficiency": self.deficiency,
                "numerical_ranks": list(self.ranks), "rank_rtol": self.rank_rtol}


def numerical_rank(A: np.ndarray, rank_rtol: float = RANK_RTOL) -> tuple[int, np.ndarray]:
    """Number of singular values ``> rank_rtol * sigma_max`` (0 for a zero matrix) and the singular values."""
    s = np.linalg.svd(np.asarray(A, dtype=float), compute_uv=False)
    if s.size == 0 or s[0] <= 0:
        return 0, s
    return int(np.sum(s > rank_rtol * s[0])), s


def orthogonal_vertical(X: np.ndarray, rank_rtol: float = RANK_RTOL) -> tuple[np.ndarray, int]:
    """Orthonormal basis of ``{X Omega : Omega skew}`` and the numerical rank of ``X``.

    With the thin SVD ``X = sum_a sigma_a q_a w_a^T`` (``w`` a full orthonormal basis of ``R^r``), the vectors
    ``sigma_a q_a w_b^T - sigma_b q_b w_a^T`` (``a < b``, ``a < k``) are mutually orthogonal with squared norm
    ``sigma_a^2 + sigma_b^2``: normalised, they are the basis (closed form, no Gram--Schmidt).
    """
    X = np.asarray(X, dtype=float)
    N, r = X.shape
    Q, s, Wt = np.linalg.svd(X, full_matrices=False)  # Q: N x p, Wt: p x r with p = min(N, r)
    p = s.size
    if p < r:  # complete the right singular vectors to an orthonormal basis of R^r
        Wt = np.vstack([Wt, np.linalg.qr(Wt.T, mode="complete")[0][:, p:].T])
    k = int(np.sum(s > rank_rtol * s[0])) if p and s[0] > 0 else 0
    sig = np.zeros(r)
    sig[:p] = s
    cols = []
    for a in range(k):
        for b in range(a + 1, r):
            qb = Q[:, b] if b < p else np.zeros(N)
            v = sig[a] * np.outer(Q[:, a], Wt[b]) - sig[b] * np.outer(qb, Wt[a])
            cols.append(v.reshape(-1) / np.hypot(sig[a], sig[b]))
    basis = np.stack(cols, axis=1) if cols else np.zeros((N * r, 0))
    return basis, k


def general_linear_vertical(U: np.ndarray, V: np.ndarray, rank_rtol: float = RANK_RTOL
                            ) -> tuple[np.ndarray, int, int]:
    """Orthonormal basis of ``{[U Xi; -V Xi^T] : Xi in R^{r x r}}`` (stacked ``vec`` coordinates).

    The ``r^2`` generators (``Xi = E_ab``) are orthonormalised by an SVD; the dimension kept is
    ``r^2 - (r - rank U)(r - rank V)`` from the numerical ranks (the kernel of ``Xi -> (U Xi, V Xi^T)`` is
    ``{Xi : range Xi in ker U, range Xi^T in ker V}``).
    """
    U = np.asarray(U, dtype=float)
    V = np.asarray(V, dtype=float)
    r = U.shape[1]
    kU, _ = numerical_rank(U, rank_rtol)
    kV, _ = numerical_rank(V, rank_rtol)
    dim = r * r - (r - kU) * (r - kV)
    if dim == 0:
        return np.zeros(((U.shape[0] + V.shape[0]) * r, 0)), kU, kV
    Qg, _, _ = np.linalg.svd(general_linear_generators(U, V), full_matrices=False)
    return Qg[:, :dim], kU, kV


def general_linear_generators(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """The images ``[U E_ab; -V E_ab^T]`` (``vec`` columns, ``a, b < r``) of the orthonormal generators ``E_ab`` of
    ``gl(r)``: their singular values are the gains ``||[U Xi; -V Xi^T]||_F / ||Xi||_F`` of the action."""
    r = U.shape[1]
    gens = []
    for a in range(r):
        for b in range(r):
            E = np.zeros((r, r))
            E[a, b] = 1.0
            gens.append(np.concatenate([U @ E, -V @ E.T], axis=0).reshape(-1))
    return np.stack(gens, axis=1)


def vertical_space(obj, X, rank_rtol: float = RANK_RTOL) -> VerticalSpace:
    """The vertical space of ``obj`` at ``X`` (see the module docstring for the group and the dimension)."""
    Xn = np.asarray(X, dtype=float)
    r = Xn.shape[1]
    if obj.symmetric or obj.balance > 0:
        basis, k = orthogonal_vertical(Xn, rank_rtol)
        return VerticalSpace(basis, "O(r)", (k,), r * (r - 1) // 2, rank_rtol)
    d1 = obj.shape[0]
    basis, kU, kV = general_linear_vertical(Xn[:d1], Xn[d1:], rank_rtol)
    return VerticalSpace(basis, "GL(r)", (kU, kV), r * r, rank_rtol)


def horizontal_basis(vertical: VerticalSpace, size: int) -> np.ndarray:
    """Orthonormal basis of the complement of the vertical space in ``R^size`` (dense; small problems)."""
    if vertical.dim == 0:
        return np.eye(size)
    Q, _ = np.linalg.qr(vertical.basis, mode="complete")
    return Q[:, vertical.dim:]
