"""The built-in ``solve`` trial: instance -> objective -> :func:`benign.solvers.solve` -> (optional) certificate.

``[trial]`` parameters (strings may be templates, see :mod:`benign.experiments.spec`):

* ``instance`` (required): an instance spec string, e.g. ``"sensing:n={n},r=2,m={m},seed={seed}"``;
* ``loss`` (``"l2"``), ``factorization`` (the instance's), ``balance`` (``0``);
* ``method`` (``"gd"``), ``rank`` (search rank; default the truth's rank), ``init`` (``"random"``), ``init_scale``,
  ``max_iter``, ``gtol`` and ``options`` (a table of method options) -- passed to :func:`benign.solvers.solve`
  with ``seed`` = the trial's seed (the solver draws its start from ``jax.random.key(seed)``);
* ``certify`` (``false``): certify the end point with :func:`benign.certify.certify` (``certify_options``: a table
  of keyword arguments);
* ``history`` (``0``): keep this many points of the solver's history (for convergence plots).

Outputs (from the solver's :class:`~benign.solvers.Result`): ``status`` (converged, max_iterations, diverged,
stalled), ``converged`` (bool), ``loss``, ``relative_error`` (``||M(X) - M*||_F / ||M*||_F``), ``grad_norm`` (the
method's stationarity measure), ``iterations``, ``solver_seconds`` (loop time; a batch's is split evenly); with
``certify``: ``verdict``, ``spurious`` (bool, or None when undecided), ``lambda_min``, ``lambda_max``; with
``history = K``: lists ``history_iter``, ``history_loss``, ``history_relative_error``, ``history_grad_norm``
(every ``max_iter // K`` iterations, plus the last).

Batching: the seeds of one grid point run as one vmapped solver run when their instances have the same shapes
(:func:`solve_batch`); the numbers are bit-for-bit those of :func:`solve_trial` (tested).
"""
from __future__ import annotations

from typing import Any

from benign.experiments.trials import NotBatchable, normalize_output, register_trial

PARAMS = ("instance", "loss", "factorization", "balance", "method", "rank", "init", "init_scale", "max_iter",
          "gtol", "options", "certify", "certify_options", "history")
REQUIRED = ("instance",)
OUTPUTS = ("status", "converged", "loss", "relative_error", "grad_norm", "iterations", "solver_seconds", "verdict",
           "spurious", "lambda_min", "lambda_max", "history_iter", "history_loss", "history_relative_error",
           "history_grad_norm")
_SOLVER_KEYS = ("init", "init_scale", "max_iter", "gtol")
#: keyword arguments of benign.solvers.solve that are not method options (they may appear in ``options``)
_LOOP_KEYS = ("history_every", "rtol", "stall_window", "stall_rtol", "diverge_factor")


def validate(params: dict) -> None:
    """Check one trial's parameters (pure Python: spec strings parsed, types checked)."""
    from benign.errors import check_float, check_int
    from benign.specs import parse_instance

    inst = params.get("instance")
    if not isinstance(inst, str):
        raise TypeError(f"instance must be a spec string, got {inst!r}")
    parse_instance(inst)
    _parse_loss_cached(params.get("loss", "l2"))
    if not isinstance(params.get("method", "gd"), str):
        raise TypeError(f"method must be a string, got {params.get('method')!r}")
    if "rank" in params:
        check_int("rank", params["rank"], minimum=1)
    if "max_iter" in params:
        check_int("max_iter", params["max_iter"], minimum=0)
    if "gtol" in params:
        check_float("gtol", params["gtol"], lo=0.0)
    if "init_scale" in params:
        check_float("init_scale", params["init_scale"], lo=0.0)
    if "balance" in params:
        check_float("balance", params["balance"], lo=0.0)
    if "history" in params:
        check_int("history", params["history"], minimum=0)
    for key in ("options", "certify_options"):
        if key in params and not isinstance(params[key], dict):
            raise TypeError(f"{key} must be a table, got {params[key]!r}")
    if not isinstance(params.get("certify", False), bool):
        raise TypeError(f"certify must be true or false, got {params.get('certify')!r}")
    _check_method(params.get("method", "gd"), params.get("options", {}))


_LOSS_CACHE: dict[str, Any] = {}


def _parse_loss_cached(text: Any):
    if not isinstance(text, str):
        raise TypeError(f"loss must be a spec string, got {text!r}")
    if text not in _LOSS_CACHE:
        from benign.specs import parse_loss

        _LOSS_CACHE[text] = parse_loss(text)
    return _LOSS_CACHE[text]


def _check_method(method: str, options: dict) -> None:
    """The method name and its options, checked by :func:`benign.solvers.make_solver` (unknown names and options
    get a "did you mean")."""
    try:
        from benign.solvers import make_solver
    except ImportError:  # solvers not installed: the error comes when the trial runs
        return
    opts = {k: v for k, v in options.items() if k not in _LOOP_KEYS}
    make_solver(method, opts)


def _objective(params: dict):
    from benign.instances import build
    from benign.objective import make_objective

    inst = build(params["instance"])
    kw: dict[str, Any] = {}
    if "factorization" in params:
        kw["factorization"] = params["factorization"]
    if "balance" in params:
        kw["balance"] = params["balance"]
    return inst, make_objective(inst, _parse_loss_cached(params.get("loss", "l2")), **kw)


def _solver_kwargs(params: dict, inst) -> dict:
    """Keyword arguments of :func:`benign.solvers.solve` for one trial (``seed`` aside).

    ``history_every`` (unless given in ``options``) is ``max_iter // history`` with ``history > 0`` and ``max_iter``
    otherwise: the recorded history never changes the iterates, and a short one keeps the batched loop fast."""
    from benign.solvers import METHODS

    kw = {k: params[k] for k in _SOLVER_KEYS if k in params}
    kw["rank"] = int(params.get("rank", inst.rank))
    options = dict(params.get("options", {}))
    if "history_every" not in options:
        cls = METHODS.get(params.get("method", "gd"))
        max_iter = kw.get("max_iter", getattr(cls, "default_max_iter", 10_000))
        k = int(params.get("history", 0))
        options["history_every"] = max(1, max_iter // k if k else max_iter)
    kw.update(options)
    return kw


def _record(res: Any, params: dict, obj, inst) -> dict:
    """The numbers kept for a solve trial (see the module docstring)."""
    rec: dict[str, Any] = {"status": res.status, "converged": res.status == "converged", "loss": res.loss,
                           "relative_error": res.relative_error, "grad_norm": res.grad_norm,
                           "iterations": res.iterations, "solver_seconds": res.seconds}
    if params.get("history", 0):
        hist = res.history
        rec["history_iter"] = hist["iteration"]
        for name, key in (("loss", "loss"), ("relative_error", "error"), ("grad_norm", "grad_norm")):
            rec[f"history_{name}"] = hist[key]
    if params.get("certify", False):
        from benign.certify import certify

        cert = certify(obj, res.x, instance=inst, **params.get("certify_options", {}))
        rec.update(verdict=cert.verdict, spurious=cert.spurious, lambda_min=cert.lambda_min,
                   lambda_max=cert.lambda_max)
    return normalize_output(rec)


def solve_trial(params: dict, seed: int) -> dict:
    """One ``solve`` trial (see the module docstring)."""
    from benign.solvers import solve

    inst, obj = _objective(params)
    res = solve(obj, params.get("method", "gd"), seed=seed, **_solver_kwargs(params, inst))
    return _record(res, params, obj, inst)


def solve_batch(params_list: list[dict], seeds: list[int], strategy: str = "map") -> list[dict]:
    """Several seeds of one grid point in one compiled solver run (objectives stacked along a leading axis).

    Each trial is prepared exactly as :func:`benign.solvers.solve` prepares it (its own instance, start point,
    resolved step size and keys); the prepared solvers, objectives, start points and keys are stacked as pytrees
    with a leading axis and the solver's jitted loop runs once for all of them (see :func:`solve_stacked` for the
    two strategies). Raises :class:`NotBatchable` when the trials differ in more than their instance and seed,
    when shapes or static settings differ, or when the method is not a jitted loop (the convex baseline).
    """
    rest = [{k: v for k, v in p.items() if k != "instance"} for p in params_list]
    if any(r != rest[0] for r in rest[1:]):
        raise NotBatchable("the trials differ in more than the instance")
    params = params_list[0]
    built = [_objective(p) for p in params_list]
    insts = [b[0] for b in built]
    objs = [b[1] for b in built]
    results = solve_stacked(objs, params.get("method", "gd"), list(seeds), strategy=strategy,
                            **_solver_kwargs(params, insts[0]))
    return [_record(res, params, obj, inst) for res, obj, inst in zip(results, objs, insts)]


def solve_stacked(objs: list, method: str, seeds: list[int], *, strategy: str = "map", rank: int,
                  init: str = "random", init_scale: float | None = None, max_iter: int | None = None,
                  gtol: float | None = None,
                  history_every: int = 1, rtol: float | None = None, stall_window: int | None = None,
                  stall_rtol: float | None = None, diverge_factor: float | None = None, **options: Any) -> list:
    """``[solve(objs[i], method, seed=seeds[i], ...) for i]`` in one compiled run over the stacked objectives.

    ``strategy``: ``"map"`` runs the members' loops one after the other inside one compiled program
    (``lax.map``: no Python or dispatch cost per trial, each loop as fast as alone); ``"vmap"`` runs them in
    lock step under ``jax.vmap`` (one vectorised loop until the last member stops; finished members are frozen).
    ``vmap`` wins when the loop body is branch-free and tiny; a ``lax.cond`` in the body becomes a ``select``
    under ``vmap`` that evaluates both branches for every member, where ``map`` keeps the branch.

    Built from :mod:`benign.solvers`' own set-up (``api._prepare`` per member, ``api._control``, ``run_keys``),
    loop (``loop.init_state``/``loop.advance`` under ``vmap``) and result builder (``api._result``), so each
    member gets the start point, step size, keys and stopping rules that :func:`~benign.solvers.solve` gives it
    (the tests compare the two bit for bit). ``seconds`` is the batch's loop time divided
    by the batch size (``details["batch_size"]``).
    """
    import time

    import numpy as np

    from benign._jax import jax

    try:
        from benign.solvers import api, loop
    except ImportError as exc:  # pragma: no cover
        raise NotBatchable(f"benign.solvers lacks a piece of the batched path: {exc}") from None
    t0 = time.perf_counter()
    kw = {k: v for k, v in dict(stall_window=stall_window, stall_rtol=stall_rtol,
                                diverge_factor=diverge_factor).items() if v is not None}
    defaults = {"stall_window": api.DEFAULT_STALL_WINDOW, "stall_rtol": api.DEFAULT_STALL_RTOL,
                "diverge_factor": api.DEFAULT_DIVERGE_FACTOR, **kw}
    fast = _prepare_fast(objs, method, dict(options), rank, init, init_scale, seeds)
    if fast is not None:
        solvers, X0 = fast
    else:
        prepared = [api._prepare(o, method, dict(options), None, rank, init, init_scale, s, None)
                    for o, s in zip(objs, seeds)]
        solvers = [p[0] for p in prepared]
        X0 = np.stack([np.asarray(p[2])[0] if np.ndim(p[2]) == 3 else np.asarray(p[2]) for p in prepared])
    if not solvers[0].jitted:
        raise NotBatchable(f"method {solvers[0].name!r} is not a jitted loop")
    control = api._control(solvers[0], max_iter, gtol, rtol, history_every, defaults["stall_window"],
                           defaults["stall_rtol"], defaults["diverge_factor"])
    S, O = _stack(solvers), _stack(objs)
    keys = _run_keys_fn()(np.asarray(seeds, dtype=np.int64))
    setup = time.perf_counter() - t0
    if strategy not in ("map", "vmap"):
        raise ValueError(f"strategy must be 'map' or 'vmap', got {strategy!r}")
    run_fn = _stacked_fns()[strategy]
    t1 = time.perf_counter()
    state, c1 = loop.call_compiled(f"stacked-{strategy}", run_fn, S, O, X0, keys, control,
                                   np.asarray(int(control.max_iter)))
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t1 - c1
    state = api._to_numpy(state)
    B = len(seeds)
    return [api._result(api._index(state, i), objs[i], solvers[i], control, seconds / B, c1, setup / B,
                        {"seed": int(seeds[i]), "batch_size": B}) for i in range(B)]


_VERIFIED: dict = {}


def _prepare_fast(objs: list, method: str, options: dict, rank: int | None, init: str,
                  init_scale: float | None, seeds: list[int]):
    """``([solver_i], X0 stacked)`` as ``benign.solvers.api._prepare`` gives them, with the random starts of the
    whole unit drawn in one jitted call (``normal(fold_in(key(seed), 0), (N, r))`` per member, as
    ``initial_point`` draws start 0) instead of one eager ``vmap`` per trial; the problem scales and the step
    sizes come from the solvers' own ``_LazyScale`` and ``resolve``. ``None`` (use ``_prepare`` per member) for the
    spectral start or when a check fails: the first unit of every shape is compared bit for bit with
    ``_prepare``, and a mismatch (the solvers' set-up changed) switches the fast path off for the process."""
    import numpy as np

    from benign._jax import jax
    from benign.errors import check_float
    from benign.solvers import api
    from benign.solvers import init as sinit

    if init not in ("random", "small") or _VERIFIED.get("broken"):
        return None
    try:
        solver = api.make_solver(method, options)
        if not solver.jitted:
            return None
        for o in objs:
            api._check_objective(o)
            solver.validate(o)
        r = api._resolve_rank(objs[0], None, rank)
        N = objs[0].rows
        G = np.asarray(_draw_fn(N, r)(np.asarray(seeds, dtype=np.int64)))
        solvers, X0 = [], []
        for o, s, g in zip(objs, seeds, G):
            scale = api._LazyScale(o, r, s)
            if init_scale is not None:
                sc = check_float("init_scale", init_scale, lo=0.0, lo_open=True)
            elif init == "small":
                sc = sinit.SMALL_SCALE
            else:
                sc = scale.factor_scale / np.sqrt(N)
            x = sc * g
            if o.nonnegative:
                x = np.abs(x)
            X0.append(x)
            solvers.append(solver.resolve(o, scale, x))
    except (AttributeError, TypeError, ImportError):  # the solvers' internals changed: use _prepare
        _VERIFIED["broken"] = True
        return None
    tag = (method, init, N, r, tuple(sorted(options)), init_scale is None)
    if tag not in _VERIFIED:
        ref_solver, _, ref_x, _ = api._prepare(objs[0], method, dict(options), None, rank, init, init_scale,
                                               seeds[0], None)
        same = np.array_equal(np.asarray(ref_x).reshape(X0[0].shape), X0[0]) and all(
            np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
            zip(jax.tree_util.tree_leaves(ref_solver), jax.tree_util.tree_leaves(solvers[0])))
        if not same:
            _VERIFIED["broken"] = True
            return None
        _VERIFIED[tag] = True
    return solvers, np.stack(X0)


_DRAWS: dict = {}


def _draw_fn(N: int, r: int):
    if (N, r) not in _DRAWS:
        from benign._jax import jax, jnp

        def draw(seed):
            return jax.random.normal(jax.random.fold_in(jax.random.key(seed), 0), (N, r), dtype=jnp.float64)

        _DRAWS[(N, r)] = jax.jit(jax.vmap(draw))
    return _DRAWS[(N, r)]


def _stack(trees: list):
    """Stack pytrees of one structure and leaf shapes along a new leading axis; :class:`NotBatchable` otherwise."""
    import numpy as np

    from benign._jax import jax, jnp

    ref = jax.tree_util.tree_structure(trees[0])
    shapes = {tuple(np.shape(x) for x in jax.tree_util.tree_leaves(t)) for t in trees}
    if any(jax.tree_util.tree_structure(t) != ref for t in trees) or len(shapes) != 1:
        raise NotBatchable("the trials' solvers or objectives differ in shape or static settings")
    return jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *trees)


_STACKED: dict = {}


def _run_keys_fn():
    """``seeds -> [run_keys(seed, 1)[0] for seed in seeds]`` as one jitted, vmapped call of the solvers' own
    :func:`~benign.solvers.init.run_keys`."""
    if not _RUN_KEYS:
        from benign._jax import jax
        from benign.solvers.init import run_keys

        _RUN_KEYS.append(jax.jit(jax.vmap(lambda s: run_keys(s, 1)[0])))
    return _RUN_KEYS[0]


_RUN_KEYS: list = []


def _stacked_fns() -> dict:
    """``{"vmap": f, "map": f}`` with ``f(solvers, objs, x0s, keys, control, stop_at) -> final states`` (created
    once: the solvers' compilation cache keys on the function's ``id``)."""
    if not _STACKED:
        from benign._jax import jax
        from benign.solvers import loop

        def one(solver, obj, x0, key, control, stop_at):
            return loop.advance(solver, obj, loop.init_state(solver, obj, x0, key, control), control, stop_at)

        def mapped(solvers, objs, x0s, keys, control, stop_at):
            return jax.lax.map(lambda a: one(*a, control, stop_at), (solvers, objs, x0s, keys))

        _STACKED["vmap"] = jax.vmap(one, in_axes=(0, 0, 0, 0, None, None))
        _STACKED["map"] = mapped
    return _STACKED


register_trial("solve", solve_trial, batch=solve_batch, params=PARAMS, required=REQUIRED, outputs=OUTPUTS,
               validate=validate)
