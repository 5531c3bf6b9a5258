"""The shared jitted iteration: one ``lax.while_loop`` with the stopping rules and a thinned history inside.

Stopping rules, checked after every iteration ``k -> k + 1`` in this order of precedence:

1. **diverged**: the new loss or stationarity measure is not finite, the new point has a non-finite entry, or
   ``f > diverge_factor * max(f(x0), f(0))`` (default ``1e12``; ``f(0)``, the loss at the zero point, is the data's
   scale: a start at a noiseless minimum has ``f(x0)`` at rounding level); the step is rejected and the run returns
   the last finite point (at the start: a non-finite loss, point or measure ends the run at iteration 0);
2. **converged**: the method's test, by default ``measure(x) <= gtol * max(s, measure(x0))`` (``s`` =
   :func:`gradient_floor`: 1 for data of unit scale and above, smaller for small-scale data) where ``measure`` is the
   method's stationarity measure (``||grad f||_F``); or, when the truth is known and ``rtol`` is given,
   ``relative_error(x) <= rtol``;
3. **stalled**: every ``stall_window`` iterations the best loss and the best stationarity measure so far are compared
   with their values at the previous check; no progress means a relative loss decrease of less than ``stall_rtol``
   **and** a best measure that did not halve (so a run whose gradient still shrinks steadily, e.g. toward a minimum
   with ``f* > 0``, is not stopped; ``stall_window = 0`` disables the rule);
4. **max_iterations**: ``k = max_iter``.

History: arrays of length ``max_iter // every + 1`` (rounded up to a power of two, plus a scratch column)
preallocated in the loop state; iteration ``k`` is written at index ``k // every`` when ``k % every == 0`` (counters
in the state, not divisions, decide it). The error (the cancellation-free formula of
:func:`~benign.objective.matrix_distance`) is computed behind a ``lax.cond``, only on recorded iterations and, with
the ``rtol`` rule, where the cheap screen :func:`_may_reach` cannot exclude ``relative_error <= rtol``; on the CPU the
branch costs less than the error's ten small kernels (``python benchmarks/loop_overhead.py``). Under ``jax.vmap``
(``solve_many``, the ``"vmap"`` strategy of ``solve_stacked``) a branch evaluates both sides for every member, so
there the error is computed on every iteration with the ``rtol`` rule, without the screen. The loop can be
advanced in chunks (``stop_at``) so that the caller can show progress; the chunks give the same iterates as one call.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable, NamedTuple

import numpy as np

from benign._jax import jax, jnp
from benign.solvers.base import Ctx, Solver, relative_error, truth_basis
from benign.solver_options import MAX_HISTORY
from benign.solvers.result import HISTORY_KEYS, STATUSES

RUNNING, CONVERGED, MAX_ITERATIONS, DIVERGED, STALLED = range(5)
#: the rows of the recorded history array in the loop state (the recorded keys of a Result's history)
HIST_ROWS = tuple(k for k in HISTORY_KEYS if k != "iteration")
MESSAGES = {
    CONVERGED: "converged: {rule}",
    MAX_ITERATIONS: "reached max_iter = {max_iter} iterations",
    DIVERGED: "diverged: the loss became non-finite or exceeded {diverge_factor:g} x max(its initial value, f(0)); "
              "returning the last finite point ({hint})",
    STALLED: "stalled: over the last {stall_window} iterations the best loss decreased by less than "
             "stall_rtol = {stall_rtol:g} (relative) and the best stationarity measure did not halve",
}


@partial(jax.tree_util.register_dataclass,
         data_fields=["gtol", "rtol", "stall_rtol", "diverge_factor", "max_iter", "every", "stall_window"],
         meta_fields=["hist_len", "rtol_rule", "stall_rule", "lockstep"])
@dataclass(frozen=True)
class Control:
    """Stopping-rule numbers (leaves: changing their values does not recompile), the static history length, which of
    the optional rules (``rtol``, stall) are on (static: a rule that is off costs the iteration nothing; turning one
    on or off compiles another program), and whether the loop runs as a member of a ``jax.vmap`` batch
    (``lockstep``: a branch then evaluates both sides, so the error screen would only add work and is left out)."""

    gtol: Any
    rtol: Any  # negative: disabled
    stall_rtol: Any
    diverge_factor: Any
    max_iter: Any
    every: Any
    stall_window: Any
    hist_len: int
    rtol_rule: bool  # rtol given
    stall_rule: bool  # stall_window > 0
    lockstep: bool = False


def make_control(*, gtol: float, rtol: float | None, stall_rtol: float, stall_window: int, diverge_factor: float,
                 max_iter: int, every: int, min_hist: int = 16) -> Control:
    """Controls; the history length is ``max_iter // every + 1`` rounded up to a power of two, at least 16, and at
    least ``min_hist`` for a full history (``every = 1``: single runs pass a large minimum so that most ``max_iter``
    values share one compiled program), while a thinned run, e.g. ``every = max_iter``, keeps what it needs (a
    ``(4, 16384)`` buffer costs about 10 us to allocate and return at every call)."""
    f = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    i = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    needed = int(max_iter // every + 1)
    if needed > MAX_HISTORY:
        raise ValueError(f"max_iter // history_every + 1 = {needed} history records exceed {MAX_HISTORY} (the loop "
                         f"keeps them in memory): raise history_every to at least {int(max_iter) // MAX_HISTORY + 1}")
    hist_len = max(1 << max(needed - 1, 1).bit_length(), min_hist if every == 1 else 16)  # fewer compilations
    return Control(f(gtol), f(-1.0 if rtol is None else rtol), f(stall_rtol), f(diverge_factor), i(max_iter),
                   i(every), i(stall_window), hist_len, rtol is not None, int(stall_window) > 0)


class State(NamedTuple):
    k: Any
    status: Any
    x: Any
    f: Any
    g: Any
    meas: Any
    err: Any
    step: Any
    aux: Any
    best: Any
    cp_best: Any
    best_meas: Any
    cp_meas: Any
    ctx: Ctx
    key: Any
    hist: Any  # (4, hist_len + 1): rows HIST_ROWS; the last column is scratch (iterations not recorded write there)
    basis: Any  # the truth's QR factors (None without a truth), for the error in every iteration
    counters: Any  # int64 [next recorded k, its history column, next stall checkpoint k]


#: ``State.counters`` positions: counters replace ``k % every``, ``k // every`` and ``k % stall_window`` in the
#: iteration (each a separate small kernel on the CPU, a measurable share of a small problem's iteration)
NEXT_REC, HIST_COL, NEXT_CP = range(3)
#: a checkpoint that is never reached (the stall rule is off)
NEVER = np.iinfo(np.int64).max


def _hist_column(f, err, meas, step):
    """One recorded iteration as a column of the history array (rows in :data:`HIST_ROWS` order)."""
    values = {"loss": f, "error": err, "grad_norm": meas, "step": step}
    return jnp.stack([values[name] for name in HIST_ROWS])


def _error(obj, x, basis):
    return relative_error(obj, x, basis)


def _may_reach(obj, x, basis, rtol):
    """False only where the relative error at ``x`` certainly exceeds ``rtol`` (a screen in front of the exact error).

    The Gram formula ``d^2 = <U^T U, V^T V> - 2 <L^T U, R^T V> + ||M*||_F^2`` costs two small products (the exact
    error of :func:`~benign.objective.matrix_distance`, about ten small kernels), but it cancels. Every sum of
    absolute products in it is bounded through Frobenius norms: ``|U^T U| |V^T V| <= (||U|| ||V||)^2``,
    ``2 |L^T U| |R^T V| <= 2 ||L|| ||U|| ||R|| ||V||`` and ``||M*||^2`` (itself a Gram sum, from
    :func:`~benign.objective.truth_basis`) ``<= (||L|| ||R||)^2``, so its rounding error is below ``k eps mag`` with
    ``mag = (||U|| ||V|| + ||L|| ||R||)^2`` and ``k = N + r (r + r*) + 4`` terms per sum (``||L||`` and ``||R||``
    bound ``||M*||`` also for unbalanced factors, where ``||L|| ||R|| >> ||M*||``). The screen passes when
    ``d^2 <= (rtol ||M*||)^2 + 4 k eps mag`` (``rtol^2`` when ``M* = 0``); the factor 4 also covers the rounding
    of the exact error it stands in for. A point it rejects has an exact error above ``rtol``, so the ``rtol`` rule
    stops at the same iteration as with the exact error everywhere, while the exact error is computed only near the
    end of a run (below a relative error of about ``sqrt(k eps)`` times ``(||U|| ||V|| + ||L|| ||R||) / ||M*||``)."""
    U, V = obj.split(x)
    L, R = obj.split(obj.truth)
    A1 = U.T @ U
    B1 = L.T @ U
    A2, B2 = (A1, B1) if obj.symmetric else (V.T @ V, R.T @ V)
    d2 = jnp.sum(A1 * A2) - 2.0 * jnp.sum(B1 * B2) + basis.norm ** 2
    nu, nv = jnp.sqrt(jnp.trace(A1)), jnp.sqrt(jnp.trace(A2))
    nl, nr = jnp.sqrt(jnp.sum(basis.RL * basis.RL)), jnp.sqrt(jnp.sum(basis.RR * basis.RR))
    mag = (nu * nv + nl * nr) ** 2
    N, r, rs = U.shape[0] + V.shape[0], U.shape[1], L.shape[1]
    k = N + r * (r + rs) + 4
    thresh = rtol * jnp.where(basis.norm > 0, basis.norm, 1.0)
    return d2 <= thresh * thresh + 4.0 * k * jnp.finfo(x.dtype).eps * mag


def _converged(solver, obj, meas, err, ctx, aux, control):
    conv = solver.converged(meas, ctx.thresh, aux)
    if obj.truth is not None and control.rtol_rule:  # err is NaN where it was not computed: the comparison is False
        conv = conv | (err <= control.rtol)
    return conv


def gradient_floor(obj):
    """``min(1, g_ref)`` with ``g_ref = ||psi'(b)|| sqrt(||b||)``, the size of a gradient of the plain sum at the
    data's scale (degree 3 in the truth's scale for l2, as ``grad f`` is): the floor of the relative gradient test.
    1 (the plain floor) for data of unit scale and above, whatever the loss's ``scale`` (``c`` is left out, so a
    ``scale=mean`` run stops where it always did), and when ``b = 0`` (no scale to go by); below 1 only for
    small-scale data, where an absolute floor of 1 would let every start pass the test (``tscale=1e-4``: gradients
    ~1e-12). It follows the data's scale, not the operator's: an operator scaled by ``alpha`` scales gradients by
    ``alpha^2`` but the floor by ``alpha^1.5``."""
    b = obj.b
    nb = jnp.sqrt(jnp.sum(b * b))
    g_ref = jnp.sqrt(jnp.sum(obj.loss.dpsi(b) ** 2)) * jnp.sqrt(nb)
    return jnp.where((nb > 0) & jnp.isfinite(g_ref), jnp.minimum(1.0, g_ref), 1.0)


def init_state(solver: Solver, obj, x0, key, control: Control) -> State:
    f, g = obj.value_and_grad(x0)
    meas = solver.measure(obj, x0, g)
    # the divergence rule's scale: f(0) = c sum psi(-b) is the data's, so that a start at a minimum (f(x0) at rounding
    # level, e.g. the truth of a noiseless instance) does not turn a rounding-size increase into divergence
    ref = jnp.maximum(f, obj.value(jnp.zeros_like(x0)))
    ctx = Ctx(thresh=control.gtol * jnp.maximum(gradient_floor(obj), meas), f0=f,
              limit=jnp.where(ref > 0, control.diverge_factor * ref, jnp.inf))
    aux = solver.init(obj, x0, f, g, ctx)
    basis = truth_basis(obj)
    err = _error(obj, x0, basis)
    hist = jnp.full((len(HIST_ROWS), control.hist_len + 1), jnp.nan, dtype=jnp.float64)
    hist = hist.at[:, 0].set(_hist_column(f, err, meas, jnp.zeros_like(f)))
    finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(x0)) & jnp.isfinite(meas)  # (a gradient can overflow alone)
    conv = _converged(solver, obj, meas, err, ctx, aux, control)
    status = jnp.where(~finite, DIVERGED,
                       jnp.where(conv, CONVERGED, jnp.where(control.max_iter <= 0, MAX_ITERATIONS, RUNNING)))
    zero = jnp.asarray(0.0, dtype=jnp.float64)
    next_cp = jnp.where(control.stall_window > 0, control.stall_window, NEVER)
    counters = jnp.stack([jnp.asarray(control.every, dtype=jnp.int64), jnp.asarray(1, dtype=jnp.int64),
                          jnp.asarray(next_cp, dtype=jnp.int64)])
    return State(jnp.asarray(0, dtype=jnp.int64), status.astype(jnp.int32), x0, f, g, meas, err, zero, aux, f, f,
                 meas, meas, ctx, key, hist, basis, counters)


def _select(pred, a, b):
    return jax.tree_util.tree_map(lambda u, v: jnp.where(pred, u, v), a, b)


def _body(solver: Solver, obj, control: Control, s: State) -> State:
    key = jax.random.fold_in(s.key, s.k)
    x1, f1, g1, aux1, step = solver.update(obj, s.x, s.f, s.g, s.aux, s.k, key, s.ctx)
    meas1 = solver.measure(obj, x1, g1)
    bad = (~jnp.isfinite(f1)) | (~jnp.all(jnp.isfinite(x1))) | (f1 > s.ctx.limit) | (~jnp.isfinite(meas1))
    x, f, g, aux = _select(bad, (s.x, s.f, s.g, s.aux), (x1, f1, g1, aux1))
    step = jnp.where(bad, s.step, jnp.asarray(step, dtype=jnp.float64))
    meas = jnp.where(bad, s.meas, meas1)
    k = jnp.where(bad, s.k, s.k + 1)
    next_rec, col, next_cp = s.counters[NEXT_REC], s.counters[HIST_COL], s.counters[NEXT_CP]
    rec = (~bad) & (k == next_rec)  # k % every == 0
    if obj.truth is None:
        err = s.err
    else:  # the exact error on recorded iterations, and where the rtol rule may fire
        need = rec
        if control.rtol_rule:
            need = need | (True if control.lockstep else _may_reach(obj, x, s.basis, control.rtol))
        err = jax.lax.cond(need, lambda _: _error(obj, x, s.basis), lambda _: jnp.asarray(jnp.nan, jnp.float64),
                           None)
    # history (thinned): recorded iterations write column k // every, the others the scratch column
    slot = jnp.where(rec, col, control.hist_len)
    hist = jax.lax.dynamic_update_slice(s.hist, _hist_column(f, err, meas, step)[:, None],
                                        (jnp.zeros_like(slot), slot))
    # stopping rules
    if control.stall_rule:
        best = jnp.minimum(s.best, f)
        best_meas = jnp.minimum(s.best_meas, meas)
        at_cp = (k == next_cp) & ~bad  # k % stall_window == 0
        stalled = (at_cp & (s.cp_best - best <= control.stall_rtol * jnp.abs(s.cp_best))
                   & (best_meas > 0.5 * s.cp_meas))
        cp_best = jnp.where(at_cp, best, s.cp_best)
        cp_meas = jnp.where(at_cp, best_meas, s.cp_meas)
        next_cp = jnp.where(at_cp, next_cp + control.stall_window, next_cp)
    else:
        best, best_meas, cp_best, cp_meas, stalled = s.best, s.best_meas, s.cp_best, s.cp_meas, False
    counters = jnp.stack([jnp.where(rec, next_rec + control.every, next_rec), jnp.where(rec, col + 1, col), next_cp])
    conv = _converged(solver, obj, meas, err, s.ctx, aux, control)
    status = jnp.where(bad, DIVERGED, jnp.where(conv, CONVERGED, jnp.where(
        stalled, STALLED, jnp.where(k >= control.max_iter, MAX_ITERATIONS, RUNNING))))
    return State(k, status.astype(jnp.int32), x, f, g, meas, err, step, aux, best, cp_best, best_meas, cp_meas,
                 s.ctx, s.key, hist, s.basis, counters)


def advance(solver: Solver, obj, state: State, control: Control, stop_at) -> State:
    """Iterate until the run stops or ``k = stop_at``."""
    cond = lambda s: (s.status == RUNNING) & (s.k < stop_at)  # noqa: E731
    return jax.lax.while_loop(cond, partial(_body, solver, obj, control), state)


# ------------------------------------------------------------------------------ compilation cache

_CACHE: "OrderedDict[Any, Any]" = OrderedDict()
_CACHE_SIZE = 64
#: guards the cache (threads of one sweep share it); a key being compiled has an event in ``_COMPILING`` that the
#: other threads asking for it wait on, so that each program compiles once
_CACHE_LOCK = threading.Lock()
_COMPILING: dict = {}


def _leaf(v):
    if isinstance(v, (bool, int, float, np.generic)):
        return np.asarray(v)
    return v


def call_compiled(tag: str, fn: Callable, *args) -> tuple[Any, float]:
    """``jax.jit(fn)(*args)`` through an ahead-of-time cache; returns ``(output, compile_seconds)``.

    The cache key is the argument tree structure (static fields included) with every leaf's shape and dtype, so a
    new step size reuses the executable and only a new shape or a new static setting compiles. Thread-safe: a thread
    that needs a program another thread is compiling waits for it, and counts the wait as compile seconds.
    """
    leaves, treedef = jax.tree_util.tree_flatten(args)
    leaves = [_leaf(v) for v in leaves]
    args = jax.tree_util.tree_unflatten(treedef, leaves)
    key = (tag, id(fn), treedef, tuple((np.shape(v), v.dtype) for v in leaves))  # dtypes hash fast; str() does not
    t0 = time.perf_counter()
    slow = False  # this call compiled, or waited for another thread's compilation
    while True:
        with _CACHE_LOCK:
            compiled = _CACHE.get(key)
            if compiled is not None:
                _CACHE.move_to_end(key)
                break
            event = _COMPILING.get(key)
            mine = event is None
            if mine:  # this thread compiles it
                event = _COMPILING[key] = threading.Event()
        slow = True
        if not mine:
            event.wait()  # then look again (compiled, or the compiling thread failed: compile here)
            continue
        try:
            compiled = jax.jit(fn).lower(*args).compile()
            with _CACHE_LOCK:
                _CACHE[key] = compiled
                if len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
        finally:
            with _CACHE_LOCK:
                _COMPILING.pop(key, None)
            event.set()
        break
    compile_s = time.perf_counter() - t0 if slow else 0.0  # before the call: the run itself is not compile time
    return compiled(*args), compile_s


def init_and_advance(solver: Solver, obj, x0, key, control: Control, stop_at) -> State:
    """One compiled program for a whole run (no progress reporting)."""
    return advance(solver, obj, init_state(solver, obj, x0, key, control), control, stop_at)


class Final(NamedTuple):
    """What a compiled whole run returns: the point, the method's state, the history, and the scalars of the final
    state stacked into one float64 vector (:data:`FINAL_SCALARS` order; ``err`` is the relative error at the final
    point, computed in the same program). Every output array costs the caller a buffer and an array object, so GD's
    22 arrays of a :class:`State` became 5 (how many the method's own state adds depends on the method)."""

    x: Any
    aux: Any
    hist: Any
    scalars: Any


FINAL_SCALARS = ("k", "status", "f", "meas", "err", "step", "thresh", "f0")


def finished(state: State, err) -> Final:
    """The final state as a :class:`Final` with ``err`` the relative error at its point (the fields only the
    iteration reads -- gradient, stall bookkeeping, key, truth basis -- are left out)."""
    values = {"k": state.k, "status": state.status, "f": state.f, "meas": state.meas, "err": err,
              "step": state.step, "thresh": state.ctx.thresh, "f0": state.ctx.f0}
    return Final(state.x, state.aux, state.hist[..., :-1],  # without the scratch column
                 jnp.stack([jnp.asarray(values[name], dtype=jnp.float64) for name in FINAL_SCALARS]))


def unpack(final: Final) -> State:
    """The NumPy :class:`State` of a (possibly batched: leading axes) :class:`Final`; the left-out fields are None.
    ``k`` (below ``2^53``) and ``status`` are exact in float64."""
    v = np.asarray(final.scalars)
    col = {name: v[..., i] for i, name in enumerate(FINAL_SCALARS)}
    return State(col["k"].astype(np.int64), col["status"].astype(np.int32), np.asarray(final.x), col["f"], None,
                 col["meas"], col["err"], col["step"], jax.tree_util.tree_map(np.asarray, final.aux), None, None,
                 None, None, Ctx(thresh=col["thresh"], f0=col["f0"]), None, np.asarray(final.hist), None, None)


def run_to_end(solver: Solver, obj, x0, key, control: Control, stop_at) -> Final:
    """:func:`init_and_advance`, returning the :func:`finished` state with the final relative error (one program for
    a single run and for each member of a ``lax.map`` batch, so that both give the same bits on the CPU)."""
    state = init_and_advance(solver, obj, x0, key, control, stop_at)
    return finished(state, relative_error(obj, state.x))


def in_lockstep(control: Control) -> Control:
    """``control`` for the members of a ``jax.vmap`` batch (see :class:`Control`)."""
    return replace(control, lockstep=True)


_init_batched = jax.vmap(init_state, in_axes=(None, None, 0, 0, None))
_advance_batched = jax.vmap(advance, in_axes=(None, None, 0, None, None))
_whole_batched = jax.vmap(run_to_end, in_axes=(None, None, 0, 0, None, None))
_errors_batched = jax.vmap(relative_error, in_axes=(None, 0))


def run(solver: Solver, obj, x0, keys, control: Control, *, batched: bool,
        progress: Callable[[int, int], None] | None = None, chunk: int = 2000) -> tuple[State, float, float]:
    """Run to the end; returns ``(final state, run seconds, compile seconds)``: a NumPy :class:`State` whose ``err``
    is the relative error at its point ``x`` (NaN without a truth).

    Without ``progress`` the loop runs in one compiled call (:func:`run_to_end`); with it, in chunks of ``chunk``
    iterations, calling ``progress(k, max_iter)`` (the largest ``k`` over a batch) after each.
    """
    max_iter = int(control.max_iter)
    if batched:
        control = in_lockstep(control)
    if progress is None:
        whole = _whole_batched if batched else run_to_end
        t0 = time.perf_counter()
        final, compile_s = call_compiled("whole", whole, solver, obj, x0, keys, control, np.asarray(max_iter))
        jax.block_until_ready(final)
        seconds = time.perf_counter() - t0 - compile_s
        return unpack(final), seconds, compile_s
    init_fn, adv_fn = (_init_batched, _advance_batched) if batched else (init_state, advance)
    t0 = time.perf_counter()
    state, compile_s = call_compiled("init", init_fn, solver, obj, x0, keys, control)
    stop = 0
    while True:
        stop = min(stop + chunk, max_iter)
        state, c2 = call_compiled("advance", adv_fn, solver, obj, state, control, np.asarray(stop))
        jax.block_until_ready(state)
        compile_s += c2
        progress(int(np.max(np.asarray(state.k))), max_iter)
        if not np.any(np.asarray(state.status) == RUNNING) or stop >= max_iter:
            break
    err, c3 = call_compiled("error", _errors_batched if batched else relative_error, obj, state.x)
    state = jax.tree_util.tree_map(np.asarray, state._replace(err=err, key=None, hist=state.hist[..., :-1]))
    return state, time.perf_counter() - t0 - compile_s - c3, compile_s + c3


def history_of(state: State, every: int) -> dict[str, np.ndarray]:
    """The recorded history of one (unbatched, NumPy) state, with the final iterate appended if not on the grid."""
    k = int(state.k)
    n = k // every + 1
    rows = np.asarray(state.hist)
    hist = {name: rows[i, :n].copy() for i, name in enumerate(HIST_ROWS)}
    hist["iteration"] = np.arange(n, dtype=np.int64) * every
    if k % every:
        last = {"loss": state.f, "error": state.err, "grad_norm": state.meas, "step": state.step}
        for name in HIST_ROWS:
            hist[name] = np.append(hist[name], float(last[name]))
        hist["iteration"] = np.append(hist["iteration"], k)
    return {name: hist[name] for name in HISTORY_KEYS}


def status_message(code: int, control: Control, rule: str, hint: str = "try a smaller step") -> tuple[str, str]:
    """The status name and its message (``hint``: what to try when the run diverged, per method)."""
    values = dict(rule=rule, max_iter=int(control.max_iter), diverge_factor=float(control.diverge_factor),
                  stall_rtol=float(control.stall_rtol), stall_window=int(control.stall_window), hint=hint)
    return STATUSES[code], MESSAGES.get(code, "running").format(**values)
