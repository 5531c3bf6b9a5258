"""Extreme eigenpairs of symmetric linear maps, dense or matrix-free, and the horizontal Hessian spectrum.

* :func:`extreme_eigs` -- smallest and largest eigenpair of a symmetric map given as a block product
  ``V -> M V``, restricted to the orthogonal complement of a constraint space: dense when small, otherwise
  (block) Lanczos (full reorthogonalisation for blocks, partial for single vectors) and Rayleigh--Ritz (stopping
  rule in its docstring).
* :func:`hessian_spectrum` -- the spectrum of ``nabla^2 f(X)`` restricted to the horizontal space ``H_X``
  (MATH.md §4). ``method="dense"`` forms the ``(N r) x (N r)`` Hessian (:func:`dense_hessian`: from the residual
  Jacobian for packed symmetric dense sensing) and diagonalises ``B^T H B`` with ``B`` an orthonormal basis of
  ``H_X``; ``method="lanczos"`` never forms it: block Lanczos on ``H`` with the vertical space as constraint; block
  products come from :func:`hessian_matmat` (the residual Jacobian for dense sensing, a ``vmap`` of Hessian-vector
  products otherwise). ``method="auto"`` uses dense when ``N r <= DENSE_MAX`` (600), or ``<= DENSE_MAX_JACOBIAN``
  (1500) for packed symmetric dense sensing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from benign._jax import jax, jnp
from benign.certify.symmetry import VerticalSpace, horizontal_basis

#: ``method="auto"`` forms the dense Hessian when ``N * r`` is at most this (else Lanczos) ...
DENSE_MAX = 600
#: ... or at most this for packed symmetric dense sensing, whose dense Hessian comes from one GEMM on the residual
#: Jacobian (:func:`dense_hessian`): at ``N r = m = 1000`` it takes 0.03 s (+ 0.08 s eigh) where Lanczos needs
#: 0.05 s at a generic point but 0.15 s near a critical point (clustered small eigenvalues; 2-core CPU) -- the
#: points that get certified are mostly near-critical
DENSE_MAX_JACOBIAN = 1500
#: relative residual tolerance of the Lanczos stopping test (:func:`extreme_eigs`)
LANCZOS_TOL = 1e-9
METHODS = ("auto", "dense", "lanczos")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


@dataclass
class Extremes:
    """Smallest / largest eigenvalue with unit eigenvectors; ``matvecs`` counts products (0 for dense input)."""

    lambda_min: float
    vec_min: np.ndarray
    lambda_max: float
    vec_max: np.ndarray
    method: str
    matvecs: int = 0
    eigenvalues: np.ndarray | None = None  # the whole spectrum when computed densely
    converged: bool = True
    residuals: list | None = None
    reorthogonalisations: int = 0  # full Gram-Schmidt passes of single-vector Lanczos (partial reorthogonalisation)


def _dense_from_matmat(matmat: Callable[[np.ndarray], np.ndarray], dim: int) -> np.ndarray:
    M = np.asarray(matmat(np.eye(dim)), dtype=float)
    return 0.5 * (M + M.T)


def _from_dense(M: np.ndarray, method: str, matvecs: int = 0, basis: np.ndarray | None = None) -> Extremes:
    if basis is not None:
        M = basis.T @ M @ basis
        M = 0.5 * (M + M.T)
    w, V = np.linalg.eigh(M)
    if basis is not None:
        V = basis @ V
    return Extremes(float(w[0]), V[:, 0], float(w[-1]), V[:, -1], method, matvecs, w)


def _orth_against(W: np.ndarray, Q: np.ndarray | None, C: np.ndarray | None, passes: int = 2) -> np.ndarray:
    """Remove the components of ``W`` along ``Q`` and ``C`` (orthonormal columns), ``passes`` times (2: CGS2)."""
    for _ in range(passes):
        if C is not None and C.shape[1]:
            W = W - C @ (C.T @ W)
        if Q is not None and Q.shape[1]:
            W = W - Q @ (Q.T @ W)
    return W


def _project_out(r: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float]:
    """``r`` (one vector, 1-D; changed in place) without its components along the orthonormal rows of ``B``, and its
    norm: one Gram-Schmidt pass of matrix-vector products, and a second when the first removed much ("twice is
    enough", Giraud et al.)."""
    n0 = math.sqrt(float(r @ r))
    r -= (B @ r) @ B
    nr = math.sqrt(float(r @ r))
    if nr < 0.7 * n0:
        r -= (B @ r) @ B
        nr = math.sqrt(float(r @ r))
    return r, nr


def _orthonormalise_with_products(Q: np.ndarray, HQ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Q = Q' R`` (QR) and the products of the new columns, ``H Q' = (H Q) R^-1`` (columns are vectors)."""
    Qn, Rq = np.linalg.qr(Q)
    return Qn, np.linalg.solve(Rq.T, HQ.T).T


def _max_column_norm(V: np.ndarray) -> float:
    """``max_j ||V[:, j]||`` (one dot product for a single column: the Lanczos step's hot path)."""
    if V.shape[1] == 1:
        return math.sqrt(float(V[:, 0] @ V[:, 0]))
    return float(np.max(np.linalg.norm(V, axis=0)))


def _tridiagonal_eigenpair(d: np.ndarray, e: np.ndarray, index: int, vector: bool = True):
    """Eigenvalue ``index`` (ascending, from 0) of the symmetric tridiagonal matrix with diagonal ``d`` and
    off-diagonal ``e``, and its unit eigenvector (``None`` unless ``vector``): LAPACK ``dstebz`` (bisection) and
    ``dstein`` (inverse iteration), what ``scipy.linalg.eigh_tridiagonal(select="i")`` runs -- the same numbers --
    without its per-call checks (the Ritz test of every Lanczos run calls this dozens of times)."""
    from scipy.linalg.lapack import dstebz, dstein

    m, w, iblock, isplit, info = dstebz(d, e, 2, 0.0, 1.0, index + 1, index + 1, 0.0, "B")
    if info != 0 or m != 1:
        from scipy.linalg import eigh_tridiagonal

        val, vec = eigh_tridiagonal(d, e, select="i", select_range=(index, index))
        return float(val[0]), (vec[:, 0] if vector else None)
    if not vector:
        return float(w[0]), None
    z, info = dstein(d, e, w[:1], iblock, isplit)
    if info != 0:
        from scipy.linalg import eigh_tridiagonal

        val, vec = eigh_tridiagonal(d, e, select="i", select_range=(index, index))
        return float(val[0]), vec[:, 0]
    return float(w[0]), z[:, 0]


def extreme_eigs(matmat: Callable[[np.ndarray], np.ndarray], dim: int, *, constraint: np.ndarray | None = None,
                 block: int = 1, tol: float = LANCZOS_TOL, max_dim: int | None = None,
                 max_products: int | None = None,
                 seed: int = 0, dense_max: int = 64, ends: str = "both") -> Extremes:
    """Extreme eigenpairs of the symmetric map ``V -> matmat(V)`` (``V``: ``dim x b`` block) restricted to the
    orthogonal complement of ``constraint`` (orthonormal columns; ``None``: all of ``R^dim``).

    Block Lanczos with full reorthogonalisation (partial for single vectors, below) and Rayleigh--Ritz on the whole
    Krylov basis: blocks ``Q_{j+1} = orth(P H Q_j)`` (``P`` projects out ``Q_0..Q_j`` and the constraint), the
    compression ``T = Q^T H Q`` is formed from the stored products (no extra products), and the iteration stops when
    both end Ritz pairs have residual ``||P H v - theta v|| <= tol * max|theta|`` (then each ``theta`` is within that
    residual of an eigenvalue). When the basis would exceed ``max_dim`` columns it restarts from the ``block`` lowest
    and highest Ritz vectors (thick restart). Products are blocks of ``block`` columns, so a matrix-free operator can
    batch them; ``block = 1`` (single-vector Lanczos) needs the fewest products in our measurements and is the default
    (a block > 1 helps with clustered or repeated extreme eigenvalues). Single-vector steps (until a restart or an
    invariant Krylov space) use the three-term recurrence ``r = H q_k - alpha_k q_k - beta_(k-1) q_(k-1)``, project
    ``r`` off the constraint, and reorthogonalise against the whole basis only when Simon's recurrence for
    ``omega_(k+1, j) ~ q_(k+1)^T q_j`` (partial reorthogonalisation, Simon 1984) estimates a loss of orthogonality
    above ``sqrt(eps)``: then one Gram-Schmidt pass against the constraint and the whole basis (a second one when the
    first removed much, "twice is enough"), for this vector and the next. The basis stays semi-orthogonal, so ``T``
    (tridiagonal) is the compression of ``H`` to the Krylov space up to ``O(eps ||H||)`` and ``beta_k |y_k|``
    estimates a Ritz pair's residual. The stopping test does not rest on that estimate alone: once it passes, the Ritz
    vectors ``v = Q y`` and ``H v`` (from the stored products) give the Rayleigh quotient and the explicit residual
    ``||P H v - theta v|| / ||v||``, and those are what is tested and returned. When the explicit test fails there
    (the components a partial pass removed are not in ``T``: a residual floor near ``sqrt(eps) ||H||``, reached at
    tolerances below about ``1e-10``), the basis is re-orthonormalised with its products and the run goes on with
    Rayleigh--Ritz on the whole basis. Reported residuals include ``eps (sqrt(k) + sqrt(dim)) max ||H q||`` for the
    rounding of the products and of their combinations. The start block is drawn from
    ``numpy.random.default_rng(seed)``. ``dim <= dense_max`` (after the constraint): dense. ``ends`` names the pairs
    the stopping test waits for (both are returned).
    """
    if dim <= 0:
        raise ValueError(f"dimension must be positive, got {dim}")
    C = None if constraint is None or constraint.shape[1] == 0 else np.asarray(constraint, dtype=float)
    free = dim - (0 if C is None else C.shape[1])
    if free <= 0:
        raise ValueError("the constraint leaves no room: the restricted space is trivial")
    count = [0]

    def mm(V):  # the raw product H V (projected below, with the coefficients the basis products give anyway)
        count[0] += V.shape[1]
        return np.asarray(matmat(V), dtype=float).reshape(dim, V.shape[1])

    if free <= max(dense_max, 3 * block, 2):
        basis = None
        if C is not None:
            Qc, _ = np.linalg.qr(C, mode="complete")
            basis = Qc[:, C.shape[1]:]
        Mfull = _dense_from_matmat(lambda V: np.asarray(matmat(V), dtype=float).reshape(dim, V.shape[1]), dim)
        return _from_dense(Mfull, "dense", dim, basis)
    b = min(block, free)
    if max_dim is None:  # keep the basis (two dim x max_dim arrays) near 200 MB at most
        max_dim = int(np.clip(12_500_000 // dim, 4 * b + 8, 800))
    max_dim = min(max(max_dim, 4 * b + 8), free)
    limit = max_products if max_products is not None else 50 * dim
    which = {"both": (True, True), "min": (True, False), "max": (False, True)}[ends]
    rng = np.random.default_rng(seed)
    c = 0 if C is None else C.shape[1]
    # the constraint's columns, then the Krylov basis vectors, as rows of one array (contiguous slices): one pair of
    # matrix-vector products orthogonalises against both
    Bz = np.zeros((c + max_dim, dim))
    if c:
        Bz[:c] = C.T
    Qr = Bz[c:]
    HQr = np.zeros((max_dim, dim))
    T = np.zeros((max_dim, max_dim))
    W, _ = np.linalg.qr(_orth_against(rng.standard_normal((dim, b)), None, C))
    k = 0
    tridiagonal = b == 1  # single-vector Lanczos: T is tridiagonal (semi-orthogonal basis) until a restart
    last_check = 0
    hmax = 0.0  # largest projected entry seen: the scale at which a Krylov residual counts as vanishing
    hnorm = 0.0  # largest ||H q|| seen (raw products): the scale of the rounding in every computed residual
    eps = np.finfo(float).eps
    # partial reorthogonalisation (single-vector steps): omega estimates |q_i^T q_j| for the current vector (om_cur)
    # and the one before (om_prev); a full pass is made when an estimate exceeds sqrt(eps), and for the vector after
    eps1 = eps * math.sqrt(dim)
    om_prev, om_cur, om_new = np.zeros(max_dim + 1), np.zeros(max_dim + 1), np.zeros(max_dim + 1)
    alphas, betas = np.zeros(max_dim), np.zeros(max_dim)  # the diagonals of T while it is tridiagonal
    Rf, beta_next = None, 0.0
    om_cur[0] = 1.0
    force = False
    reorths = 0

    def ritz(kk, vectors=which):
        """Extreme Ritz values / coefficient vectors of T[:kk, :kk] (a tridiagonal T: the vector of an end not in
        ``vectors`` is not computed (None); its value only scales the stopping test)."""
        Tk = T[:kk, :kk]
        if tridiagonal and kk > 2:
            d = np.diag(Tk).copy()
            e = 0.5 * (np.diag(Tk, 1) + np.diag(Tk, -1))
            t0, y0 = _tridiagonal_eigenpair(d, e, 0, vectors[0])
            t1, y1 = _tridiagonal_eigenpair(d, e, kk - 1, vectors[1])
            return t0, y0, t1, y1
        th, Y = np.linalg.eigh(0.5 * (Tk + Tk.T))
        return th[0], Y[:, 0], th[-1], Y[:, -1]

    def rounding(kk):
        """The rounding in a computed residual: ``eps sqrt(dim) ||H||`` in each product ``H q`` (dot products of
        length ``dim``) and ``eps sqrt(k) ||H||`` in combining ``k`` of them."""
        return eps * (math.sqrt(kk) + math.sqrt(dim)) * hnorm

    def explicit(kk, ys):
        """Ritz vectors ``v = Q y`` (unit), their Rayleigh quotients and residuals ``||P H v - theta v||`` from the
        stored basis and products, for the coefficient vectors ``ys`` (rows): one read of each array."""
        Y = np.stack(ys)
        V, HV = Y @ Qr[:kk], Y @ HQr[:kk]
        drop_constraint(HV)  # raw products H q on the single-vector path (projecting projected ones is harmless)
        norms = np.linalg.norm(V, axis=1)
        V, HV = V / norms[:, None], HV / norms[:, None]
        thetas = np.einsum("ij,ij->i", V, HV)
        res = np.linalg.norm(HV - thetas[:, None] * V, axis=1) + rounding(kk)
        return V, thetas, res

    def finish(kk, y0, y1):
        if y0 is None or y1 is None:  # the other end's Ritz vector, reported as well
            _, y0, _, y1 = ritz(kk, (True, True))
        V, thetas, res_all = explicit(kk, [y0, y1])
        res = [float(r) for want, r in zip(which, res_all) if want]
        scale = max(abs(thetas[0]), abs(thetas[1]), 1e-300)
        done = max(res) <= tol * scale
        return Extremes(float(thetas[0]), V[0], float(thetas[1]), V[1],
                        "lanczos" if b == 1 else "block-lanczos", count[0], converged=bool(done), residuals=res,
                        reorthogonalisations=reorths)

    def drop_constraint(rows):
        """Remove (in place) the constraint's components from vectors stored as rows."""
        if c:
            rows -= (rows @ Bz[:c].T) @ Bz[:c]

    def leave_tridiagonal(kk):
        """The general path stores projected products ``P H q``; the single-vector path stored raw ``H q``."""
        nonlocal tridiagonal
        if tridiagonal:
            drop_constraint(HQr[:kk])
        tridiagonal = False

    def to_general(kk):
        """Re-orthonormalise the semi-orthogonal basis with its products and form ``T = Q^T P H Q``: Rayleigh--Ritz
        on the whole basis, and the general path from here on."""
        leave_tridiagonal(kk)
        Qk, HQk = _orthonormalise_with_products(Qr[:kk].T, HQr[:kk].T)
        Qr[:kk], HQr[:kk] = Qk.T, HQk.T
        T[:kk, :kk] = Qk.T @ HQk

    while True:
        nb = W.shape[1]
        HW = mm(W)
        hnorm = max(hnorm, _max_column_norm(HW))
        Qr[k:k + nb] = W.T
        if tridiagonal:
            # single-vector Lanczos: the three-term recurrence r = H q_k - alpha_k q_k - beta_(k-1) q_(k-1), r
            # projected off the constraint, and a reorthogonalisation pass against the constraint and the whole
            # basis together when the omega estimate asks for one (a second pass when the first removed much:
            # "twice is enough", Giraud et al.); T gets alpha_k and beta_k only (its other entries are O(eps ||H||)
            # on a semi-orthogonal basis) and HQr the raw products (vectors of the basis are orthogonal to C)
            w, hw = W[:, 0], HW[:, 0]
            alpha = float(w @ hw)
            beta = T[k, k - 1] if k else 0.0  # beta_(k-1)
            hstep = max(abs(alpha), abs(beta))  # this step's entries of T (for hmax)
            r = hw - alpha * w
            if k:
                r -= beta * Qr[k - 1]
            HQr[k] = hw
            T[k, k] = alpha
            alphas[k] = alpha
            cur, k = k, k + 1
            r, nr = _project_out(r, Bz[:c]) if c else (r, math.sqrt(float(r @ r)))
            need = force
            if not need and cur:
                # Simon's recurrence for omega_(cur+1, j), j < cur (the next vector against the basis):
                # beta_cur w' = beta_j w_(j+1) + (alpha_j - alpha_cur) w_j + beta_(j-1) w_(j-1) - beta_(cur-1) w''_j
                # with w = om_cur, w'' = om_prev, plus a rounding term of eps sqrt(dim) ||H|| pushing away from 0
                bj = betas[:cur]  # beta_j = T[j+1, j], j < cur
                t = bj * om_cur[1:cur + 1]
                t += (alphas[:cur] - alpha) * om_cur[:cur]
                t -= beta * om_prev[:cur]
                t[1:] += bj[:cur - 1] * om_cur[:cur - 1]
                t += np.copysign(eps1 * hnorm, t)
                t /= max(nr, 1e-300)
                om_new[:cur] = t
                need = max(float(t.max()), -float(t.min())) > math.sqrt(eps)
            if need:
                r, nr = _project_out(r, Bz[:c + k])
                om_new[:cur] = eps1
                reorths += 1
                force = not force  # the vector after a triggered pass gets one too (Simon)
            om_new[cur] = eps1 * hnorm / max(nr, 1e-300)
            om_new[cur + 1] = 1.0
            om_prev, om_cur, om_new = om_cur, om_new, om_prev
            if k < max_dim:
                T[k, k - 1] = T[k - 1, k] = nr
                betas[k - 1] = nr
            Wn, Rf = (r / (nr if nr > 0 else 1.0))[:, None], None
            beta_next = nr
        else:
            if c:  # P H W first: with H coupling the complement strongly into span(C), coefficients taken from the
                # raw product would carry |Q^T C| |C^T H W| of error
                HW -= Bz[:c].T @ (Bz[:c] @ HW)
            h = Qr[:k + nb] @ HW  # the new columns of T = Q^T H Q (also the Gram-Schmidt coefficients)
            hstep = float(np.max(np.abs(h)))
            HQr[k:k + nb] = HW.T
            T[:k + nb, k:k + nb] = h
            T[k:k + nb, :k] = h[:k].T
            k += nb
            # next block of the Krylov space: the residual of the new block against the whole basis (CGS; the
            # constraint removed again, and a second pass against both when cancellation is severe)
            R = HW - Qr[:k].T @ h
            if c:
                R -= Bz[:c].T @ (Bz[:c] @ R)
            if np.linalg.norm(R) < 0.7 * np.linalg.norm(HW):
                R -= Bz[:c + k].T @ (Bz[:c + k] @ R)
            Wn, Rf = np.linalg.qr(R)
        full = k + b > max_dim
        # Ritz test every 4 products at first, then every k/16 (at most ~6% extra products, far fewer tests)
        if k - last_check >= max(4 if tridiagonal else max(b, 16), k // 16) or full or k >= free \
                or count[0] >= limit:
            last_check = k
            t0, y0, t1, y1 = ritz(k)
            scale = max(abs(t0), abs(t1), 1e-300)
            res = []
            for want, th, y in ((which[0], t0, y0), (which[1], t1, y1)):
                if not want:
                    continue
                if tridiagonal:  # ||H v - theta v|| ~ beta_k |y_k| for Lanczos: an estimate (finish() checks it)
                    r_est = abs(beta_next * float(y[-1]))
                else:
                    r_est = float(np.linalg.norm(y @ HQr[:k] - th * (y @ Qr[:k])))
                res.append(r_est + rounding(k))  # as in finish()
            done = max(res) <= tol * scale
            if done or count[0] >= limit or k >= free:
                result = finish(k, y0, y1)
                if not result.converged and tridiagonal:
                    # the estimate passed (or the space ran out) but the explicit residual did not: the components a
                    # partial pass removed are not in T (a residual floor near sqrt(eps) ||H||, met at tight tol).
                    # Rayleigh--Ritz on the re-orthonormalised basis, and the general path from here on
                    to_general(k)
                    _, y0, _, y1 = ritz(k)
                    result = finish(k, y0, y1)
                    Wn, _ = np.linalg.qr(_orth_against(Wn, Qr[:k].T, C))  # Rf (beta_k) keeps the scale
                if result.converged or count[0] >= limit or k >= free:
                    return result
            if full:  # thick restart from the b lowest and b highest Ritz vectors
                leave_tridiagonal(k)
                th, Y = np.linalg.eigh(0.5 * (T[:k, :k] + T[:k, :k].T))
                keep = np.concatenate([np.arange(b), np.arange(k - b, k)])
                # orthonormal again (the basis was only semi-orthogonal), with the products of the same vectors
                Qk, HQk = _orthonormalise_with_products(Qr[:k].T @ Y[:, keep], HQr[:k].T @ Y[:, keep])
                k = keep.size
                Qr[:k], HQr[:k] = Qk.T, HQk.T
                T[:k, :k] = Qk.T @ HQk
                last_check = k
                Wn, Rf = np.linalg.qr(_orth_against(HQk, Qk, C))  # continue from the kept vectors' residuals
        hmax = max(hmax, hstep)
        small = (np.array([abs(beta_next)]) if Rf is None else np.abs(np.diag(Rf))) <= 1e-10 * max(hmax, 1e-300)
        if small.any():  # Krylov space (nearly) invariant: continue with random directions
            Wn[:, small] = rng.standard_normal((dim, int(small.sum())))
            Wn, _ = np.linalg.qr(_orth_against(Wn, Qr[:k].T, C))
            leave_tridiagonal(k)
        W = Wn[:, : max_dim - k] if k + Wn.shape[1] > max_dim else Wn


# ----------------------------------------------------------------------------------------- Hessian


@dataclass
class HessianSpectrum:
    """Extreme eigenvalues of ``nabla^2 f(X)`` on ``H_X``; ``vec_min`` is a unit eigenvector (``vec`` coords).

    ``eigenvalues`` (dense only) is the whole horizontal spectrum; ``vertical_curvature`` is
    ``max |eig(V^T H V)|`` on the vertical space (dense) or ``max_j |<v_j, H v_j>|`` over (at most 16) basis vectors
    (matrix-free), close to zero at critical points; ``full_min`` / ``full_max`` are the extremes on all of
    ``R^{N x r}`` (dense only). ``converged`` / ``residuals`` report the block Lanczos stopping test.
    """

    lambda_min: float
    lambda_max: float
    vec_min: np.ndarray
    method: str
    horizontal_dim: int
    vertical_curvature: float | None = None
    matvecs: int = 0
    eigenvalues: np.ndarray | None = None
    full_min: float | None = None
    full_max: float | None = None
    converged: bool = True
    residuals: list | None = None


#: the residual Jacobian of a dense sensing operator (``m x N r``) is formed when it has at most this many entries
JACOBIAN_MAX = 20_000_000
DENSE_KINDS = ("dense", "gaussian", "explicit", "kernel")


@jax.jit
def _sym_hvp_parts(obj, X):
    """Quantities of the symmetric HVP that do not depend on the direction (computed once per point)."""
    rho = obj.residual(X)
    c = obj.loss.factor(obj.operator.m)
    w1 = c * obj.loss.dpsi(rho)
    w2 = c * obj.loss.d2psi(rho)
    op = obj.operator
    if op.kind in DENSE_KINDS:
        S = op.adjoint(w1)
        return w1, w2, S + S.T
    return w1, w2, None


@jax.jit
def _sym_jacobian(obj, X):
    """``J[i, :] = vec((A_i + A_i^T) X)``: the Jacobian of ``D -> A(D X^T + X D^T)`` (dense sensing, ``m x N r``)."""
    op = obj.operator
    n, r = X.shape
    AX = (op.full_rows().reshape(op.m * n, n) @ X).reshape(op.m, n * r)  # one GEMM: rows vec(A_i X)
    if getattr(op, "P", None) is not None:  # packed: every A_i exactly symmetric, the Jacobian is 2 A_i X
        return 2.0 * AX
    mats = op.full_rows().reshape(op.m, n, n)
    return AX + jnp.einsum("mji,jk->mik", mats, X).reshape(op.m, n * r)


def _sym_hvp_fixed(obj, X, parts, D):
    """``Hess[D] = (S' + S'^T) X + (S + S^T) D`` with ``S' = c A*(psi'' * A(D X^T + X D^T))`` (MATH.md §3), using
    one forward product on ``[D, X] [X, D]^T`` and, for dense sensing, one adjoint and a precomputed ``S + S^T``;
    identical to :meth:`Objective.hvp` (tested) but cheaper for repeated products at a fixed ``X``."""
    w1, w2, S2 = parts
    op = obj.operator
    y = w2 * op.forward_factored(jnp.concatenate([D, X], axis=1), jnp.concatenate([X, D], axis=1))
    if S2 is not None:
        Sp = op.adjoint(y)
        return (Sp + Sp.T) @ X + S2 @ D
    return op.adjoint_terms((y, w1), (X, D), (X, D))


@jax.jit
def _block_hvp(obj, X, parts, V):
    """``H V`` for a block ``V`` of ``vec`` directions (columns), batched with ``vmap``."""
    Ds = V.T.reshape((V.shape[1],) + X.shape)
    if obj.symmetric:
        out = jax.vmap(lambda D: _sym_hvp_fixed(obj, X, parts, D))(Ds)
    else:
        out = jax.vmap(lambda D: obj.hvp(X, D))(Ds)
    return out.reshape(V.shape[1], -1).T


def hessian_matmat(obj, X) -> Callable[[np.ndarray], np.ndarray]:
    """``V -> nabla^2 f(X) V`` for blocks ``V`` of shape ``(N r, b)``, never forming the ``N r x N r`` Hessian.

    Symmetric dense sensing with ``m N r <= JACOBIAN_MAX``: through the residual Jacobian ``J`` (``m x N r``,
    formed once in ``m n^2 r`` flops): ``H = J^T diag(c psi'') J + (S + S^T) (x) I_r`` (row-major ``vec``;
    MATH.md §3), two thin matrix products per block. Otherwise a ``vmap`` of Hessian-vector products at the fixed
    ``X`` (for symmetric objectives with the direction-independent parts precomputed). Jitted; tested against
    :meth:`Objective.hvp`.
    """
    X = jnp.asarray(X)
    if not obj.symmetric:
        return lambda V: np.asarray(_block_hvp(obj, X, None, jnp.asarray(V)))
    parts = _sym_hvp_parts(obj, X)
    op = obj.operator
    if op.kind in DENSE_KINDS and op.m * X.size <= JACOBIAN_MAX:
        # the products are thin BLAS calls: NumPy avoids a JAX dispatch per Lanczos step
        J = np.asarray(_sym_jacobian(obj, X))
        # J^T u through the transposed view of J: a row-major copy of J^T made one product alone faster but the
        # Lanczos run slower (it costs a copy and doubles the products' working set); `python
        # benchmarks/certify_lanczos.py`, lambda_min only at a generic point: 0.052-0.094 s with the copy (0.4.14),
        # 0.048-0.062 s without (0.4.15)
        Jt = J.T
        _, w2, S2 = (np.asarray(p) for p in parts)
        n, r = X.shape

        def jac_mm(V):
            V = np.asarray(V, dtype=float).reshape(J.shape[1], -1)
            b = V.shape[1]
            curv = (S2 @ V.reshape(n, r * b)).reshape(n * r, b)  # (S2 (x) I_r) V, V's rows in row-major vec(X) order
            if b == 1:  # matrix-vector products (BLAS gemv), not a one-column gemm
                u = J @ V[:, 0]
                u *= w2
                curv[:, 0] += Jt @ u
                return curv
            return Jt @ (w2[:, None] * (J @ V)) + curv
        return jac_mm
    return lambda V: np.asarray(_block_hvp(obj, X, parts, jnp.asarray(V)))


def _packed_jacobian_ok(obj, X) -> bool:
    """Symmetric dense sensing with the packed copy (every ``A_i`` exactly symmetric) and a Jacobian that fits."""
    op = obj.operator
    return (obj.symmetric and op.kind in DENSE_KINDS and getattr(op, "P", None) is not None
            and op.m * X.size <= JACOBIAN_MAX)


def dense_hessian(obj, X) -> np.ndarray:
    """The ``(N r) x (N r)`` Hessian (``vec`` row-major). For packed symmetric dense sensing it is assembled from the
    residual Jacobian, ``J^T diag(c psi'') J + S2 (x) I_r`` (``S2 = S + S^T``; one ``m (N r)^2`` GEMM instead of
    ``N r`` Hessian-vector products); otherwise :meth:`Objective.hessian`. Both are tested against each other."""
    X = jnp.asarray(X)
    if not _packed_jacobian_ok(obj, X):
        return np.asarray(obj.hessian(X))
    return np.asarray(_jacobian_hessian(obj, X))


@jax.jit
def _jacobian_hessian(obj, X):
    """``J^T diag(w2) J + S2 (x) I_r`` (row-major ``vec``), on the objective's device. Every loss offered has
    ``psi'' >= 0``, so the Gauss--Newton part is the Gram matrix of ``sqrt(w2) J`` (half the flops, exactly
    symmetric); a negative weight falls back to the general product."""
    J = _sym_jacobian(obj, X)
    _, w2, S2 = _sym_hvp_parts(obj, X)
    K = jnp.sqrt(jnp.maximum(w2, 0.0))[:, None] * J
    gn = jax.lax.cond(jnp.all(w2 >= 0), lambda: K.T @ K, lambda: J.T @ (w2[:, None] * J))
    return gn + jnp.kron(S2, jnp.eye(X.shape[1], dtype=X.dtype))


def hessian_spectrum(obj, X, vertical: VerticalSpace, *, method: str = "auto", seed: int = 0,
                     tol: float = LANCZOS_TOL) -> HessianSpectrum:
    """Spectrum of the Hessian on the horizontal space (see the module docstring for the methods)."""
    check_method(method)
    X = jnp.asarray(X)
    size = int(X.size)
    if method == "auto":
        limit = DENSE_MAX_JACOBIAN if _packed_jacobian_ok(obj, X) else DENSE_MAX
        method = "dense" if size <= limit else "lanczos"
    hdim = size - vertical.dim
    if hdim <= 0:
        raise ValueError("the horizontal space is trivial (every direction is a symmetry direction)")
    if method == "dense":
        H = dense_hessian(obj, X)
        Hb = horizontal_basis(vertical, size)
        Hh = Hb.T @ H @ Hb
        w, V = np.linalg.eigh(0.5 * (Hh + Hh.T))
        vc = (float(np.max(np.abs(np.linalg.eigvalsh(vertical.basis.T @ H @ vertical.basis))))
              if vertical.dim else 0.0)
        wf = np.linalg.eigvalsh(H)
        return HessianSpectrum(float(w[0]), float(w[-1]), Hb @ V[:, 0], "dense", hdim, vc, 0, w,
                               float(wf[0]), float(wf[-1]))
    mm = hessian_matmat(obj, X)
    ex = extreme_eigs(mm, size, constraint=vertical.basis if vertical.dim else None, seed=seed, tol=tol,
                      dense_max=0)
    vc = 0.0
    if vertical.dim:
        Bn = vertical.basis[:, :16]
        vc = float(np.max(np.abs(np.sum(Bn * mm(Bn), axis=0))))
    vmin = vertical.project_out(np.asarray(ex.vec_min))
    nv = np.linalg.norm(vmin)
    vmin = vmin / nv if nv > 0 else vmin
    return HessianSpectrum(ex.lambda_min, ex.lambda_max, vmin, ex.method, hdim, vc, ex.matvecs,
                           converged=ex.converged, residuals=ex.residuals)
