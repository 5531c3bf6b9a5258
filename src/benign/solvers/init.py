"""Initial points and the problem scales that default step sizes depend on.

Three initialisations (all seeded through ``jax.random.key(seed)``; start ``i`` of a multi-start run uses
``fold_in(key, i)``, so start 0 of :func:`~benign.solvers.solve_many` equals :func:`~benign.solvers.solve` with the
same seed):

* ``random``: ``X0 = s G`` with ``G`` i.i.d. ``N(0, 1)``; default ``s = sqrt(sigma / (gain N))`` so that
  ``||X0 X0^T||_2`` is about ``sigma_1(M*)`` (see :class:`~benign.solvers.base.ProblemScale`);
* ``small``: ``X0 = alpha G`` with the *absolute* scale ``alpha`` (default ``1e-3``), the small initialisation of the
  subgradient literature (the error floor of over-parameterised l1 recovery scales with ``alpha``);
* ``spectral``: the top-``r`` eigenpairs ``(lambda_i, v_i)`` of ``B = sym(A*(b))`` (singular triplets of ``A*(b)`` in
  the asymmetric case), ``X = V |Lambda|^{1/2}``, rescaled by the least-squares factor
  ``t = <A(X X^T), b> / ||A(X X^T)||^2`` (so no operator normalisation is assumed: for completion this divides by the
  sampling rate). ``B`` is never formed for structured operators: a matrix-free subspace iteration applies
  ``A*(b) Q`` through ``adjoint_matmul``. Deterministic apart from the iteration's random start.

For a nonnegative objective every initial point is replaced by its entrywise absolute value (so ``X0 >= 0``).
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign._memo import IdentityCache
from benign.errors import check_choice, check_float, check_int, check_seed
from benign.solver_options import INITS, check_spectral_scale
from benign.solvers.base import ProblemScale

SMALL_SCALE = 1e-3


def _sym_apply(obj, y, Q):
    """``sym(A*(y)) Q`` (symmetric) without forming ``A*(y)`` for structured operators."""
    op = obj.operator
    return 0.5 * (op.adjoint_matmul(y, Q) + op.adjoint_rmatmul(y, Q))


@partial(jax.jit, static_argnames=("k", "iters"))
def _top_pairs(obj, key, k: int, iters: int):
    """Subspace iteration on ``B = c A*(b)`` (sym part, or ``B B^T``): ``k`` Ritz pairs, largest magnitude first.

    Returns ``(values, left, right)``: eigenvalues and eigenvectors twice (symmetric), or singular values with
    left/right singular vectors (asymmetric).
    """
    c = obj.loss.factor(obj.operator.m)
    y = c * obj.b
    op = obj.operator
    d1, d2 = op.shape
    Q = jnp.linalg.qr(jax.random.normal(key, (d1, k), dtype=jnp.float64))[0]
    if obj.symmetric:
        step = lambda Q: jnp.linalg.qr(_sym_apply(obj, y, Q))[0]  # noqa: E731
    else:
        step = lambda Q: jnp.linalg.qr(op.adjoint_matmul(y, op.adjoint_rmatmul(y, Q)))[0]  # noqa: E731
    Q = jax.lax.fori_loop(0, iters, lambda _, Q: step(Q), Q)
    if obj.symmetric:
        T = Q.T @ _sym_apply(obj, y, Q)
        lam, S = jnp.linalg.eigh(0.5 * (T + T.T))
        order = jnp.argsort(-jnp.abs(lam))
        V = Q @ S[:, order]
        return lam[order], V, V
    W = op.adjoint_rmatmul(y, Q)  # B^T Q = (Q^T B)^T, d2 x k
    Ub, s, Vt = jnp.linalg.svd(W.T, full_matrices=False)
    return s, Q @ Ub, Vt.T


@partial(jax.jit, static_argnames=("symmetric", "iters"))
def _scale_stats(operator, y, v0, L, R, symmetric: bool, iters: int):
    """``[sigma, gain]`` (one array: one read-back): power iteration on ``sym(A*(y))`` (or ``A*(y)^T A*(y)``) from
    ``v0`` (the Rayleigh quotient; ``||S v||`` where the iteration has not settled, see below), and the mean of
    ``||A(L_k R_k^T)||^2 / ||L_k R_k^T||_F^2`` over the probes ``(L_k, R_k)``. Only the operator is traced (the loss
    scaling is applied by the caller), so one compilation serves every loss on the same operator."""
    if symmetric:
        apply = lambda v: 0.5 * (operator.adjoint_matmul(y, v) + operator.adjoint_rmatmul(y, v))  # noqa: E731
    else:
        apply = lambda v: operator.adjoint_rmatmul(y, operator.adjoint_matmul(y, v))  # noqa: E731

    def step(_, v):
        w = apply(v)
        return w / jnp.maximum(jnp.sqrt(jnp.sum(w * w)), 1e-300)

    v = jax.lax.fori_loop(0, iters, step, v0 / jnp.sqrt(jnp.sum(v0 * v0)))
    w = apply(v)
    rq = jnp.sum(v * w)
    if symmetric:
        # the Rayleigh quotient, unless the iteration has not settled on an eigenvector: extreme eigenvalues of
        # opposite signs and nearly equal size keep v a mixture of both, and |v^T S v| then falls far below ||S||_2;
        # ||S v|| (of a unit v, at most ||S||_2) is the estimate there
        wn = jnp.sqrt(jnp.sum(w * w))
        settled = jnp.sqrt(jnp.sum((w - rq * v) ** 2)) <= 1e-3 * wn
        sigma = jnp.where(settled, jnp.abs(rq), wn)
    else:
        sigma = jnp.sqrt(jnp.abs(rq))

    def one(Lk, Rk):
        a = operator.forward_factored(Lk, Rk)
        return jnp.sum(a * a) / jnp.sum((Lk.T @ Lk) * (Rk.T @ Rk))

    return jnp.stack([sigma, jnp.mean(jax.vmap(one)(L, R))])


def _scale_inputs(obj, rank: int, seed: int, probes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The start vector and the rank-``rank`` Gaussian probes, from NumPy's PCG64 seeded with ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([check_seed(seed), 7_777_777]))
    d1, d2 = obj.operator.shape
    r = min(rank, d1, d2)
    v0 = rng.standard_normal((d1 if obj.symmetric else d2, 1))
    L = rng.standard_normal((probes, d1, r))
    R = L if obj.symmetric else rng.standard_normal((probes, d2, r))
    return v0, L, R


def _scale_of(obj, sigma, gain) -> ProblemScale:
    """The loss scaling applied to the raw statistics; non-finite or non-positive values fall back to 1."""
    c = obj.loss.factor(obj.operator.m)
    sigma, gain = c * float(sigma), c * float(gain)
    return ProblemScale(sigma=sigma if np.isfinite(sigma) and sigma > 0 else 1.0,
                        gain=gain if np.isfinite(gain) and gain > 0 else 1.0, rows=obj.rows)


#: recent :func:`problem_scale` results, by the objective's identity (kept only for objectives whose arrays are all
#: JAX arrays, which cannot change, so that a hit is the same computation's result)
_SCALES = IdentityCache(32)


def problem_scale(obj, rank: int = 1, seed: int = 0, iters: int = 30, probes: int = 4) -> ProblemScale:
    """``sigma`` and ``gain`` of :class:`~benign.solvers.base.ProblemScale` (a few operator applications).

    The start vector and the rank-``rank`` Gaussian probes come from NumPy's PCG64 seeded with ``seed``. The result
    is remembered for the same objective object (same arguments) while it lives, when its arrays are JAX arrays
    (immutable; an objective built on the host with NumPy arrays is recomputed each time): repeated solves of one
    objective pay the statistics (about 0.3 ms at ``n = 20`` on a CPU) once.
    """
    rank = check_int("rank", rank, minimum=1)

    def compute() -> ProblemScale:
        v0, L, R = _scale_inputs(obj, rank, seed, probes)
        # NumPy inputs go straight to the compiled call and both numbers come back in one read-back (eager
        # ``jnp.asarray`` and two ``float()`` read-backs cost about 0.1 ms, more than the statistics at small n)
        sigma, gain = np.asarray(_scale_stats(obj.operator, obj.b, v0, L, R, obj.symmetric, iters))
        return _scale_of(obj, sigma, gain)

    if not all(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(obj)):
        return compute()
    return _SCALES.get(obj, (rank, seed, iters, probes), compute)


@partial(jax.jit, static_argnames=("symmetric", "iters"))
def _scale_stats_map(operators, ys, v0s, Ls, Rs, symmetric: bool, iters: int):
    """:func:`_scale_stats` of every member of stacked operators (``lax.map``: each member as when alone)."""
    return jax.lax.map(lambda a: _scale_stats.__wrapped__(*a, symmetric, iters), (operators, ys, v0s, Ls, Rs))


def problem_scales(objs: list, stacked, rank: int, seeds: list[int], iters: int = 30,
                   probes: int = 4) -> list[ProblemScale]:
    """``[problem_scale(o, rank, s) for o, s in zip(objs, seeds)]`` in one compiled call over ``stacked`` (the
    objectives stacked along a leading axis; same shapes). The statistics are the same numbers as
    :func:`problem_scale`'s (``lax.map`` runs each member's computation as it runs alone; tested)."""
    rank = check_int("rank", rank, minimum=1)
    inputs = [_scale_inputs(o, rank, s, probes) for o, s in zip(objs, seeds)]
    v0, L, R = (np.stack([x[j] for x in inputs]) for j in range(3))
    stats = np.asarray(_scale_stats_map(stacked.operator, stacked.b, v0, L, R, objs[0].symmetric, iters))
    return [_scale_of(o, stats[i, 0], stats[i, 1]) for i, o in enumerate(objs)]


def _spectral(obj, rank: int, key, iters: int = 50):
    d1, d2 = obj.operator.shape
    k = min(d1, d2, rank + max(5, rank))
    vals, left, right = _top_pairs(obj, key, k, iters)
    if obj.symmetric:
        order = jnp.argsort(-vals)[:rank]  # algebraically largest: the PSD part of M*
        X = left[:, order] * jnp.sqrt(jnp.abs(vals[order]))
        L = R = X
    else:
        sq = jnp.sqrt(vals[:rank])
        L, R = left[:, :rank] * sq, right[:, :rank] * sq
        X = jnp.concatenate([L, R], axis=0)
    a = obj.operator.forward_factored(L, R)
    t = jnp.sum(a * obj.b) / jnp.maximum(jnp.sum(a * a), 1e-300)
    return jnp.sqrt(jnp.maximum(t, 0.0)) * X


def _check_init(init: str) -> str:
    return check_choice("init", init, INITS)


def start_scale(init: str, scale: float | None, rows: int, problem) -> float:
    """The factor ``s`` of a random or small start ``s G``: ``scale`` when given (validated), ``SMALL_SCALE`` for
    ``small``, else ``sqrt(sigma / gain) / sqrt(N)`` from ``problem()`` (a :class:`ProblemScale`, computed only then)."""
    if scale is not None:
        return check_float("init_scale", scale, lo=0.0, lo_open=True)
    if init == "small":
        return SMALL_SCALE
    return problem().factor_scale / np.sqrt(rows)


def initial_point(obj, rank: int, init: str = "random", scale: float | None = None, seed: int = 0,
                  count: int | None = None, *, problem: ProblemScale | None = None) -> np.ndarray:
    """An initial point of shape ``(N, rank)`` (or ``(count, N, rank)`` for ``count`` starts).

    See the module docstring for the three rules; ``scale`` is ``s`` (random), ``alpha`` (small); refused
    for spectral (its scale is fitted). Start ``i`` draws from ``fold_in(jax.random.key(seed), i)``.
    """
    from benign.objective import check_objective

    check_objective(obj)
    rank = check_int("rank", rank, minimum=1)
    init = _check_init(init)
    seed = check_seed(seed)
    if scale is not None:
        scale = check_float("init_scale", scale, lo=0.0, lo_open=True)
        check_spectral_scale(init, scale)
    if count is not None:
        count = check_int("count", count, minimum=1)
    N = obj.rows
    if init == "spectral":
        d1, d2 = obj.operator.shape
        if rank > min(d1, d2):
            raise ValueError(f"spectral init needs rank <= min(d1, d2) = {min(d1, d2)}, got {rank}")
        X = np.asarray(_spectral(obj, rank, jax.random.fold_in(jax.random.key(seed), 0)))
        out = np.broadcast_to(X, (count or 1, N, rank)).copy()
    else:
        scale = start_scale(init, scale, N, lambda: problem or problem_scale(obj, rank, seed))
        with np.errstate(over="ignore"):  # an overflowing scale gives inf entries: the run reports it at its start
            out = scale * np.asarray(_normal_starts(np.int64(seed), count or 1, N, rank))
    if obj.nonnegative:
        out = np.abs(out)
    return out if count is not None else out[0]


@partial(jax.jit, static_argnames=("count", "rows", "rank"))
def _normal_starts(seed, count: int, rows: int, rank: int):
    """``count`` standard normal ``rows x rank`` draws, start ``i`` from ``fold_in(key(seed), i)`` (one compiled
    call: eager ``vmap`` re-traces on every call, about 1 ms)."""
    base = jax.random.key(seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(count))
    return jax.vmap(lambda kk: jax.random.normal(kk, (rows, rank), dtype=jnp.float64))(keys)


@partial(jax.jit, static_argnames=("count",))
def _run_keys(seed, count: int):
    base = jax.random.fold_in(jax.random.key(seed), 1_000_003)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(count))


def run_keys(seed: int, count: int) -> Any:
    """Keys for the solvers' own randomness (perturbations), one per start, independent of the init keys."""
    return _run_keys(jnp.asarray(seed, dtype=jnp.int64), int(count))  # seed may be traced (solve_stacked)


def run_key_traced(seed):
    """``run_keys(seed, 1)[0]`` for a traced ``seed`` (one start's key; ``vmap``-ed in ``solve_stacked``)."""
    return _run_keys.__wrapped__(seed, 1)[0]


_run_key = jax.jit(run_key_traced)


@lru_cache(maxsize=256)
def run_key(seed: int) -> Any:
    """``run_keys(seed, 1)[0]`` in one compiled call (an eager index of a key array costs about 60 us); remembered
    for the last 256 seeds (a key is an immutable JAX array: the call costs about 20 us more than a lookup)."""
    return _run_key(np.int64(seed))
