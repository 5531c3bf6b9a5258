"""``solve`` and ``solve_many``: validate in plain Python, resolve defaults, run the jitted loop, build Results."""
from __future__ import annotations

import time
from functools import cached_property
from typing import Any, Callable

import numpy as np

from benign.errors import (check_array, check_callable, check_choice, check_fits, check_float, check_int,
                           check_rank_fits, check_seed)
from benign.objective import check_objective
from benign.solver_options import (DEFAULT_DIVERGE_FACTOR, DEFAULT_STALL_RTOL, DEFAULT_STALL_WINDOW,
                                   check_loop_setting, convex_ignores)
from benign.solvers import loop
from benign.solvers.base import ProblemScale, Solver, with_options
from benign.solvers.convex import ConvexBaseline, solve_convex
from benign.solvers.gradient import GradientDescent, ProjectedGD
from benign.solvers.init import _check_init, initial_point, problem_scale, run_key, run_keys
from benign.solvers.perturbed import PerturbedGD
from benign.solvers.result import Result
from benign.solvers.scaled import PrecGD, ScaledGD
from benign.solvers.subgradient import Subgradient
from benign.solvers.trust_region import TrustRegion

#: CLI names -> solver classes
METHODS: dict[str, type] = {
    "gd": GradientDescent,
    "perturbed-gd": PerturbedGD,
    "projected-gd": ProjectedGD,
    "subgradient": Subgradient,
    "scaled-gd": ScaledGD,
    "prec-gd": PrecGD,
    "trust-region": TrustRegion,
    "convex": ConvexBaseline,
}



class _LazyScale:
    """A :class:`ProblemScale` computed on first use (a solve with explicit steps and scales never pays for it)."""

    def __init__(self, obj, rank: int, seed: int) -> None:
        self._args = (obj, rank, seed)

    @cached_property
    def value(self) -> ProblemScale:
        return problem_scale(*self._args)

    sigma = property(lambda self: self.value.sigma)
    gain = property(lambda self: self.value.gain)
    rows = property(lambda self: self._args[0].rows)
    factor_scale = property(lambda self: self.value.factor_scale)


def make_solver(method: str | Solver, options: dict[str, Any] | None = None) -> Solver:
    """A solver from a CLI name (``METHODS``) or an instance, with ``options`` applied."""
    options = dict(options or {})
    if isinstance(method, Solver):
        return with_options(method, options) if options else method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name or a solver object, got {type(method).__name__}")
    return with_options(METHODS[check_choice("method", method, METHODS)](), options)


def _resolve_rank(obj, x0: np.ndarray | None, rank: int | None) -> int:
    if x0 is not None:
        r = x0.shape[-1]
        if rank is not None and check_int("rank", rank, minimum=1) != r:
            raise ValueError(f"rank = {rank} disagrees with the starting point's {r} columns")
        return r
    if rank is not None:
        r = check_int("rank", rank, minimum=1)
        check_rank_fits(r, obj.rows)
        return r
    if obj.truth is not None:
        return int(np.shape(obj.truth)[1])
    raise ValueError("rank is required when no starting point is given and the truth is unknown")


def _check_start(obj, x0: Any, name: str) -> np.ndarray:
    return obj.check_point(x0, name, host=True)


def _control(solver: Solver, max_iter, gtol, rtol, history_every, stall_window, stall_rtol, diverge_factor,
             batched: bool = False):
    check = check_loop_setting
    max_iter = solver.default_max_iter if max_iter is None else check("max_iter", max_iter)
    gtol = solver.default_gtol if gtol is None else check("gtol", gtol)
    rtol = check("rtol", rtol)
    every = check("history_every", history_every)
    stall_window = check("stall_window", stall_window)
    stall_rtol = check("stall_rtol", stall_rtol)
    diverge_factor = check("diverge_factor", diverge_factor)
    return loop.make_control(gtol=gtol, rtol=rtol, stall_rtol=stall_rtol, stall_window=stall_window,
                             diverge_factor=diverge_factor, max_iter=max_iter, every=every,
                             min_hist=16 if batched else 16384)


def _rule(solver: Solver, control, state=None) -> str:
    """The convergence test in words; with the final (converged) ``state``, only the tests that its numbers pass,
    with those numbers (so that the message says which test stopped the run)."""
    if isinstance(solver, PerturbedGD) and solver.rule == "jin":
        return ("t_thres iterations after a perturbation the loss had not decreased by f_thres; returned the "
                "point before the perturbation (its gradient norm <= g_thres)")
    gtol, rtol = float(control.gtol), float(control.rtol)
    curvature = " and the Lanczos curvature test passed" if isinstance(solver, TrustRegion) else ""
    tests = [(f"{solver.measure_name} <= gtol * max(s, initial value) with gtol = {gtol:g}{curvature}",
              lambda s: f"{solver.measure_name} = {float(s.meas):.3g} <= gtol * max(s, initial value) = "
                        f"{float(s.ctx.thresh):.3g} (gtol = {gtol:g}){curvature}",
              lambda s: float(s.meas) <= float(s.ctx.thresh))]
    if isinstance(solver, Subgradient) and float(solver.ftol) >= 0:
        ftol, fs = float(solver.ftol), float(solver.f_star)
        tests.append((f"f - f_star <= ftol * (f(X0) - f_star) with ftol = {ftol:g}",
                      lambda s: f"f - f_star = {float(s.f) - fs:.3g} <= ftol * (f(X0) - f_star) with ftol = {ftol:g}",
                      lambda s: float(s.f) - fs <= ftol * max(float(s.ctx.f0) - fs, 0.0)))
    if rtol >= 0:
        tests.append((f"relative_error <= rtol = {rtol:g}",
                      lambda s: f"relative_error = {float(s.err):.3g} <= rtol = {rtol:g}",
                      lambda s: float(s.err) <= rtol))
    if state is not None:
        held = [said(state) for _, said, holds in tests if holds(state)]
        if held:
            return "; ".join(held)
    return " or ".join(text for text, _, _ in tests)


def _result(state, obj, solver: Solver, control, seconds: float, compile_s: float, setup_s: float,
            extra: dict[str, Any]) -> Result:
    """The :class:`Result` of a finished NumPy state (:func:`benign.solvers.loop.run`: its ``err`` is the relative
    error at its point, NaN without a truth)."""
    code = int(state.status)
    status, message = loop.status_message(code, control, _rule(solver, control, state), solver.divergence_hint)
    if code == loop.RUNNING:  # cannot happen after a full run; kept honest rather than silent
        status, message = "max_iterations", "stopped while running"
    loss_ok, meas_ok = np.isfinite(float(state.ctx.f0)), np.isfinite(float(state.ctx.thresh))
    if code == loop.DIVERGED and not (loss_ok and meas_ok):
        what = "loss" if not loss_ok else f"{solver.measure_name} (the gradient)"
        message = (f"diverged at the start: the {what} at the starting point is not finite (an overflowing start or "
                   f"problem? largest |entry| of the start {float(np.max(np.abs(np.asarray(state.x)))):.3g})")
    details = {"compile_seconds": compile_s, "setup_seconds": setup_s, "measure": solver.measure_name,
               "gradient_threshold": float(state.ctx.thresh), "initial_loss": float(state.ctx.f0)}
    details.update(solver.summary(state.aux))
    details.update(extra)
    x, loss, err, meas = np.asarray(state.x), float(state.f), float(state.err), float(state.meas)
    best = solver.best_iterate(state.aux)
    if best is not None and best[2] != int(state.k):
        bx, bf, bk = best
        if getattr(solver, "final", "last") != "best":
            if bf < loss - 1e-12 * abs(loss):
                message += (f"; the best iterate (iteration {bk}) had a lower loss, {bf:.6g} against {loss:.6g} "
                            "(final=best returns it)")
        elif status == "converged":  # the test passed at the last iterate: the point the status speaks of
            message += (f"; final=best: the last iterate is returned, the one the test passed (the least loss, "
                        f"{bf:.6g}, was at iteration {bk})")
        else:
            x, loss = bx, bf
            err, meas = _numbers_at(obj, solver, bx)
            message += f"; final=best: the iterate returned is the best one, iteration {bk}, not the last"
    if (status == "converged" and obj.loss.name == "lp" and np.isfinite(err) and err > LP_NOTE_ERROR
            and not (control.rtol_rule and err <= float(control.rtol)) and _exact_data(obj)):
        message += (f"; note: the lp loss (l = {obj.loss.l}) is flat where the residuals vanish (psi''(0) = 0), so on "
                    f"exact data a gradient of size g allows an error of order g^(1/{obj.loss.l - 1}): relative "
                    f"error {err:.3g}; lower gtol, or stop on rtol")
    return Result(x=x, loss=loss, relative_error=err, grad_norm=meas, iterations=int(state.k), seconds=seconds,
                  status=status, message=message, method=solver.name, options=solver.options(),
                  history=loop.history_of(state, int(control.every)), details=details)


#: the lp note (flat minimisers) is added to a gradient-test convergence above this relative error
LP_NOTE_ERROR = 1e-6


def _exact_data(obj) -> bool:
    """The truth fits the data to rounding: ``f(truth) <= eps^2 f(0)`` (noise of relative size ``s`` gives about
    ``s^l``; the lp note is about exact data, where the residuals vanish at the minimisers)."""
    if obj.truth is None:
        return False
    from benign._jax import jnp

    zero = jnp.zeros_like(jnp.asarray(obj.truth))
    return float(obj.value(obj.truth)) <= np.finfo(float).eps ** 2 * float(obj.value(zero))


def _numbers_at(obj, solver: Solver, x: np.ndarray) -> tuple[float, float]:
    """The relative error and the method's stationarity measure at a point other than the last iterate."""
    from benign._jax import jnp
    from benign.objective import relative_error

    X = jnp.asarray(x)
    return float(relative_error(obj, X)), float(solver.measure(obj, X, obj.grad(X)))


def _prepare(obj, method, options, x0s, rank, init, init_scale, seed, count):
    """Shared set-up: solver, rank, starting points ``(count, N, r)``, resolved solver."""
    check_objective(obj)
    seed = check_seed(seed)
    _check_init(init)  # checked even when starting points are given (they are then unused, but never wrong)
    if init_scale is not None:
        check_float("init_scale", init_scale, lo=0.0, lo_open=True)
    solver = make_solver(method, options)
    solver.validate(obj)
    if not solver.jitted:  # the convex baseline takes no starting point
        return solver, None, None, None
    if x0s is not None:
        r = _resolve_rank(obj, x0s, rank)
        X0 = x0s
        scale = _LazyScale(obj, r, seed)
    else:
        r = _resolve_rank(obj, None, rank)
        # the iterate, its gradient and the start of every run, checked before JAX draws them
        runs = 1 if count is None else count
        check_fits(f"{runs} start(s) of shape {obj.rows} x {r}", 3 * 8.0 * runs * obj.rows * r,
                   "use a smaller rank or fewer starts")
        scale = _LazyScale(obj, r, seed)
        X0 = initial_point(obj, r, init, init_scale, seed, count=count, problem=scale)
    return solver.resolve(obj, scale, X0), r, X0, scale


def _check_convex_settings(given: dict[str, Any]) -> None:
    """The convex baseline solves the SDP with its own solver: a start's or the loop's setting given a value other
    than its default would be ignored, so it is refused (``ValueError`` naming it)."""
    ignored = convex_ignores(given)
    if ignored:
        raise ValueError(f"the convex baseline ignores {', '.join(ignored)} (it solves the SDP relaxation; its own "
                         f"settings are options, e.g. mode='loss', solver='scs')")


def solve(obj, method: str | Solver = "gd", x0: Any = None, *, rank: int | None = None, init: str = "random",
          init_scale: float | None = None, seed: int = 0, max_iter: int | None = None, gtol: float | None = None,
          history_every: int = 1, rtol: float | None = None, stall_window: int = DEFAULT_STALL_WINDOW,
          stall_rtol: float = DEFAULT_STALL_RTOL, diverge_factor: float = DEFAULT_DIVERGE_FACTOR,
          progress: Callable[[int, int], None] | None = None, **options: Any) -> Result:
    """Run one local method (or the convex baseline) on ``obj``; returns a :class:`Result`.

    ``method``: a name in :data:`METHODS` or a configured solver (``GradientDescent(step=1e-3, armijo=True)``);
    ``options`` are the method's settings (e.g. ``step=1e-3``). ``x0`` (``(N, r)``) or ``init``/``init_scale``/``seed``
    give the starting point (see :func:`initial_point`); ``rank`` defaults to ``x0``'s columns, else the truth's rank.
    Stopping rules (see :mod:`benign.solvers.loop`): ``gtol`` (relative to ``max(s, measure(x0))``, ``s`` the
    data-scale floor of :func:`benign.solvers.loop.gradient_floor`; method default
    ``1e-10``), ``rtol`` on the relative error (truth known, off by default), ``stall_window``/``stall_rtol``,
    ``diverge_factor``, ``max_iter``. ``progress(k, max_iter)`` is called between chunks of iterations.
    """
    t0 = time.perf_counter()
    check_objective(obj)
    check_callable("progress", progress, "progress(k, max_iter)")
    x0s = None if x0 is None else _check_start(obj, x0, "x0")[None]
    solver, r, X0, _ = _prepare(obj, method, options, x0s, rank, init, init_scale, seed, None)
    if not solver.jitted:
        _check_convex_settings(dict(init=init, init_scale=init_scale, seed=seed, max_iter=max_iter, gtol=gtol,
                                    rtol=rtol, history_every=history_every, stall_window=stall_window,
                                    stall_rtol=stall_rtol, diverge_factor=diverge_factor))
        explicit = x0s is not None or rank is not None
        return solve_convex(obj, solver, _resolve_rank(obj, x0s, rank) if explicit else None)
    X0 = np.asarray(X0)
    if X0.ndim == 3:
        X0 = X0[0]
    control = _control(solver, max_iter, gtol, rtol, history_every, stall_window, stall_rtol, diverge_factor)
    keys = run_key(seed)
    setup = time.perf_counter() - t0
    state, seconds, compile_s = loop.run(solver, obj, X0, keys, control, batched=False, progress=progress)
    return _result(state, obj, solver, control, seconds, compile_s, setup, {"seed": seed})


def solve_many(obj, method: str | Solver = "gd", x0s: Any = None, *, starts: int | None = None,
               rank: int | None = None, init: str = "random", init_scale: float | None = None, seed: int = 0,
               max_iter: int | None = None, gtol: float | None = None, history_every: int = 1,
               rtol: float | None = None, stall_window: int = DEFAULT_STALL_WINDOW,
               stall_rtol: float = DEFAULT_STALL_RTOL, diverge_factor: float = DEFAULT_DIVERGE_FACTOR,
               progress: Callable[[int, int], None] | None = None, **options: Any) -> list[Result]:
    """``B`` starts of the same objective in one vmapped, jitted run; returns one :class:`Result` per start.

    ``x0s`` has shape ``(B, N, r)``; without it ``starts = B`` points are drawn with ``init`` (start ``i`` from
    ``fold_in(key(seed), i)``: start 0 is the start :func:`solve` draws with the same seed, and its run equals that
    solve to rounding -- the batched program may order floating-point operations differently). Every start runs under the same
    stopping rules; a finished start is frozen while the others continue. ``seconds`` is the wall time of the
    whole batch (``details["batch_size"] = B``). Not available for the convex baseline (it takes no start).
    """
    t0 = time.perf_counter()
    check_objective(obj)
    check_callable("progress", progress, "progress(k, max_iter)")
    if x0s is not None:
        arr = check_array("x0s", x0s, ndim=3)
        if arr.shape[0] == 0:
            raise ValueError(f"x0s holds no starting point, got shape {arr.shape}")
        if starts is not None and check_int("starts", starts, minimum=1) != arr.shape[0]:
            raise ValueError(f"starts = {starts} disagrees with x0s holding {arr.shape[0]} points")
        x0s = np.stack([_check_start(obj, arr[i], f"x0s[{i}]") for i in range(arr.shape[0])])
        B = x0s.shape[0]
    else:
        B = 8 if starts is None else check_int("starts", starts, minimum=1)
    solver, r, X0, _ = _prepare(obj, method, options, x0s, rank, init, init_scale, seed, B)
    if not solver.jitted:
        raise ValueError(f"solve_many needs a jitted local method; {solver.name!r} takes no starting point "
                         "(call solve once)")
    control = _control(solver, max_iter, gtol, rtol, history_every, stall_window, stall_rtol, diverge_factor,
                       batched=True)
    keys = run_keys(seed, B)
    setup = time.perf_counter() - t0
    state, seconds, compile_s = loop.run(solver, obj, np.asarray(X0), keys, control, batched=True,
                                         progress=progress)
    return [_result(one, obj, solver, control, seconds, compile_s, setup, {"seed": seed, "start": i, "batch_size": B})
            for i, one in enumerate(_members(state, B))]


def _members(state, count: int) -> list:
    """The ``count`` members of a batched NumPy state (the tree flattened once, not once per member)."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(state)
    return [jax.tree_util.tree_unflatten(treedef, [v[i] for v in leaves]) for i in range(count)]
