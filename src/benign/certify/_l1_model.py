"""The exact local model of the l1 objective at a point (MATH.md §4, seed 002), used by :mod:`benign.certify.l1`.

Write ``f(X) = F(M(X))`` with ``F(M) = c ||A(M) - b||_1`` (``c = 1`` or ``1/m``) and ``rho = A(M(X)) - b``.
Split the measurements into ``S`` (nonzero residual, sign ``sigma_i``) and ``I0`` (zero residual); then

    L(D) = c [ sum_{i in S} sigma_i <A_i, D> + sum_{i in I0} |<A_i, D>| ]

equals ``F(M + D) - F(M)`` exactly while no residual in ``S`` changes sign. Writing ``lin_i = c sigma_i`` on ``S``
(0 on ``I0``) and ``absw_i = c`` on ``I0`` (0 on ``S``), ``L(D) = sum_i lin_i a_i + absw_i |a_i|`` with
``a_i = <A_i, D>``.

Reduced coordinates. The point is rotated so that its spare columns vanish: ``X R = [Z, 0]`` (symmetric,
``R`` orthogonal) or ``[U R; V R] = [L 0; R' 0]`` (asymmetric, ``R`` a permutation), ``Z`` of full column rank
``s`` and ``q = k - s`` spare columns. With an orthonormal basis ``O = [Q_Z, Q_perp]`` of ``R^n`` whose first
``s`` columns span ``range(Z)`` (``O1``, ``O2`` for the two sides in the asymmetric case) every sensing matrix is
written ``C_i = O^T sym(A_i) O`` (symmetric; ``sym(A) = (A + A^T)/2``) or ``C_i = O1^T A_i O2``. In these
coordinates the image of ``D1(U) = U X^T + X U^T`` (the ``E`` subspace) is the set of (symmetric) matrices whose
lower-right ``(p - s) x (p - s)`` block vanishes, and directions "on ``Z^perp``" live in that block.

Memory: the compressed matrices take ``m p1 p2`` numbers (the sensing matrices in a rotated basis), so the stages
that need them are meant for small and moderate sizes (``m p1 p2 <= 5e7``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.objective import values_and_changes

#: refuse to form the compressed sensing matrices above this many numbers
MAX_COMPRESSED = 5e7


@dataclass
class Reduction:
    """``X R = [Z, 0]`` with ``Z`` of full column rank ``s``; ``q = k - s`` spare columns.

    ``how`` is ``"identity"``, ``"permutation"`` (exactly zero columns moved last) or ``"svd"`` (right singular
    vectors; ``dropped`` is the Frobenius norm of the discarded part ``X R[:, s:]``, below the rank tolerance).
    ``left``/``right`` are the reduced factors (``Z`` twice in the symmetric case).
    """

    R: np.ndarray
    s: int
    q: int
    how: str
    dropped: float
    left: np.ndarray
    right: np.ndarray
    supported: bool = True
    reason: str = ""


@dataclass
class LocalModel:
    """Everything the ladder needs at one point (see the module docstring)."""

    symmetric: bool
    c: float
    m: int
    rho: np.ndarray
    in_S: np.ndarray  # bool (m,)
    sigma: np.ndarray  # +-1 on S, 0 on I0
    lin: np.ndarray
    absw: np.ndarray
    set_rule: str
    red: Reduction
    O1: np.ndarray | None = None
    O2: np.ndarray | None = None
    C: np.ndarray | None = None  # (m, p1, p2), symmetrised in the symmetric case
    aE: np.ndarray | None = None  # (m, dE): <C_i, B_j> for an orthonormal basis B_j of the E subspace
    E_index: list = field(default_factory=list)  # (row, col) of each basis element in O coordinates
    scales: dict = field(default_factory=dict)

    @property
    def S(self) -> np.ndarray:
        return np.flatnonzero(self.in_S)

    @property
    def I0(self) -> np.ndarray:
        return np.flatnonzero(~self.in_S)

    @property
    def p1(self) -> int:
        return int(self.C.shape[1])

    @property
    def p2(self) -> int:
        return int(self.C.shape[2])

    def L_of_a(self, a: np.ndarray) -> float:
        """``L`` from the measurement values ``a_i = <A_i, D>`` (last axis), in NumPy."""
        return np.sum(self.lin * a, axis=-1) + np.sum(self.absw * np.abs(a), axis=-1)

    def a_of(self, D: np.ndarray) -> np.ndarray:
        """``a_i = <C_i, D>`` for a matrix ``D`` in O coordinates."""
        return np.einsum("ijk,jk->i", self.C, D)

    def E_matrix(self, e: np.ndarray) -> np.ndarray:
        """The matrix (O coordinates) with coordinates ``e`` in the orthonormal E basis."""
        D = np.zeros((self.p1, self.p2))
        for val, (j, l) in zip(e, self.E_index):
            if self.symmetric and j != l:
                D[j, l] += val / np.sqrt(2.0)
                D[l, j] += val / np.sqrt(2.0)
            else:
                D[j, l] += val
        return D


# ---------------------------------------------------------------------------------------------- sets S / I0

def measurement_sets(rho: np.ndarray, instance: Any, at_truth: bool, res_tol: float) -> tuple[np.ndarray, np.ndarray, str]:
    """``(in_S, sigma, rule)``. At the ground truth ``S`` is the instance's recorded corruption (outlier mask and
    nonzero recorded noise) and ``sigma = sign(rho) = -sign(noise)`` there, never a tolerance on residuals; elsewhere
    ``S = {i : |rho_i| > res_tol}`` with ``sigma = sign(rho)``."""
    m = rho.shape[0]
    if at_truth:
        noise = None if instance.noise is None else np.asarray(instance.noise, dtype=float)
        if instance.outlier_mask is not None:
            in_S = np.asarray(instance.outlier_mask, dtype=bool).copy()
            rule = "outlier_mask"
            if noise is not None:
                in_S &= noise != 0
        elif noise is not None and np.any(noise != 0):
            in_S = noise != 0
            rule = "recorded_noise"
        else:
            in_S = np.zeros(m, dtype=bool)
            rule = "noiseless"
        sigma = np.zeros(m)
        if noise is not None:
            sigma[in_S] = -np.sign(noise[in_S])
        else:
            sigma[in_S] = np.sign(rho[in_S])
        return in_S, sigma, rule
    in_S = np.abs(rho) > res_tol
    sigma = np.where(in_S, np.sign(rho), 0.0)
    return in_S, sigma, "residual_tolerance"


# ---------------------------------------------------------------------------------------------- reduction

def _full_col_rank(A: np.ndarray, rank_rtol: float) -> bool:
    if A.shape[1] == 0:
        return True
    sv = np.linalg.svd(A, compute_uv=False)
    return bool(sv[-1] > rank_rtol * max(sv[0], 1e-300)) and sv[0] > 0


def reduce_point(obj: Any, X: np.ndarray, rank_rtol: float) -> Reduction:
    """Rotate ``X`` so that its spare columns vanish (see :class:`Reduction`)."""
    k = X.shape[1]
    Uf, Vf = (X, X) if obj.symmetric else (X[: obj.shape[0]], X[obj.shape[0]:])
    zero = np.all(Uf == 0, axis=0) & np.all(Vf == 0, axis=0)
    perm = np.concatenate([np.flatnonzero(~zero), np.flatnonzero(zero)])
    s0 = int((~zero).sum())
    P = np.eye(k)[:, perm]
    if _full_col_rank(Uf[:, ~zero], rank_rtol) and _full_col_rank(Vf[:, ~zero], rank_rtol):
        how = "identity" if np.array_equal(perm, np.arange(k)) else "permutation"
        return Reduction(P, s0, k - s0, how, 0.0, (Uf @ P)[:, :s0], (Vf @ P)[:, :s0])
    if not obj.symmetric:
        return Reduction(P, s0, k - s0, "unsupported", 0.0, (Uf @ P)[:, :s0], (Vf @ P)[:, :s0], False,
                         "asymmetric point whose factors U, V are rank deficient without common zero columns")
    _, sv, Wt = np.linalg.svd(X, full_matrices=True)
    s = int(np.sum(sv > rank_rtol * max(sv[0], 1e-300))) if sv.size and sv[0] > 0 else 0
    R = Wt.T
    XR = X @ R
    return Reduction(R, s, k - s, "svd", float(np.linalg.norm(XR[:, s:])), XR[:, :s], XR[:, :s])


def _basis(F: np.ndarray) -> np.ndarray:
    """Orthonormal basis of ``R^d`` whose first ``s`` columns span ``range(F)`` (``F`` of full column rank)."""
    d, s = F.shape
    if s == 0:
        return np.eye(d)
    Q, _ = np.linalg.qr(F, mode="complete")
    return Q


def compressed_matrices(obj: Any, red: Reduction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(O1, O2, C)`` with ``C_i = O1^T sym(A_i) O2`` (symmetric) or ``O1^T A_i O2``, shape ``(m, p1, p2)``."""
    d1, d2 = obj.shape
    m = obj.operator.m
    if m * d1 * d2 > MAX_COMPRESSED:
        raise ValueError(f"the l1 certificate's compressed operator would need m*d1*d2 = {m * d1 * d2} numbers "
                         f"(limit {MAX_COMPRESSED:.0e})")
    O1 = _basis(red.left)
    O2 = O1 if obj.symmetric else _basis(red.right)
    mats = jnp.asarray(obj.operator.matrices())
    if obj.symmetric:
        mats = 0.5 * (mats + jnp.swapaxes(mats, 1, 2))
    C = np.asarray(_rotate(mats, jnp.asarray(O1), jnp.asarray(O2)))
    if obj.symmetric:
        C = 0.5 * (C + np.swapaxes(C, 1, 2))
    return O1, O2, C


@jax.jit
def _rotate(mats, O1, O2):
    return jnp.einsum("ja,ijk,kb->iab", O1, mats, O2)


def E_basis(symmetric: bool, p1: int, p2: int, s: int) -> list[tuple[int, int]]:
    """Index pairs of an orthonormal basis of the E subspace (O coordinates): entries outside the lower-right
    ``(p1 - s) x (p2 - s)`` block; symmetric case: pairs ``j <= l`` with ``j < s``, basis ``e_j e_j^T`` or
    ``(e_j e_l^T + e_l e_j^T)/sqrt 2``."""
    if symmetric:
        return [(j, l) for j in range(s) for l in range(j, p1)]
    return [(j, l) for j in range(p1) for l in range(p2) if j < s or l < s]


def E_coordinates(C: np.ndarray, index: list, symmetric: bool) -> np.ndarray:
    """``aE[i, j] = <C_i, B_j>`` for the basis of :func:`E_basis`."""
    if not index:
        return np.zeros((C.shape[0], 0))
    rows = np.array([j for j, _ in index])
    cols = np.array([l for _, l in index])
    vals = C[:, rows, cols]
    if symmetric:
        vals = vals * np.where(rows == cols, 1.0, np.sqrt(2.0))
    return vals


def build_model(obj: Any, rho: np.ndarray, in_S: np.ndarray, sigma: np.ndarray, rule: str, red: Reduction,
                compress: bool = True) -> LocalModel:
    """Assemble the :class:`LocalModel`; the compressed matrices only when ``compress`` (levels 3-5)."""
    m = obj.operator.m
    c = float(obj.loss.factor(m))
    lin = np.where(in_S, c * sigma, 0.0)
    absw = np.where(in_S, 0.0, c)
    model = LocalModel(obj.symmetric, c, m, rho, in_S, sigma, lin, absw, rule, red)
    if compress and red.supported:
        O1, O2, C = compressed_matrices(obj, red)
        model.O1, model.O2, model.C = O1, O2, C
        model.E_index = E_basis(obj.symmetric, C.shape[1], C.shape[2], red.s)
        model.aE = E_coordinates(C, model.E_index, obj.symmetric)
        s = red.s
        C22 = C[:, s:, s:]
        # Lipschitz constant of L in Frobenius norm, and the bound L(-P) <= K tr P on PSD P supported on Z^perp
        model.scales["L"] = c * float(np.sum(np.sqrt(np.sum(C ** 2, axis=(1, 2)))))
        if C22.size:
            ops = (np.max(np.abs(np.linalg.eigvalsh(C22)), axis=1) if obj.symmetric
                   else np.linalg.norm(C22, ord=2, axis=(1, 2)))
            model.scales["K"] = c * float(np.sum(ops))
        else:
            model.scales["K"] = 0.0
    return model


# ---------------------------------------------------------------------------------------------- evaluation

_values_and_changes = jax.jit(values_and_changes)


def gamma_grid(gamma_min: float, gamma_max: float = 1.0, per_decade: int = 2) -> np.ndarray:
    """Decreasing geometric grid from ``gamma_max`` down to ``gamma_min`` (both included)."""
    n = max(int(np.ceil(per_decade * np.log10(gamma_max / gamma_min))), 1)
    return np.geomspace(gamma_max, gamma_min, n + 1)


def verify_curve(obj: Any, X: np.ndarray, f0: float, first: np.ndarray,
                 second: np.ndarray | None, order: int, predicted: float, gammas: np.ndarray) -> dict:
    """Evaluate ``f`` along ``X + g first + g^2 second`` on the grid ``gammas`` (decreasing).

    ``predicted`` is the model's coefficient: ``f(X(g)) - f(X) ~ predicted * g**order`` for small ``g``.
    ``verified`` means: at every grid point ``g <= gamma0`` the cancellation-free difference is negative, the plain
    value ``f(X(g))`` is below ``f(X)`` wherever that difference exceeds the round-off of ``f`` (``1e3 eps (1 + f)``),
    and ``gamma0 >= gammas[-1]``; ``slope_rel_err`` compares ``diff / g**order`` with ``predicted`` at the
    smallest ``g``.
    """
    g = np.asarray(gammas, dtype=float)[:, None, None]
    Ds = g * first if second is None else g * first + g * g * second
    # the cancellation-free differences (benign.objective.loss_change) and the plain values, in one compiled call
    vals, diffs, _ = (np.asarray(a) for a in _values_and_changes(obj, jnp.asarray(X), jnp.asarray(Ds)))
    rows = [(float(gi), float(v), float(d)) for gi, v, d in zip(gammas, vals, diffs)]
    roundoff = 1e3 * np.finfo(float).eps * (1.0 + abs(f0))
    ok = [d < 0 and (v < f0 or abs(d) <= roundoff) for _, v, d in rows]
    gamma0 = None
    for (g, _, _), good in zip(reversed(rows), reversed(ok)):
        if not good:
            break
        gamma0 = g
    g_last, _, d_last = rows[-1]
    slope = d_last / g_last ** order
    rel = abs(slope - predicted) / max(abs(predicted), 1e-300)
    return {"gammas": [r[0] for r in rows], "values": [r[1] for r in rows], "differences": [r[2] for r in rows],
            "f0": f0, "order": order, "predicted_coefficient": predicted, "observed_coefficient": slope,
            "slope_rel_err": rel, "gamma0": gamma0, "verified": gamma0 is not None}
