"""The counterexample SDPs of Zhang--Sojoudi--Lavaei 2019 as explicit affine maps (MATH.md §6).

Coordinates. ``P = symmetric_basis(n)`` (``n^2 x s``, ``s = n(n+1)/2``) is an orthonormal basis of symmetric
matrices in row-major ``vec`` coordinates; ``svec(M) = P^T vec(M)``. A kernel that vanishes on antisymmetric
matrices is ``H = P K P^T`` with ``K`` symmetric ``s x s``; RIP on symmetric matrices is
``(1 - delta) I <= K <= (1 + delta) I``.

With ``e = svec(X X^T - Z Z^T)``, ``J`` (``s x nr``) the map ``vec(U) -> svec(X U^T + U X^T)`` (row-major
``vec(U)``, the convention of :meth:`benign.objective.Objective.hessian`) and ``S = smat(K e) = A*(A(XX^T - ZZ^T))``,
the l2 objective ``f = 1/2 e^T K e`` has

* gradient ``G = 2 S X`` (``n x r``), linear in ``K``: ``vec(G) = 2 kron(GX, e^T) vec(K)`` with
  ``GX[:, a] = vec(Pi_a X)``, ``Pi_a = mat(P[:, a])``;
* Hessian ``J^T K J + 2 (S kron I_r)`` on row-major ``vec(U)``, restricted to a subspace with orthonormal basis
  ``B``: ``B^T J^T K J B + 2 sum_a (K e)_a B^T (Pi_a kron I_r) B``, also linear in ``K``.

Every map below acts on row-major ``vec(K)``; :func:`benign._sdp.sym_expansion` turns the upper triangle of
``K`` into ``vec(K)``.

A kernel is ``A^T A``, so ``K >= 0`` is imposed in every variant: with ``delta < 1`` it follows from the lower
bound, but without it an optimum with ``delta > 1`` (a point that no RIP operator makes spurious) would be an
indefinite ``K`` that no operator has.

Symmetry reduction (``reduced_problem``). Let ``W = span[X Z]`` (dimension ``d``), ``W^perp`` its complement
(``p = n - d``). The problem is invariant under ``M -> Q M Q^T`` for orthogonal ``Q`` fixing ``W`` pointwise, and
the feasible set is convex, so averaging an optimal ``K`` over that group keeps it optimal: WLOG ``K`` commutes with
the group. By Schur's lemma such a ``K`` has, in the adapted basis (``Sym(W)``, ``t = I_{W^perp}/sqrt(p)``, the
cross block ``W x W^perp``, the traceless part of ``Sym(W^perp)``), the form
``blockdiag(K1, K2 kron I_p, c I)`` with ``K1`` of side ``q + 1`` (``q = d(d+1)/2``), ``K2`` of side ``d``.
The gradient lives in the ``W`` rows, the Hessian splits into the ``W`` block (the same problem in dimension ``d``)
and ``p`` identical ``r x r`` blocks ``2 X_W^T K2 X_W + 2 beta I_r`` with ``beta = K1[t, :q] e / sqrt(p)``
(every ``W^perp`` direction is horizontal). So the SDP in dimension ``n`` equals one of size independent of ``n``.
With ``margin = 0`` the choice ``K2 = I``, ``K1[t, :q] = 0``, ``c = 1`` is always feasible, so ``delta*`` does not
depend on ``n >= d``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from benign._sdp import AffineSDP, sym_expansion
from benign.operators import symmetric_basis

RANK_RTOL = 1e-10


# ------------------------------------------------------------------------------------------ linear algebra

def lift_jacobian(X: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``J`` with ``J vec(U) = P^T vec(X U^T + U X^T)`` (row-major ``vec``), shape ``(s, n r)``."""
    n, r = X.shape
    eye = np.eye(n)
    T = np.einsum("aj,bi->abij", X, eye) + np.einsum("ai,bj->abij", eye, X)
    return P.T @ T.reshape(n * n, n * r)


def vertical_basis(X: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Orthonormal basis (columns, row-major ``vec``) of ``{X Omega : Omega = -Omega^T}``."""
    n, r = X.shape
    if r < 2:
        return np.zeros((n * r, 0))
    vecs = []
    for k in range(r):
        for l in range(k + 1, r):
            Om = np.zeros((r, r))
            Om[k, l], Om[l, k] = 1.0, -1.0
            vecs.append((X @ Om).reshape(-1))
    V = np.stack(vecs, axis=1)
    U, s, _ = np.linalg.svd(V, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((n * r, 0))
    return U[:, s > rtol * s[0]]


def complement_basis(V: np.ndarray, dim: int, within: np.ndarray | None = None) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of ``span V`` inside ``span(within)`` (default ``R^dim``)."""
    W = np.eye(dim) if within is None else within
    if V.shape[1] == 0:
        return W
    R = W - V @ (V.T @ W)
    U = np.linalg.svd(R, full_matrices=False)[0]
    k = W.shape[1] - V.shape[1]
    return U[:, :k] if k > 0 else np.zeros((dim, 0))


def horizontal_basis(X: np.ndarray) -> tuple[np.ndarray, int]:
    """Orthonormal basis of the horizontal space ``{U : X^T U = U^T X}`` and the vertical dimension."""
    V = vertical_basis(X)
    return complement_basis(V, X.size), V.shape[1]


def span_frame(X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, int]:
    """Orthogonal ``Q = [Q_W, Q_perp]`` (``n x n``) with ``Q_W`` spanning ``W = span[X Z]``, and ``d = dim W``."""
    F = np.concatenate([X, Z], axis=1)
    U, s, _ = np.linalg.svd(F, full_matrices=True)
    d = int(np.sum(s > RANK_RTOL * s[0])) if s.size and s[0] > 0 else 0
    return U, d


@dataclass
class Pieces:
    """The numerical pieces of the problem in one dimension (see the module docstring)."""

    X: np.ndarray
    Z: np.ndarray
    P: np.ndarray          # (n^2, s)
    e: np.ndarray          # svec(X X^T - Z Z^T)
    J: np.ndarray          # (s, n r)
    Pi: np.ndarray         # (s, n, n): the basis matrices

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def r(self) -> int:
        return self.X.shape[1]

    @property
    def s(self) -> int:
        return self.P.shape[1]

    def grad_map(self) -> np.ndarray:
        """``(n r, s^2)``: ``vec(G) = map @ vec(K)`` with ``G = 2 smat(K e) X``."""
        GX = np.einsum("aik,kj->aij", self.Pi, self.X).reshape(self.s, -1).T  # (nr, s)
        return 2.0 * np.kron(GX, self.e[None, :])

    def hessian_map(self, B: np.ndarray) -> np.ndarray:
        """``(t^2, s^2)``: ``vec(B^T Hess B) = map @ vec(K)`` for an orthonormal ``B`` (``n r x t``)."""
        C = self.J @ B
        t = B.shape[1]
        n, r = self.n, self.r
        Bt = B.reshape(n, r, t)
        # T_a = B^T (Pi_a kron I_r) B = sum_{i,k,j} B[(i,j), :]^T Pi_a[i,k] B[(k,j), :]
        T = np.einsum("iju,aik,kjv->auv", Bt, self.Pi, Bt).reshape(self.s, t * t).T
        return np.kron(C.T, C.T) + 2.0 * np.kron(T, self.e[None, :])

    def hessian(self, K: np.ndarray) -> np.ndarray:
        """Dense Hessian on row-major ``vec(U)`` for the kernel ``P K P^T`` (reference computation)."""
        S = np.einsum("a,aij->ij", K @ self.e, self.Pi)
        return self.J.T @ K @ self.J + 2.0 * np.kron(S, np.eye(self.r))

    def gradient(self, K: np.ndarray) -> np.ndarray:
        S = np.einsum("a,aij->ij", K @ self.e, self.Pi)
        return 2.0 * S @ self.X


def pieces(X: np.ndarray, Z: np.ndarray) -> Pieces:
    n = X.shape[0]
    P = symmetric_basis(n)
    E = X @ X.T - Z @ Z.T
    return Pieces(X, Z, P, P.T @ E.reshape(-1), lift_jacobian(X, P), P.T.reshape(-1, n, n))


def _onehot(index: np.ndarray, nvar: int) -> sp.csr_matrix:
    """Sparse ``(index.size, nvar)`` with a 1 at ``(row, index[row])`` (``index < 0``: an empty row)."""
    idx = np.asarray(index).reshape(-1)
    rows = np.nonzero(idx >= 0)[0]
    return sp.csr_matrix((np.ones(rows.size), (rows, idx[rows])), shape=(idx.size, nvar))


def _sym_index(t: int, offset: int) -> np.ndarray:
    """``t x t`` integer matrix: the variable index of entry ``(i, j)`` of a symmetric block stored as its upper
    triangle (row by row) from ``offset``."""
    M = np.zeros((t, t), dtype=np.int64)
    iu, ju = np.triu_indices(t)
    M[iu, ju] = offset + np.arange(iu.size)
    M[ju, iu] = M[iu, ju]
    return M


def _add_bounds(prob: AffineSDP, name: str, vecK: sp.csr_matrix, t: int, isometry: bool, psd: bool = True) -> None:
    """``K >= 0`` (a kernel; ``psd=False`` where a larger block already says it), and with ``isometry`` also
    ``K - (1 - delta) I >= 0`` and ``(1 + delta) I - K >= 0`` with ``delta = x[0]``."""
    if psd:
        prob.lmi(f"{name}>=0", vecK, np.zeros(t * t))
    if isometry:
        vI = np.eye(t).reshape(-1)
        dcol = sp.csr_matrix((vI, (np.arange(t * t), np.zeros(t * t, dtype=np.int64))), shape=(t * t, prob.nvar))
        prob.lmi(f"{name}>=(1-delta)I", vecK + dcol, -vI)
        prob.lmi(f"{name}<=(1+delta)I", dcol - vecK, vI)


# -------------------------------------------------------------------------------------------- problems

@dataclass
class Formulation:
    """An assembled SDP plus what is needed to read the kernel back from its solution."""

    problem: AffineSDP
    kind: str                  # "direct" or "reduced"
    n: int
    d: int
    Q: np.ndarray | None       # the span frame (reduced only)
    layout: dict


def direct_problem(X: np.ndarray, Z: np.ndarray, *, variant: str, margin: float, nonneg: bool,
                   nonneg_tol: float = 0.0) -> Formulation:
    """The SDP in dimension ``n`` over the full ``s x s`` kernel ``K``; variables ``x = [delta, upper(K)]``.

    ``variant="full"``: RIP on all symmetric matrices; ``"span"``: RIP on ``Sym(span[X Z])`` only, ``K >= 0``.
    ``nonneg``: KKT of ``X >= 0`` (``G = 0`` on ``X > 0``, ``G >= margin`` on ``X = 0``) and the Hessian on the free
    coordinates (modulo the part of the orbit tangent inside them) ``>= margin``; otherwise ``G = 0`` and the
    Hessian on the horizontal space ``>= margin``.
    """
    pc = pieces(X, Z)
    s, n, r = pc.s, pc.n, pc.r
    nk = s * (s + 1) // 2
    nvar = 1 + nk
    c = np.zeros(nvar)
    c[0] = 1.0
    prob = AffineSDP(nvar, c)
    E = sp.hstack([sp.csr_matrix((s * s, 1)), sym_expansion(s)]).tocsr()  # x -> vec(K)
    if variant == "full":
        _add_bounds(prob, "K", E, s, True)
    else:
        Q, d = span_frame(X, Z)
        Uw = symmetric_basis(n).T @ np.kron(Q[:, :d], Q[:, :d]) @ symmetric_basis(d)  # (s, q) in svec coords
        q = Uw.shape[1]
        _add_bounds(prob, "K_W", sp.csr_matrix(np.kron(Uw.T, Uw.T)) @ E, q, True, psd=False)  # K >= 0 below
        _add_bounds(prob, "K", E, s, False)
    Gm = sp.csr_matrix(pc.grad_map()) @ E
    if nonneg:
        free = (X > nonneg_tol).reshape(-1)
        if np.any(free):
            prob.eq("grad_free=0", Gm[np.nonzero(free)[0]], np.zeros(int(free.sum())))
        if np.any(~free):
            zi = np.nonzero(~free)[0]
            prob.ineq("grad_zero>=margin", Gm[zi], -margin * np.ones(zi.size))
        Bf = np.eye(n * r)[:, free]
        V = vertical_basis(X)
        # orbit tangent directions supported on the free coordinates
        Vf = np.zeros((n * r, 0))
        if V.shape[1]:
            _, s_, Vt_ = np.linalg.svd(V[~free], full_matrices=True)
            rank = int(np.sum(s_ > 1e-9)) if s_.size else 0
            null = Vt_[rank:].T
            if null.shape[1]:
                Vf = np.linalg.qr(V @ null)[0]
        B = complement_basis(Vf, n * r, within=Bf) if Bf.shape[1] else Bf
        if Vf.shape[1] and Bf.shape[1]:
            prob.lmi("hess_free>=0", sp.csr_matrix(pc.hessian_map(Bf)) @ E, np.zeros(Bf.shape[1] ** 2))
        layout = {"free": free, "orbit_dim": int(Vf.shape[1])}
    else:
        prob.eq("grad=0", Gm, np.zeros(n * r))
        B, vdim = horizontal_basis(X)
        layout = {"vertical_dim": vdim}
    if B.shape[1]:
        t = B.shape[1]
        prob.lmi("hess>=margin", sp.csr_matrix(pc.hessian_map(B)) @ E, -margin * np.eye(t).reshape(-1))
    layout.update(s=s)
    return Formulation(prob, "direct", n, n, None, layout)


def kernel_from_direct(form: Formulation, x: np.ndarray) -> np.ndarray:
    """The ``s x s`` kernel ``K`` from a direct solution."""
    from benign._sdp import sym_from_upper

    return sym_from_upper(x[1:], form.layout["s"])


def reduced_problem(X: np.ndarray, Z: np.ndarray, *, variant: str, margin: float) -> Formulation:
    """The symmetry-reduced SDP (module docstring): size independent of ``n``.

    Variables ``x = [delta, upper(K_WW), k_t, kappa, upper(K2)]`` (the last three only when ``p = n - d >= 1``).
    """
    n, r = X.shape
    Q, d = span_frame(X, Z)
    Qw = Q[:, :d]
    Xw, Zw = Qw.T @ X, Qw.T @ Z
    pc = pieces(Xw, Zw)
    q = pc.s
    p = n - d
    nkw = q * (q + 1) // 2
    off_t = 1 + nkw
    off_kappa = off_t + q
    off_k2 = off_kappa + 1
    nvar = off_k2 + d * (d + 1) // 2 if p >= 1 else 1 + nkw
    c = np.zeros(nvar)
    c[0] = 1.0
    prob = AffineSDP(nvar, c)
    idx_w = _sym_index(q, 1)
    Ew = _onehot(idx_w, nvar)
    if p >= 1:
        idx1 = np.zeros((q + 1, q + 1), dtype=np.int64)
        idx1[:q, :q] = idx_w
        idx1[:q, q] = idx1[q, :q] = off_t + np.arange(q)
        idx1[q, q] = off_kappa
        E1 = _onehot(idx1, nvar)
        E2 = _onehot(_sym_index(d, off_k2), nvar)
        full = variant == "full"
        if not full:  # (K_W is a block of K1, which is >= 0)
            _add_bounds(prob, "K_W", Ew, q, True, psd=False)
        _add_bounds(prob, "K1", E1, q + 1, full)
        _add_bounds(prob, "K2", E2, d, full)
    else:
        _add_bounds(prob, "K_W", Ew, q, True)
    prob.eq("grad=0", sp.csr_matrix(pc.grad_map()) @ Ew, np.zeros(d * r))
    B, vdim = horizontal_basis(Xw)
    t = B.shape[1]
    if t:
        prob.lmi("hess_W>=margin", sp.csr_matrix(pc.hessian_map(B)) @ Ew, -margin * np.eye(t).reshape(-1))
    if p >= 1:
        # 2 Xw^T K2 Xw + 2 beta I_r - margin I_r >= 0, beta = k_t . e / sqrt(p)
        A_perp = 2.0 * sp.csr_matrix(np.kron(Xw.T, Xw.T)) @ E2
        beta_row = np.zeros(nvar)
        beta_row[off_t:off_t + q] = pc.e / np.sqrt(p)
        vI = np.eye(r).reshape(-1)
        A_perp = A_perp + sp.csr_matrix(2.0 * np.outer(vI, beta_row))
        prob.lmi("hess_perp>=margin", A_perp, -margin * vI)
    layout = dict(q=q, p=p, off_t=off_t, off_kappa=off_kappa, off_k2=off_k2, vertical_dim=vdim)
    return Formulation(prob, "reduced", n, d, Q, layout)


def kernel_from_reduced(form: Formulation, x: np.ndarray) -> np.ndarray:
    """The ``n^2 x n^2`` kernel ``H`` (vanishing on antisymmetric matrices) of a reduced solution.

    In the frame ``Q = [Q_W, Q_perp]``: ``H = A1 K1 A1^T + Sym (Pi_p kron K2~ + K2~ kron Pi_p) Sym +
    c (Sym (Pi_p kron Pi_p) Sym - t t^T)`` with ``A1 = [(Q_W kron Q_W) P_d, vec(Pi_p)/sqrt(p)]``,
    ``Pi_p = Q_perp Q_perp^T``, ``K2~ = Q_W K2 Q_W^T``, ``Sym = (I + T)/2`` (``T vec(M) = vec(M^T)``), ``c = 1``.
    """
    from benign._sdp import sym_from_upper

    n, d, Q, lay = form.n, form.d, form.Q, form.layout
    q, p = lay["q"], lay["p"]
    Kww = sym_from_upper(x[1:1 + q * (q + 1) // 2], q)
    Qw = Q[:, :d]
    Aw = np.kron(Qw, Qw) @ symmetric_basis(d)  # (n^2, q)
    if p == 0:
        return Aw @ Kww @ Aw.T
    kt = x[lay["off_t"]:lay["off_t"] + q]
    kappa = x[lay["off_kappa"]]
    K2 = sym_from_upper(x[lay["off_k2"]:], d)
    K1 = np.block([[Kww, kt[:, None]], [kt[None, :], np.array([[kappa]])]])
    Qp = Q[:, d:]
    Pp = Qp @ Qp.T
    tvec = Pp.reshape(-1) / np.sqrt(p)
    A1 = np.concatenate([Aw, tvec[:, None]], axis=1)
    K2t = Qw @ K2 @ Qw.T
    cross = np.kron(Pp, K2t) + np.kron(K2t, Pp)
    rest = np.kron(Pp, Pp)

    def sym2(N: np.ndarray) -> np.ndarray:
        N4 = N.reshape(n, n, n, n)
        N4 = 0.5 * (N4 + N4.transpose(1, 0, 2, 3))
        N4 = 0.5 * (N4 + N4.transpose(0, 1, 3, 2))
        return N4.reshape(n * n, n * n)

    H = A1 @ K1 @ A1.T + sym2(cross) + (sym2(rest) - np.outer(tvec, tvec))
    return 0.5 * (H + H.T)
