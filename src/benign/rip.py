"""Restricted isometry constants (MATH.md §5).

``A`` is ``delta``-RIP_k when ``(1 - delta)||M||_F^2 <= ||A(M)||^2 <= (1 + delta)||M||_F^2`` for all ``M`` of rank
``<= k``. For symmetric problems ``M`` ranges over symmetric matrices.

* :func:`full_rank_rip` -- the exact constant for ``k = n`` from the extreme eigenvalues ``mu <= L`` of the kernel
  ``H = A^T A`` restricted to (symmetric) matrices: ``delta = max(1 - mu, L - 1)``; it upper-bounds every
  ``delta_k``. Also the scale-optimal constant ``(L - mu)/(L + mu)``, attained by ``sqrt(2/(L + mu)) A``.
* :func:`full_rank_spectrum` -- the same numbers without the ``n^2 x n^2`` kernel (closed form for completion, Gram
  matrices for rank-one and dense operators).
* :func:`rip_search` / :func:`rip_bounds` -- for rank ``k``: a certified lower bound from explicit rank-``k``
  matrices found by a multi-start Riemannian search (matrix-free) and the full-rank constant as upper bound, returned
  as ``{"lower", "upper", "method", ...}``; :func:`random_rank_ratios` -- the empirical distortion at random
  rank-``k`` matrices (not a bound).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from benign.errors import check_bool
from benign.operators import Operator, kernel, symmetric_basis


#: iterations of the rank-k search per compiled call (between calls, Ctrl-C and progress reports get through)
SEARCH_CHUNK = 100


def _check_operator(op: Any) -> None:
    if not isinstance(op, Operator):
        raise TypeError(f"op must be a benign Operator (e.g. instance.operator), got {type(op).__name__}")


#: relative rounding margin within which a computed quotient is clamped to the exact full-rank bracket
BRACKET_RTOL = 1e-12


def eigenvalue_rounding(lambda_max: float, m: int, dim: int, terms: int | None = None) -> float:
    """A bound on the rounding in the computed extreme eigenvalues of a kernel ``K = R^T R`` (``dim x dim``, from
    ``m`` rows): forming it (inner products of ``terms`` (default ``m``) products, ``|E| <= terms eps |R|^T |R|``
    entrywise, and ``|| |R| ||_2^2 <= min(m, dim) ||R||_2^2``) plus the symmetric eigensolver's backward error
    (``<= 10 dim eps ||K||``), both relative to ``||K||_2 = lambda_max``. ``delta + rounding`` is an upper bound on
    the exact constant that survives the rounding: what a strict condition such as ``delta < 1/2`` is tested
    with (:func:`benign.theory.evaluate`)."""
    terms = m if terms is None else terms
    return float(np.finfo(float).eps * (terms * min(m, dim) + 10 * dim) * max(abs(lambda_max), 0.0))


def restricted_kernel(op: Operator, symmetric: bool = True) -> np.ndarray:
    """The kernel in an orthonormal basis of symmetric matrices (``n(n+1)/2`` square) or of all matrices."""
    H = kernel(op)
    if symmetric:
        P = symmetric_basis(op.shape[0])
        H = P.T @ H @ P
    return 0.5 * (H + H.T)


def full_rank_rip(op: Operator, symmetric: bool = True) -> dict:
    """Exact full-rank RIP constant and the scale-optimal one (see the module docstring)."""
    _check_operator(op)
    symmetric = check_bool("symmetric", symmetric)
    if symmetric and op.shape[0] != op.shape[1]:
        raise ValueError(f"symmetric RIP needs a square operator, got {op.shape}")
    K = restricted_kernel(op, symmetric)
    lam = np.linalg.eigvalsh(K)
    # K = A^T A is PSD of rank <= m: with m below its side lambda_min is exactly 0 (whatever sign rounding gives the
    # computed one); otherwise a negative computed eigenvalue is rounding, read as 0
    mu = 0.0 if op.m < K.shape[0] else max(float(lam[0]), 0.0)
    L = float(lam[-1])
    delta = max(1.0 - mu, L - 1.0)
    rounding = eigenvalue_rounding(L, op.m, K.shape[0])
    out = {"available": True, "rank": "full", "space": "symmetric" if symmetric else "all",
           "lambda_min": mu, "lambda_max": L, "delta": delta, "rounding": rounding, "delta_upper": delta + rounding}
    if L > 0:
        out["delta_scaled"] = (L - mu) / (L + mu)
        out["optimal_scale"] = float(np.sqrt(2.0 / (L + mu)))
    return out


# ------------------------------------------------------------------------------------------------------------------
# Full-rank spectrum without the n^2 x n^2 kernel, rank-k search bounds
# ------------------------------------------------------------------------------------------------------------------
#
# Space: ``"symmetric"`` (M ranges over symmetric matrices, the symmetric problem's convention) or ``"all"``.
# ``lambda_min``/``lambda_max`` are the extreme values of the Rayleigh quotient ``||A(M)||^2 / ||M||_F^2`` over the
# space; ``delta = max(1 - lambda_min, lambda_max - 1)``; ``delta_scaled = (L - mu)/(L + mu)``.

#: largest matrix side handed to a dense symmetric eigensolver by :func:`full_rank_spectrum`
MAX_EIG_SIDE = 4000


def _svec_rows(mats: np.ndarray) -> np.ndarray:
    """``svec`` of each (symmetrised) ``n x n`` matrix in the :func:`symmetric_basis` order: ``(m, n(n+1)/2)``."""
    n = mats.shape[1]
    iu, ju = np.triu_indices(n)
    S = 0.5 * (mats + mats.transpose(0, 2, 1))
    w = np.where(iu == ju, 1.0, np.sqrt(2.0))
    return S[:, iu, ju] * w


def _spectrum_from_rows(R: np.ndarray, dim: int) -> tuple[float, float, str]:
    """Extreme eigenvalues of ``R^T R`` (``dim x dim``, PSD: a negative computed one is rounding, read as 0) from its
    smaller side."""
    m = R.shape[0]
    if m < dim:
        lam = np.linalg.eigvalsh(R @ R.T)
        return 0.0, float(lam[-1]), f"Gram matrix of the measurements ({m} x {m}); m < {dim} so lambda_min = 0"
    lam = np.linalg.eigvalsh(R.T @ R)
    return max(float(lam[0]), 0.0), float(lam[-1]), f"restricted kernel ({dim} x {dim})"


def full_rank_spectrum(op: Operator, symmetric: bool = True, *, max_flops: float | None = None) -> dict:
    """Exact full-rank constants (same keys as :func:`full_rank_rip`) without forming the ``n^2 x n^2`` kernel.

    * entry sampling: the kernel is diagonal in the entry basis (``c_ij = sum of w^2`` over observations of
      ``(i, j)``); on symmetric matrices its eigenvalues are ``c_ii`` and ``(c_ij + c_ji)/2``: ``O(|Omega|)``;
    * rank-one projections (symmetric): Gram matrix ``(a_i^T a_j)^2`` when ``m < n(n+1)/2``: ``O(m^2 n)``;
    * dense and other operators: the Gram matrix of the (symmetrised) sensing matrices or the restricted kernel,
      whichever side is smaller.

    Returns ``{"available": False, "reason": ...}`` when the eigenproblem would exceed ``MAX_EIG_SIDE``, or when
    forming it would cost more than ``max_flops`` (``m dim min(m, dim)`` for the Gram matrix or kernel, ``m^2 n`` for
    rank-one projections; ``None``: no limit; entry sampling's closed form is never limited).
    """
    _check_operator(op)
    symmetric = check_bool("symmetric", symmetric)
    from benign.operators import EntrySampling, RankOneProjections

    d1, d2 = op.shape
    if symmetric and d1 != d2:
        raise ValueError(f"symmetric RIP needs a square operator, got {op.shape}")
    dim = d1 * (d1 + 1) // 2 if symmetric else d1 * d2
    space = "symmetric" if symmetric else "all"
    if isinstance(op, EntrySampling):
        rows, cols = np.asarray(op.rows), np.asarray(op.cols)
        w2 = np.asarray(op.weights) ** 2
        if symmetric:
            lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
            key = lo * d2 + hi
            weight = np.where(lo == hi, w2, 0.5 * w2)
        else:
            key, weight = rows * d2 + cols, w2
        uniq, inv = np.unique(key, return_inverse=True)
        c = np.bincount(inv, weights=weight)
        mu = float(c.min()) if uniq.size == dim else 0.0
        L = float(c.max())
        how = "closed form: the completion kernel is diagonal in the entry basis"
        rounding = float(np.finfo(float).eps * op.m * L)  # sums of at most m squared weights, no eigensolver
    else:
        side = min(op.m, dim)
        if side > MAX_EIG_SIDE:
            return {"available": False, "rank": "full", "space": space,
                    "reason": f"min(m, dim) = {side} > {MAX_EIG_SIDE}: eigenproblem too large"}
        rank_one = isinstance(op, RankOneProjections) and symmetric and op.symmetric and op.m < dim
        flops = float(op.m) ** 2 * d1 if rank_one else float(op.m) * dim * side
        if max_flops is not None and flops > max_flops:
            return {"available": False, "rank": "full", "space": space,
                    "reason": f"the eigenproblem (m = {op.m}, dimension {dim}) costs about {flops:.1e} flops, more "
                              f"than the {max_flops:.0e} allowed"}
        if rank_one:
            a = np.asarray(op.a)
            lam = np.linalg.eigvalsh((a @ a.T) ** 2)
            mu, L, how = 0.0, float(lam[-1]), (f"Gram matrix (a_i^T a_j)^2 ({op.m} x {op.m}); "
                                               f"m < {dim} so lambda_min = 0")
            rounding = eigenvalue_rounding(L, op.m, op.m, terms=2 * d1)  # squares of inner products of length n
        else:
            mats = op.matrices()
            R = _svec_rows(mats) if symmetric else mats.reshape(op.m, -1)
            mu, L, how = _spectrum_from_rows(R, dim)
            rounding = eigenvalue_rounding(L, op.m, dim, terms=max(op.m, dim))  # R^T R or R R^T
    delta = max(1.0 - mu, L - 1.0)
    out = {"available": True, "rank": "full", "space": space, "lambda_min": mu, "lambda_max": L,
           "delta": delta, "rounding": rounding, "delta_upper": delta + rounding, "method": how}
    if L > 0:
        out["delta_scaled"] = (L - mu) / (L + mu)
        out["optimal_scale"] = float(np.sqrt(2.0 / (L + mu)))
    return out


def _check_batch_fits(op: Operator, k: int, count: int, what: str, hint: str) -> None:
    """:func:`benign.errors.check_rank_batch_fits` for ``count`` rank-``k`` matrices through ``op``, before JAX draws
    them."""
    from benign.errors import check_rank_batch_fits

    check_rank_batch_fits(*op.shape, op.m, k, count, what, hint)


def rip_search(op: Operator, rank: int, *, symmetric: bool = True, starts: int = 8, seed: int = 0,
               maxiter: int = 500, gtol: float = 1e-9,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Multi-start search for the extreme Rayleigh quotients ``||A(M)||^2 / ||M||_F^2`` over rank-``k`` ``M``.

    ``M = U S U^T`` (symmetric: ``U`` on the Stiefel manifold ``n x k``, ``S`` symmetric ``k x k`` on the unit
    sphere, so every symmetric matrix of rank ``<= k``) or ``M = U S V^T`` (all matrices). Riemannian gradient
    ascent/descent with QR retraction and an adaptive Armijo step, one ``lax.while_loop`` per start, ``vmap``-ed
    over the starts, matrix-free through ``op.forward_factored``. Every reported value is the quotient evaluated at
    an explicit rank-``k`` matrix, so ``max_ratio <= sup`` and ``min_ratio >= inf`` are certified (up to rounding).
    The loops run ``SEARCH_CHUNK`` iterations per compiled call (Ctrl-C works between calls); ``progress(done,
    total)``, if given, is called after each with ``total = 2 maxiter`` (the maximising search, then the minimising
    one).
    """
    from benign._jax import jax
    from benign.errors import check_callable, check_float, check_int, check_seed

    _check_operator(op)
    symmetric = check_bool("symmetric", symmetric)
    k = check_int("rank", rank, minimum=1)
    starts = check_int("starts", starts, minimum=1)
    seed = check_seed(seed)
    maxiter = check_int("maxiter", maxiter, minimum=1)
    gtol = check_float("gtol", gtol, lo=0.0, hi=1.0, hi_open=True)
    check_callable("progress", progress, "progress(done, total)")
    d1, d2 = op.shape
    if symmetric and d1 != d2:
        raise ValueError(f"symmetric RIP needs a square operator, got {op.shape}")
    if k > min(d1, d2):
        raise ValueError(f"rank must be <= min(d1, d2) = {min(d1, d2)}, got {k}")
    _check_batch_fits(op, k, starts, "search starts", "use fewer starts")
    key = jax.random.key(seed)
    k_max, k_min = jax.random.split(key)
    best_max = _run_search(op, k, symmetric, starts, k_max, +1.0, maxiter, gtol, progress, 0, 2 * maxiter)
    best_min = _run_search(op, k, symmetric, starts, k_min, -1.0, maxiter, gtol, progress, maxiter, 2 * maxiter)
    return {"rank": k, "space": "symmetric" if symmetric else "all", "starts": starts, "seed": seed,
            "maxiter": maxiter, "max_ratio": float(np.max(best_max[0])), "min_ratio": float(np.min(best_min[0])),
            "max_values": np.asarray(best_max[0]).tolist(), "min_values": np.asarray(best_min[0]).tolist(),
            "iterations_max": np.asarray(best_max[1]).tolist(), "iterations_min": np.asarray(best_min[1]).tolist()}


def _qf(A):
    from benign._jax import jnp

    Q, R = jnp.linalg.qr(A)
    sgn = jnp.where(jnp.diagonal(R) < 0, -1.0, 1.0)
    return Q * sgn[None, :]


def _ratio_fn(op: Operator, symmetric: bool):
    from benign._jax import jnp

    def ratio(U, S, V):
        if symmetric:
            S = 0.5 * (S + S.T)
            V = U
        num = jnp.sum(op.forward_factored(U @ S, V) ** 2)
        den = jnp.sum((U.T @ U @ S) * (S @ (V.T @ V)))
        return num / den
    return ratio


def _run_search(op, k, symmetric, starts, key, sign, maxiter, gtol, progress=None, offset=0, total=0):
    """The ``vmap``-ed search of every start, advanced ``SEARCH_CHUNK`` iterations per compiled call (the same
    iterates as one call): between calls Python runs, so Ctrl-C stops a long search and ``progress(done, total)``
    is told the iterations reached (``offset`` plus those of this search)."""
    from benign._jax import jnp

    advance = _search_jit()
    d1, d2 = op.shape
    blank = jnp.zeros  # (device arrays, as the carry the calls return: one trace)
    carry = (blank((starts, d1, k)), blank((starts, k, k)), blank((starts, d2, k)), blank(starts),
             (blank((starts, d1, k)), blank((starts, k, k)), blank((starts, d2, k))), blank(starts), blank(starts),
             blank(starts), jnp.zeros(starts, dtype=jnp.int64))
    stop, fresh = 0, True
    while True:
        stop = min(stop + SEARCH_CHUNK, maxiter)
        carry, active = advance(op, key, carry, fresh, float(sign), int(stop), float(gtol), bool(symmetric))
        fresh = False
        if progress is not None:
            progress(offset + stop, total)
        if stop >= maxiter or not bool(np.any(np.asarray(active))):
            break
    if progress is not None and stop < maxiter:  # every start stopped early: this search is done
        progress(offset + maxiter, total)
    # the quotient at the final factors (``val`` is the signed quotient) and the iterations of each start
    return sign * np.asarray(carry[3]), np.asarray(carry[-1])


def _random_factors(key, count: int, d1: int, d2: int, k: int, symmetric: bool):
    """Haar-orthonormal ``U`` (``d1 x k``), ``V`` (``d2 x k``) and unit-norm Gaussian ``S`` (symmetric if asked)."""
    from benign._jax import jax, jnp

    kU, kS, kV = jax.random.split(key, 3)
    U = jax.vmap(_qf)(jax.random.normal(kU, (count, d1, k)))
    V = jax.vmap(_qf)(jax.random.normal(kV, (count, d2, k)))
    S = jax.random.normal(kS, (count, k, k))
    if symmetric:
        S = 0.5 * (S + jnp.swapaxes(S, 1, 2))
    return U, S / jnp.linalg.norm(S, axis=(1, 2), keepdims=True), V


def _make_search():
    """The jitted search, batched over the starts: ``advance(op, key, carry, fresh, sign, stop, gtol, symmetric)``
    draws the starts from ``key`` when ``fresh`` (random factors, value, Riemannian gradient), runs the
    ``lax.while_loop`` of each up to iteration ``stop``, and returns the carry and which starts are still active.
    The carry is ``(U, S, V, sign * quotient, Riemannian gradient, its squared norm, step, first step,
    iterations)``."""
    from functools import partial

    from benign._jax import jax, jnp

    def tangent(U, S, V, g, symmetric):
        gU, gS, gV = g
        rU = gU - U @ (0.5 * (U.T @ gU + gU.T @ U))
        if symmetric:
            gS = 0.5 * (gS + gS.T)
            rV = jnp.zeros_like(V)
        else:
            rV = gV - V @ (0.5 * (V.T @ gV + gV.T @ V))
        rS = gS - jnp.sum(gS * S) * S
        return rU, rS, rV

    def retract(U, S, V, xi, t, symmetric):
        rU, rS, rV = xi
        Un = _qf(U + t * rU)
        Vn = V if symmetric else _qf(V + t * rV)
        Sn = S + t * rS
        return Un, Sn / jnp.linalg.norm(Sn), Vn

    def value_and_grad(op, sign, symmetric):
        ratio = _ratio_fn(op, symmetric)
        return jax.value_and_grad(lambda U, S, V: sign * ratio(U, S, V), argnums=(0, 1, 2))  # maximise

    def running(c, stop, gtol):
        U, S, V, val, xi, gn2, t, t0, it = c
        return (it < stop) & (gn2 > (gtol * jnp.maximum(jnp.abs(val), 1e-300)) ** 2) & (t > 1e-14)

    def begin(op, key, sign, starts, k, symmetric):
        vg = value_and_grad(op, sign, symmetric)

        def one(U, S, V):
            val, g = vg(U, S, V)
            xi = tangent(U, S, V, g, symmetric)
            gn2 = sum(jnp.sum(x * x) for x in xi)
            t0 = 1.0 / jnp.maximum(jnp.abs(val), 1e-12)
            return U, S, V, val, xi, gn2, t0, t0, jnp.zeros((), dtype=jnp.int64)

        return jax.vmap(one)(*_random_factors(key, starts, op.shape[0], op.shape[1], k, symmetric))

    @partial(jax.jit, static_argnames=("symmetric",))
    def advance(op, key, carry, fresh, sign, stop, gtol, symmetric):
        # one compiled program for the first chunk and the others (the start is drawn when ``fresh``; ``carry``
        # then only gives the shapes): a second program would double the compilation time
        starts, _, k = carry[0].shape
        carry = jax.lax.cond(fresh, lambda: begin(op, key, sign, starts, k, symmetric), lambda: carry)
        vg = value_and_grad(op, sign, symmetric)

        def body(c):
            U, S, V, val, xi, gn2, t, t0, it = c
            Un, Sn, Vn = retract(U, S, V, xi, t, symmetric)
            valn, gnew = vg(Un, Sn, Vn)
            ok = valn >= val + 1e-4 * t * gn2
            xin = tangent(Un, Sn, Vn, gnew, symmetric)
            gn2n = sum(jnp.sum(x * x) for x in xin)
            pick = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
            # Barzilai-Borwein trial step after an accepted move (ambient differences), halving otherwise
            steps = (Un - U, Sn - S, Vn - V)
            ss = sum(jnp.sum(a * a) for a in steps)
            sy = jnp.abs(sum(jnp.sum(a * (b - c)) for a, b, c in zip(steps, xin, xi)))
            t_bb = jnp.where(sy > 0, ss / jnp.where(sy > 0, sy, 1.0), 2.0 * t)
            t_next = jnp.where(ok, jnp.clip(t_bb, 1e-6 * t0, 1e8 * t0), 0.5 * t)
            return (pick(Un, U), pick(Sn, S), pick(Vn, V), pick(valn, val),
                    tuple(pick(a, b) for a, b in zip(xin, xi)), pick(gn2n, gn2), t_next, t0, it + 1)

        def one(c):
            c = jax.lax.while_loop(lambda c: running(c, stop, gtol), body, c)
            return c, running(c, jnp.inf, gtol)  # still active but for the iteration count

        return jax.vmap(one)(carry)

    return advance


_SEARCH = None
_RATIOS = None


def _ratios_jit(op, key, count, k, symmetric):
    global _RATIOS
    if _RATIOS is None:
        from functools import partial

        from benign._jax import jax

        @partial(jax.jit, static_argnames=("count", "k", "symmetric"))
        def ratios(op, key, count, k, symmetric):
            U, S, V = _random_factors(key, count, op.shape[0], op.shape[1], k, symmetric)
            return jax.vmap(_ratio_fn(op, symmetric))(U, S, V)

        _RATIOS = ratios
    return _RATIOS(op, key, count=count, k=k, symmetric=symmetric)


def _search_jit():
    global _SEARCH
    if _SEARCH is None:
        _SEARCH = _make_search()
    return _SEARCH


def random_rank_ratios(op: Operator, rank: int, count: int = 64, *, symmetric: bool = True, seed: int = 0) -> dict:
    """The quotient at ``count`` random rank-``k`` matrices (Haar ``U``, Gaussian ``S``): mean, std, min, max.

    For an isotropic operator (e.g. Gaussian sensing, ``E||A(M)||^2 = ||M||_F^2``) this is the empirical estimate of
    the typical distortion; the spread shows the concentration. Not a bound on ``delta_k``.
    """
    from benign._jax import jax
    from benign.errors import check_int, check_seed

    _check_operator(op)
    symmetric = check_bool("symmetric", symmetric)
    k = check_int("rank", rank, minimum=1)
    count = check_int("count", count, minimum=2)  # a spread (std) needs two samples
    if symmetric and op.shape[0] != op.shape[1]:
        raise ValueError(f"symmetric RIP needs a square operator, got {op.shape}")
    if k > min(op.shape):
        raise ValueError(f"rank must be <= min(d1, d2) = {min(op.shape)}, got {k}")
    _check_batch_fits(op, k, count, "random rank-k directions", "use fewer directions")
    key = jax.random.fold_in(jax.random.key(check_seed(seed)), 7)
    vals = np.asarray(_ratios_jit(op, key, count, k, bool(symmetric)))
    return {"count": count, "mean": float(vals.mean()), "std": float(vals.std(ddof=1)),
            "min": float(vals.min()), "max": float(vals.max())}


def rip_bounds(op: Operator, rank: int, *, symmetric: bool | None = None, starts: int = 8, seed: int = 0,
               maxiter: int = 500, directions: int = 64,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Certified lower and upper bounds on the rank-``k`` RIP constant ``delta_k``, never one number.

    * ``upper``: the exact full-rank constant (:func:`full_rank_spectrum`), valid for every ``k`` since rank-``k``
      matrices are a subset; exact when ``k >= n`` (symmetric) / ``min(d1, d2)``. ``None`` when the full-rank
      eigenproblem is too large.
    * ``lower``: ``max(L^ - 1, 1 - mu^)`` from the quotients at explicit rank-``k`` matrices found by
      :func:`rip_search`; for ``k`` at full rank it is replaced by the exact value.
    * ``exact``: ``k`` at full rank, or the lower bound reached the upper one (to ``BRACKET_RTOL``): the constant is
      then known.
    * ``upper_certified``: ``upper`` plus the full-rank ``rounding`` allowance (:func:`eigenvalue_rounding`, the
      full-rank ``delta_upper``): ``upper`` is the computed float64 constant, and this one bounds the exact
      ``delta_k`` whatever the rounding (what a strict condition should be tested with; ``None`` with ``upper``).
      ``lower`` comes from explicit matrices (``search``) whose quotients can be recomputed.
    * ``sup_ratio`` / ``inf_ratio``: the brackets on ``L_k = sup`` and ``mu_k = inf`` of the quotient;
      ``delta_scaled``: brackets on ``(L_k - mu_k)/(L_k + mu_k)``, the constant of the best multiple of ``A``;
    * ``empirical``: :func:`random_rank_ratios` (typical distortion, not a bound).

    ``progress`` is passed to :func:`rip_search`.
    """
    from benign.errors import check_callable, check_int

    _check_operator(op)
    k = check_int("rank", rank, minimum=1)
    check_int("directions", directions, minimum=2)  # before the search (random_rank_ratios checks it again)
    check_callable("progress", progress, "progress(done, total)")
    d1, d2 = op.shape
    sym = (d1 == d2) if symmetric is None else check_bool("symmetric", symmetric)
    full = full_rank_spectrum(op, sym)
    search = rip_search(op, k, symmetric=sym, starts=starts, seed=seed, maxiter=maxiter, progress=progress)
    Lhat, muhat = search["max_ratio"], search["min_ratio"]
    at_full = k >= (d1 if sym else min(d1, d2))
    out: dict = {"rank": k, "space": "symmetric" if sym else "all"}
    if full.get("available"):
        L, mu = full["lambda_max"], full["lambda_min"]
        if at_full:
            Lhat, muhat = L, mu  # exact at full rank (the search values stay under "search")
        # a quotient evaluated in floating point may pass the exact full-rank value by rounding (entry sampling:
        # 1 + 6e-15 against exactly 1): within BRACKET_RTOL the bracket is closed at the exact value; a larger
        # excess is left visible (it would mean a wrong bound)
        slack = BRACKET_RTOL * max(abs(L), abs(mu))  # eigenvalue rounding scales with the largest one
        if L < Lhat <= L + slack:
            Lhat = L
        if mu - slack <= muhat < mu:
            muhat = mu
        out["upper"] = max(L - 1.0, 1.0 - mu)
        upper_method = f"exact full-rank constant ({full['method']}); rank-{k} matrices are a subset"
        sup_up, inf_lo = L, mu
        ds_up = (L - mu) / (L + mu) if L > 0 else None
    else:
        out["upper"] = None
        upper_method = f"unavailable: {full['reason']}"
        sup_up = inf_lo = ds_up = None
    out["lower"] = max(Lhat - 1.0, 1.0 - muhat)
    lower_method = ("exact full-rank constant" if at_full and full.get("available") else
                    f"quotients at explicit rank-{k} matrices from a {starts}-start Riemannian search")
    # the bracket is closed when the search reached the full-rank constant (to rounding): exact at any rank then
    closed = bool(out["upper"] is not None and out["lower"] >= out["upper"] - BRACKET_RTOL * max(1.0, out["upper"]))
    if closed and not at_full:
        lower_method += "; it reaches the upper bound (to rounding), so the constant is known exactly"
    out["exact"] = bool(at_full and full.get("available")) or closed
    out["method"] = {"lower": lower_method, "upper": upper_method}
    out["upper_certified"] = None if out["upper"] is None else full["delta_upper"]
    out["sup_ratio"] = {"lower": Lhat, "upper": sup_up}
    out["inf_ratio"] = {"lower": inf_lo, "upper": muhat}
    out["delta_scaled"] = {"lower": (Lhat - muhat) / (Lhat + muhat) if Lhat + muhat > 0 else None, "upper": ds_up}
    out["search"] = search
    out["empirical"] = random_rank_ratios(op, k, directions, symmetric=sym, seed=seed)
    out["full_rank"] = full
    return out
