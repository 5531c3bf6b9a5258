"""Preconditioned gradient methods for ill-conditioned truths: ScaledGD and PrecGD.

* ScaledGD (Tong, Ma, Chi 2021): symmetric ``X <- X - eta grad f(X) (X^T X + lam I)^{-1}``; asymmetric
  ``U <- U - eta grad_U f (V^T V + lam I)^{-1}``, ``V <- V - eta grad_V f (U^T U + lam I)^{-1}`` (both from the same
  iterate), with ``lam = damping`` (default 0: the exact method, which needs ``X`` of full column rank, so it suits
  ``r = r*``; in the over-parameterised case ``X^T X`` becomes singular and the run ends as ``diverged``).
* PrecGD (Zhang, Fattahi, Zhang 2021): the same update with the damping ``lam = damping_scale * sqrt(f(X))``
  (default ``damping_scale = 1``: ``lam = sqrt(f)``), which keeps the preconditioner invertible when ``r > r*`` and
  restores linear convergence there.

The preconditioned step makes the local contraction independent of the condition number of ``M*``. Default step:
``0.1 / gain`` (symmetric) and ``0.2 / gain`` (asymmetric), with ``gain`` from
:class:`~benign.solvers.base.ProblemScale`: for an exact isometry the factor-2 gradient of ``X X^T`` makes
``0.25 / gain`` the one-step ideal; the default keeps a margin of 2.5 for operators far from isometric (sparse
completion, where ``0.2 / gain`` diverges at a sampling rate of 2% with ``n = 1000``).
"""
from __future__ import annotations

from typing import Any

from benign._jax import jax, jnp
from benign.operators import small_matmul
from benign.solvers.base import ProblemScale, Solver, f64, solver_class


#: ranks up to this invert ``X^T X`` by an unrolled Cholesky in plain array operations, which XLA fuses with the rest
#: of the iteration, instead of a LAPACK / cuSOLVER call. ScaledGD at n = 20, r = 2 on an H100 (benchmarks/solvers.py):
#: 245 us per iteration with cuSOLVER, 50 us unrolled. On the 2-core CPU, ``python benchmarks/small_products.py``
#: (second table: a bare ScaledGD loop with the small products written out, ``benign.operators.small_matmul``):
#: 2.3-3.2 -> 1.1-1.4 us per iteration at n = 10, r = 1, 8.6-9.6 -> 7.8-8.6 us at n = 20, r = 2; 0.90-0.99x (not
#: faster) at r = 4, kept unrolled there for the accelerators
UNROLLED_MAX_RANK = 4


#: Cholesky pivot ``j`` at most ``PIVOT_RTOL * P_jj`` counts as zero (Jacobi-scaled: badly scaled but well-conditioned
#: columns pass): ``P`` is then numerically singular (the scaled matrix's condition number above ~1e14, e.g. equal
#: columns of ``X``) and the inverse is NaN, which the loop reports as divergence
PIVOT_RTOL = 64 * float(jnp.finfo(jnp.float64).eps)


def _unrolled_spd_inverse(P):
    """``P^{-1}`` for a small symmetric positive definite ``P`` (``r <= UNROLLED_MAX_RANK``): ``P = L L^T``
    (Cholesky, column by column), ``W = L^{-1}`` (forward substitution), ``P^{-1} = W^T W``; NaN when ``P`` is not
    numerically positive definite (pivot ``j <= PIVOT_RTOL P_jj`` becomes NaN); reads the lower triangle."""
    r = P.shape[0]
    zero = jnp.zeros((), P.dtype)
    L = [[zero] * r for _ in range(r)]
    for j in range(r):
        pivot = P[j, j] - sum((L[j][k] * L[j][k] for k in range(j)), zero)
        L[j][j] = jnp.sqrt(jnp.where(pivot > PIVOT_RTOL * P[j, j], pivot, jnp.nan))
        for i in range(j + 1, r):
            L[i][j] = (P[i, j] - sum((L[i][k] * L[j][k] for k in range(j)), zero)) / L[j][j]
    W = [[zero] * r for _ in range(r)]
    for i in range(r):
        W[i][i] = 1.0 / L[i][i]
        for j in range(i):
            W[i][j] = -sum((L[i][k] * W[k][j] for k in range(j, i)), zero) / L[i][i]
    Wm = jnp.stack([jnp.stack(row) for row in W])
    return small_matmul(Wm.T, Wm)


def _library_spd_inverse(P):
    """As :func:`_unrolled_spd_inverse` through ``jax.scipy.linalg`` (the same pivot rule on the factor's diagonal)."""
    eye = jnp.eye(P.shape[0], dtype=P.dtype)
    factor = jax.scipy.linalg.cho_factor(P)
    inv = jax.scipy.linalg.cho_solve(factor, eye)
    return jnp.where(jnp.all(jnp.diagonal(factor[0]) ** 2 > PIVOT_RTOL * jnp.diagonal(P)), inv, jnp.nan)


def spd_inverse(P):
    """``P^{-1}`` for a symmetric positive definite ``r x r`` ``P``, symmetrised; NaN when ``P`` is not positive
    definite (the loop reports that as divergence). Unrolled Cholesky for ``r <= UNROLLED_MAX_RANK``, else Cholesky
    through ``jax.scipy.linalg``."""
    Pinv = _library_spd_inverse(P) if P.shape[0] > UNROLLED_MAX_RANK else _unrolled_spd_inverse(P)
    return 0.5 * (Pinv + Pinv.T)


def _right_solve(G, P):
    """``G P^{-1}`` for a symmetric positive definite ``r x r`` ``P``: the ``r x r`` inverse (:func:`spd_inverse`),
    then one ``N x r x r`` product. Solving with ``N`` right-hand sides instead (``solve(P, G^T)^T``) is up to 60x
    slower on CPU: the transposes defeat XLA's in-place scatter of the completion gradient."""
    return small_matmul(G, spd_inverse(P))


def preconditioned_direction(obj, x, g, lam):
    """``g (X^T X + lam I)^{-1}`` (symmetric), or blockwise
    ``[g_U (V^T V + lam I)^{-1}; g_V (U^T U + lam I)^{-1}]`` (asymmetric)."""
    r = x.shape[1]
    eye = jnp.eye(r, dtype=x.dtype)
    if obj.symmetric:
        return _right_solve(g, small_matmul(x.T, x) + lam * eye)
    U, V = obj.split(x)
    gU, gV = obj.split(g)
    return jnp.concatenate([_right_solve(gU, small_matmul(V.T, V) + lam * eye),
                            _right_solve(gV, small_matmul(U.T, U) + lam * eye)], axis=0)


def default_scaled_step(obj, scale: ProblemScale) -> float:
    return (0.1 if obj.symmetric else 0.2) / max(scale.gain, 1e-300)


def _resolved_step(solver: Solver, obj, scale: ProblemScale):
    step = solver.setting("step")
    return f64(default_scaled_step(obj, scale) if step is None else step)


def _scaled_update(obj, x, g, aux, step, damping):
    """One preconditioned step ``x - step * direction`` with the new loss and gradient (the loop's update tuple)."""
    x1 = x - step * preconditioned_direction(obj, x, g, damping)
    f1, g1 = obj.value_and_grad(x1)
    return x1, f1, g1, aux, step


@solver_class()
class ScaledGD(Solver):
    """ScaledGD; see the module docstring. Stops on ``||grad f||_F <= gtol * max(s, ||grad f(X0)||_F)`` (``s``:
    :func:`~benign.solvers.loop.gradient_floor`)."""

    step: Any = None
    damping: Any = 0.0

    name = "scaled-gd"
    divergence_hint = ("try a smaller step; X^T X may have become singular (search rank above the truth's rank, or a "
                       "rank-deficient start): try damping=... or prec-gd")

    def resolve(self, obj, scale: ProblemScale, x0) -> "ScaledGD":
        return ScaledGD(step=_resolved_step(self, obj, scale), damping=f64(self.setting("damping")))

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the module docstring)
        return _scaled_update(obj, x, g, aux, self.step, self.damping)


@solver_class()
class PrecGD(Solver):
    """PrecGD: ScaledGD with the damping ``damping_scale * sqrt(f(X))``; see the module docstring."""

    step: Any = None
    damping_scale: Any = 1.0

    name = "prec-gd"

    def resolve(self, obj, scale: ProblemScale, x0) -> "PrecGD":
        return PrecGD(step=_resolved_step(self, obj, scale), damping_scale=f64(self.setting("damping_scale")))

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the module docstring)
        return _scaled_update(obj, x, g, aux, self.step, self.damping_scale * jnp.sqrt(jnp.maximum(f, 0.0)))
