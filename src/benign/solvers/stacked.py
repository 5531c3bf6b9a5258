"""``solve_stacked``: many objectives of one shape (e.g. the seeds of one sweep grid point) in one compiled run.

``solve_stacked(objs, method, seeds, ...)`` returns ``[solve(objs[i], method, seed=seeds[i], ...) for i]`` -- with
the default ``strategy="map"`` the same numbers, bit for bit on the CPU (tested); with ``"vmap"``, or on a GPU, the
same up to rounding -- but pays the per-run costs once per batch instead of once per objective:

* set-up: the objectives and the resolved solvers are stacked along a leading axis; the problem scales behind the
  default step sizes and initial scales come from one compiled call (:func:`~benign.solvers.init.problem_scales`),
  the random starts and the run keys from one call each;
* the loop: one compiled program for the whole batch, ``strategy="map"`` (``lax.map``: the members' loops one
  after the other, each exactly as when alone) or ``"vmap"`` (lock step under ``jax.vmap`` until the last member
  stops; a ``lax.cond`` in the loop body then evaluates both branches for every member, so ``map`` is usually
  faster on CPU and ``vmap`` pays off for tiny branch-free bodies on accelerators);
* results: the final relative errors are computed inside the same program and the states are read back once.

Every member must have the same shapes and static settings (operator kind, loss, symmetry, truth rank); otherwise
:class:`NotStackable` is raised, as it is for the convex baseline (no jitted loop).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Sequence

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_choice, check_seed
from benign.solvers import init as sinit
from benign.solvers import loop
from benign.objective import check_objective
from benign.solvers.api import (DEFAULT_DIVERGE_FACTOR, DEFAULT_STALL_RTOL, DEFAULT_STALL_WINDOW, _control, _members,
                                _resolve_rank, _result, make_solver)
from benign.solvers.base import ProblemScale
from benign.solvers.result import Result

STRATEGIES = ("map", "vmap")


def default_strategy() -> str:
    """The faster strategy for JAX's default backend: ``"map"`` on the CPU (also bit for bit with single runs there),
    ``"vmap"`` on an accelerator, where a loop pays a kernel launch per operation and a host round trip per
    iteration once per batch instead of once per member (1000 small GD trials on an H100: 555 trials/s with
    ``"vmap"``, 150 with ``"map"``), and where no strategy is bit for bit with single runs."""
    return "map" if jax.default_backend() == "cpu" else "vmap"


class NotStackable(ValueError):
    """The objectives (or the method) cannot share one compiled run; solve them one by one."""


def solve_stacked(objs: Sequence, method: Any = "gd", seeds: Sequence[int] | None = None, *,
                  strategy: str = "map", rank: int | None = None, init: str = "random",
                  init_scale: float | None = None, max_iter: int | None = None, gtol: float | None = None,
                  history_every: int = 1, rtol: float | None = None, stall_window: int = DEFAULT_STALL_WINDOW,
                  stall_rtol: float = DEFAULT_STALL_RTOL, diverge_factor: float = DEFAULT_DIVERGE_FACTOR,
                  **options: Any) -> list[Result]:
    """``[solve(objs[i], method, seed=seeds[i], ...) for i]`` in one compiled run (bit for bit with ``"map"`` on the
    CPU, to rounding with ``"vmap"`` or on an accelerator; see the module docstring).

    ``seeds`` defaults to ``0, 1, ...``; the other keywords are those of :func:`~benign.solvers.solve` and apply to
    every member. ``seconds`` of each result is the batch's loop time divided by the batch size
    (``details["batch_size"]``); ``details["setup_seconds"]`` likewise.
    """
    t0 = time.perf_counter()
    if "seed" in options:  # solve's keyword, here one seed per objective
        raise TypeError(f"solve_stacked takes seeds=[...] (one per objective), not seed={options['seed']!r}")
    objs = list(objs)
    if not objs:
        raise ValueError("solve_stacked needs at least one objective")
    for o in objs:
        check_objective(o)
    for k, o in enumerate(objs[1:], start=1):  # the common causes, named before the pytree comparison
        a, b = _signature(objs[0]), _signature(o)
        if a != b:
            raise NotStackable(f"member {k} differs from member 0: it is {_describe(b)}, member 0 is {_describe(a)} "
                               "(one compiled run needs objectives of one shape, loss and factorisation)")
    seeds = list(range(len(objs))) if seeds is None else [check_seed(s) for s in seeds]
    if len(seeds) != len(objs):
        raise ValueError(f"got {len(seeds)} seeds for {len(objs)} objectives")
    check_choice("strategy", strategy, STRATEGIES)
    sinit._check_init(init)
    solver = make_solver(method, options)
    if not solver.jitted:
        raise NotStackable(f"method {solver.name!r} is not a jitted loop")
    for o in objs:
        solver.validate(o)
    stacked_objs = _stack([_loop_view(o) for o in objs])
    r = _resolve_rank(objs[0], None, rank)
    scales = _Scales(objs, stacked_objs, r, seeds)
    X0 = _starts(objs, r, init, init_scale, seeds, scales)
    solvers = [solver.resolve(o, scales.member(i), X0[i]) for i, o in enumerate(objs)]
    control = _control(solver, max_iter, gtol, rtol, history_every, stall_window, stall_rtol, diverge_factor,
                       batched=True)
    keys = _jitted("keys", lambda: jax.jit(jax.vmap(sinit.run_key_traced)))(
        np.asarray(seeds, dtype=np.int64))
    B = len(objs)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    final, compile_s = loop.call_compiled(f"stacked-{strategy}", _runners()[strategy], _stack(solvers), stacked_objs,
                                          X0, keys, control, np.asarray(int(control.max_iter)))
    jax.block_until_ready(final)
    seconds = time.perf_counter() - t1 - compile_s
    state = loop.unpack(final)  # one read-back for the whole batch
    return [_result(one, objs[i], solvers[i], control, seconds / B, compile_s, setup / B,
                    {"seed": seeds[i], "batch_size": B}) for i, one in enumerate(_members(state, B))]


def _loop_view(obj):
    """The objective without operator arrays that no primitive reads (:meth:`Operator.without_full_rows`), so that
    they are neither stacked nor transferred."""
    return dataclasses.replace(obj, operator=obj.operator.without_full_rows())


def _signature(obj) -> tuple:
    return tuple(obj.shape), int(obj.operator.m), obj.operator.kind, obj.loss.name, obj.factorization


def _describe(sig: tuple) -> str:
    (d1, d2), m, kind, loss, fact = sig
    return f"{d1} x {d2} with m = {m} ({kind} operator, loss {loss}, {fact})"


def _stack(trees: list):
    """Stack pytrees of one structure and leaf shapes along a new leading axis; :class:`NotStackable` otherwise."""
    flat = [jax.tree_util.tree_flatten(t) for t in trees]  # one flatten per member: (leaves, structure)
    ref = flat[0][1]
    for k, (_, other) in enumerate(flat[1:], start=1):
        if other != ref:
            a, b = str(ref), str(other)
            i = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            raise NotStackable(f"member {k} differs from member 0 in kind or static settings (operator kind, loss, "
                               f"factorisation or a static solver option), first at ...{a[max(i - 30, 0):i + 30]}... "
                               f"against ...{b[max(i - 30, 0):i + 30]}...")
    leaves = [ls for ls, _ in flat]
    shapes = [tuple(np.shape(x) for x in ls) for ls in leaves]
    for k, sh in enumerate(shapes[1:], start=1):
        if sh != shapes[0]:
            j = next(j for j, (x, y) in enumerate(zip(shapes[0], sh)) if x != y)
            raise NotStackable(f"the objectives differ in shape: member {k} has an array of shape {sh[j]} where "
                               f"member 0 has {shapes[0][j]}")
    columns = [[ls[j] for ls in leaves] for j in range(len(leaves[0]))]
    # host columns: stacked in NumPy and moved in one transfer call (device_put is cheaper than jnp.asarray)
    host = [j for j, col in enumerate(columns) if not isinstance(col[0], jax.Array)]
    moved = dict(zip(host, jax.device_put([np.stack(columns[j]) for j in host])))
    stacked = [moved[j] if j in moved else jnp.stack(col) for j, col in enumerate(columns)]
    return jax.tree_util.tree_unflatten(ref, stacked)


class _Scales:
    """The members' :class:`ProblemScale`, computed together on first use (a solve with explicit step sizes and
    initial scales never needs them)."""

    def __init__(self, objs: list, stacked, rank: int, seeds: list[int]) -> None:
        self._args = (objs, stacked, rank, seeds)
        self._values: list[ProblemScale] | None = None

    def get(self, i: int) -> ProblemScale:
        if self._values is None:
            self._values = sinit.problem_scales(*self._args)
        return self._values[i]

    def member(self, i: int) -> "_MemberScale":
        return _MemberScale(self, i)


class _MemberScale:
    """One member's scale, resolved lazily through the shared :class:`_Scales`."""

    def __init__(self, batch: _Scales, i: int) -> None:
        self._batch, self._i = batch, i

    sigma = property(lambda self: self._batch.get(self._i).sigma)
    gain = property(lambda self: self._batch.get(self._i).gain)
    rows = property(lambda self: self._batch._args[0][self._i].rows)
    factor_scale = property(lambda self: self._batch.get(self._i).factor_scale)


def _starts(objs: list, r: int, init: str, init_scale: float | None, seeds: list[int],
            scales: _Scales) -> np.ndarray:
    """The members' starting points, as :func:`~benign.solvers.initial_point` draws them for ``solve`` (start 0 of
    ``fold_in(key(seed), 0)``); the random draws of the whole batch in one compiled call."""
    if init == "spectral":
        return np.stack([sinit.initial_point(o, r, "spectral", init_scale, s) for o, s in zip(objs, seeds)])
    N = objs[0].rows
    draw = _jitted(("draw", N, r), lambda: jax.jit(jax.vmap(lambda s: sinit._normal_starts(s, 1, N, r)[0])))
    G = np.asarray(draw(np.asarray(seeds, dtype=np.int64)))
    out = []
    for i, o in enumerate(objs):
        x = sinit.start_scale(init, init_scale, N, lambda i=i: scales.get(i)) * G[i]
        out.append(np.abs(x) if o.nonnegative else x)
    return np.stack(out)


_JITTED: dict = {}
_JITTED_LOCK = threading.Lock()


def _jitted(key, make):
    """A compiled helper created once per key (its compilation cache lives as long as the process); thread-safe, so
    that threads of a sweep share one function object (the compiled-program cache is keyed on its identity)."""
    with _JITTED_LOCK:
        if key not in _JITTED:
            _JITTED[key] = make()
        return _JITTED[key]


def _runners() -> dict:
    """``{"map": f, "vmap": f}``, ``f(solvers, objs, x0s, keys, control, stop_at) -> final states``
    (:class:`~benign.solvers.loop.Final`, stacked)."""
    one = loop.run_to_end

    def mapped(solvers, objs, x0s, keys, control, stop_at):
        return jax.lax.map(lambda a: one(*a, control, stop_at), (solvers, objs, x0s, keys))

    lockstep = jax.vmap(one, in_axes=(0, 0, 0, 0, None, None))

    def vmapped(solvers, objs, x0s, keys, control, stop_at):
        return lockstep(solvers, objs, x0s, keys, loop.in_lockstep(control), stop_at)

    return _jitted("runners", lambda: {"map": mapped, "vmap": vmapped})
