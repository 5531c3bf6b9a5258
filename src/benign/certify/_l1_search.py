"""Direct searches of the l1 ladder (levels 3 and 4): projected subgradient descent on the sphere, many restarts
at once (``vmap``), the loop a ``lax.fori_loop`` under ``jit``. Shapes depend only on ``(m, p1, p2, q)`` and the
number of restarts, so one compilation serves every instance of a sweep cell.

Every function minimises a ratio that is invariant under the scaling of its variables and evaluates the exact
(nonsmooth) ``L`` at every iterate; the best iterate per restart is returned. Steps are normalised subgradient
steps of length ``step0 * (step_end / step0) ** (t / iters)``.

* :func:`saddle_search`: ``min L(W W^T) / ||W||_F^2`` (symmetric, ``W`` is ``p x q``) or
  ``min L(W1 W2^T) / (||W1||_F^2 + ||W2||_F^2)`` (asymmetric).
* :func:`curved_search`: ``min_{e, V} L(E(e) + V V^T) / ||V||_F^2`` with ``V`` in the ``Z^perp`` block
  (``V1 V2^T`` in the asymmetric case); ``e`` scales like ``||V||^2``.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from benign._jax import jax, jnp


def _Lval(lin, absw, a):
    return jnp.sum(lin * a) + jnp.sum(absw * jnp.abs(a))


def _sched(t, iters, step0, step_end):
    return step0 * (step_end / step0) ** (t / iters)


def _pad_rows(*arrays, multiple: int = 32):
    """Pad the measurement axis (axis 0) with zeros to a multiple of ``multiple``: zero weights and zero matrices
    leave ``L`` unchanged, and sweeps over ``m`` then share one compilation per padded size."""
    m = arrays[0].shape[0]
    mp = -(-m // multiple) * multiple
    return [np.concatenate([a, np.zeros((mp - m,) + a.shape[1:])]) if mp > m else a for a in arrays]


def _sym_ratio(C, lin, absw, W):
    a = jnp.einsum("ijk,jq,kq->i", C, W, W)
    return _Lval(lin, absw, a) / jnp.sum(W * W)


def _asym_ratio(C, lin, absw, W):
    W1, W2 = W
    a = jnp.einsum("ijk,jq,kq->i", C, W1, W2)
    return _Lval(lin, absw, a) / (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))


def _normalise(W):
    leaves = jax.tree_util.tree_leaves(W)
    nrm = jnp.sqrt(sum(jnp.sum(x * x) for x in leaves))
    return jax.tree_util.tree_map(lambda x: x / nrm, W)


def _descend(ratio, normalise, P, iters, step0, step_end):
    """Projected normalised subgradient descent from ``P``; returns the best iterate and its ratio."""
    vg = jax.value_and_grad(ratio)
    P = normalise(P)

    def body(t, state):
        P, bestP, best = state
        val, g = vg(P)
        better = val < best
        bestP = jax.tree_util.tree_map(lambda b, w: jnp.where(better, w, b), bestP, P)
        best = jnp.where(better, val, best)
        gn = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g))) + 1e-300
        eta = _sched(t, iters, step0, step_end)
        P = normalise(jax.tree_util.tree_map(lambda w, gg: w - eta * gg / gn, P, g))
        return P, bestP, best

    P, bestP, best = jax.lax.fori_loop(0, iters, body, (P, P, jnp.array(jnp.inf)))
    last = ratio(P)
    bestP = jax.tree_util.tree_map(lambda b, w: jnp.where(last < best, w, b), bestP, P)
    return bestP, jnp.minimum(best, last)


def _initial(seed, shapes, start, has_start):
    """Random normal starts (one array per shape, ``restarts`` leading axis); restart 0 replaced by ``start``
    (same structure) when ``has_start``."""
    keys = jax.random.split(jax.random.key(seed), len(shapes))
    out = []
    for kk, shp, st in zip(keys, shapes, start):
        W = jax.random.normal(kk, shp)
        out.append(W.at[0].set(jnp.where(has_start, st, W[0])))
    return out


@partial(jax.jit, static_argnames=("symmetric", "iters", "restarts", "q"))
def _saddle_run(C, lin, absw, seed, start, has_start, symmetric: bool, iters: int, restarts: int, q: int,
                step0: float, step_end: float):
    m, p1, p2 = C.shape
    if symmetric:
        (W0,) = _initial(seed, [(restarts, p1, q)], [start[0]], has_start)
        ratio = lambda W: _sym_ratio(C, lin, absw, W)  # noqa: E731
    else:
        W0 = tuple(_initial(seed, [(restarts, p1, q), (restarts, p2, q)], list(start), has_start))
        ratio = lambda W: _asym_ratio(C, lin, absw, W)  # noqa: E731
    return jax.vmap(lambda W: _descend(ratio, _normalise, W, iters, step0, step_end))(W0)


def saddle_search(C: np.ndarray, lin: np.ndarray, absw: np.ndarray, q: int, symmetric: bool, seed: int,
                  restarts: int, iters: int, start=None, step0: float = 0.5,
                  step_end: float = 1e-3) -> tuple[object, np.ndarray]:
    """Level-3 search; returns ``(W per restart, ratio per restart)`` (``W`` or ``(W1, W2)`` stacked).
    ``start`` (``W`` or ``(W1, W2)``) replaces the first random start."""
    m, p1, p2 = C.shape
    if symmetric:
        st = (np.zeros((p1, q)) if start is None else np.asarray(start, dtype=float),)
    else:
        st = (np.zeros((p1, q)), np.zeros((p2, q))) if start is None else tuple(np.asarray(a, float) for a in start)
    C, lin, absw = _pad_rows(C, lin, absw)
    W, vals = _saddle_run(jnp.asarray(C), jnp.asarray(lin), jnp.asarray(absw), seed, st, start is not None,
                          symmetric, iters, restarts, q, step0, step_end)
    W = W if symmetric else tuple(W)
    return jax.tree_util.tree_map(np.asarray, W), np.asarray(vals)


def _curved_ratio(C22, aE, lin, absw, params, symmetric):
    V, e = params
    if symmetric:
        a = jnp.einsum("ijk,jq,kq->i", C22, V, V) + aE @ e
        den = jnp.sum(V * V)
    else:
        V1, V2 = V
        a = jnp.einsum("ijk,jq,kq->i", C22, V1, V2) + aE @ e
        den = jnp.sum(V1 * V1) + jnp.sum(V2 * V2)
    return _Lval(lin, absw, a) / den


def _curved_normalise(params, symmetric):
    V, e = params
    leaves = jax.tree_util.tree_leaves(V)
    nrm2 = sum(jnp.sum(x * x) for x in leaves)
    nrm = jnp.sqrt(nrm2)
    return jax.tree_util.tree_map(lambda x: x / nrm, V), e / nrm2


@partial(jax.jit, static_argnames=("symmetric", "iters", "restarts", "q"))
def _curved_run(C22, aE, lin, absw, seed, start, has_start, symmetric: bool, iters: int, restarts: int, q: int,
                step0: float, step_end: float):
    m, p1, p2 = C22.shape
    e0 = jnp.zeros((restarts, aE.shape[1]))
    if symmetric:
        (V0,) = _initial(seed, [(restarts, p1, q)], [start[0]], has_start)
    else:
        V0 = tuple(_initial(seed, [(restarts, p1, q), (restarts, p2, q)], list(start), has_start))
    ratio = lambda P: _curved_ratio(C22, aE, lin, absw, P, symmetric)  # noqa: E731
    normalise = lambda P: _curved_normalise(P, symmetric)  # noqa: E731
    return jax.vmap(lambda P: _descend(ratio, normalise, P, iters, step0, step_end))((V0, e0))


def curved_search(C22: np.ndarray, aE: np.ndarray, lin: np.ndarray, absw: np.ndarray, q: int, symmetric: bool,
                  seed: int, restarts: int, iters: int, start=None, step0: float = 0.5,
                  step_end: float = 1e-3) -> tuple[object, np.ndarray]:
    """Level-4 search; returns ``(V per restart, ratio per restart)`` (``V`` or ``(V1, V2)`` stacked).
    ``start`` replaces the first random start of ``V``."""
    m, p1, p2 = C22.shape
    if symmetric:
        st = (np.zeros((p1, q)) if start is None else np.asarray(start, dtype=float),)
    else:
        st = (np.zeros((p1, q)), np.zeros((p2, q))) if start is None else tuple(np.asarray(a, float) for a in start)
    C22, aE, lin, absw = _pad_rows(C22, aE, lin, absw)
    (V, _), vals = _curved_run(jnp.asarray(C22), jnp.asarray(aE), jnp.asarray(lin), jnp.asarray(absw),
                               seed + 1, st, start is not None, symmetric, iters, restarts, q, step0, step_end)
    V = V if symmetric else tuple(V)
    return jax.tree_util.tree_map(np.asarray, V), np.asarray(vals)
