"""The built-in ``solve`` trial: instance -> objective -> :func:`benign.solvers.solve` -> (optional) certificate.

``[trial]`` parameters (strings may be templates, see :mod:`benign.experiments.spec`):

* ``instance`` (required): an instance spec string, e.g. ``"sensing:n={n},r=2,m={m},seed={seed}"``;
* ``loss`` (``"l2"``), ``factorization`` (the instance's), ``balance`` (``0``);
* ``method`` (``"gd"``), ``rank`` (search rank; default the truth's rank), ``init`` (``"random"``), ``init_scale``,
  ``max_iter``, ``gtol`` and ``options`` (a table of method options) -- passed to :func:`benign.solvers.solve`
  with ``seed`` = the trial's seed (the solver draws its start from ``jax.random.key(seed)``); ``method = "convex"``
  (the SDP baseline) takes ``rank`` and its own options only, and the seed reaches it only through the instance
  spec: the start's and the loop's settings (and ``history``) are refused when every trial is convex, and skipped
  at the convex points of a spec that also runs a local method (a grid over methods shares one ``[trial]`` table);
* ``certify`` (``false``): certify the end point with :func:`benign.certify.certify` (``certify_options``: a table
  of keyword arguments);
* ``history`` (``0``): keep this many points of the solver's history (for convergence plots).

Outputs (from the solver's :class:`~benign.solvers.Result`): ``status`` (converged, max_iterations, diverged,
stalled), ``converged`` (bool), ``loss``, ``relative_error`` (``||M(X) - M*||_F / ||M*||_F``), ``grad_norm`` (the
method's stationarity measure), ``iterations``, ``solver_seconds`` (loop time; a batch's is split evenly); with
``certify``: ``verdict``, ``spurious`` (bool, or None when undecided), ``lambda_min``, ``lambda_max``; with
``history = K``: lists ``history_iter``, ``history_loss``, ``history_relative_error``, ``history_grad_norm``
(every ``max_iter // K`` iterations, plus the last).

Batching: the seeds of one grid point run as one compiled solver run when their instances have the same shapes
(:func:`solve_batch`, through :func:`benign.solvers.solve_stacked`); on the CPU the default strategy is ``map`` and
the numbers are bit-for-bit those of :func:`solve_trial` (tested); with ``vmap`` (the default on an accelerator) and
on any accelerator they are the same to rounding.
"""
from __future__ import annotations

import threading
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


_INT_PARAMS = {"rank": 1, "max_iter": 0, "history": 0}  # name -> minimum
_NONNEGATIVE_PARAMS = ("init_scale", "balance")


def validate(params: dict) -> None:
    """Check one trial's parameters (pure Python: spec strings parsed, types checked)."""
    from benign.errors import check_choice, check_float, check_int
    from benign.solver_options import INITS, check_loop_setting, check_spectral_scale
    from benign.specs import parse_instance

    inst = params.get("instance")
    if not isinstance(inst, str):
        raise TypeError(f"instance must be a spec string, got {inst!r}")
    parse_instance(inst)
    _parse_loss_cached(params.get("loss", "l2"))
    if not isinstance(params.get("method", "gd"), str):
        raise TypeError(f"method must be a string, got {params.get('method')!r}")
    for key, minimum in _INT_PARAMS.items():
        if key in params:
            check_int(key, params[key], minimum=minimum)
    for key in _NONNEGATIVE_PARAMS:
        if key in params:
            check_float(key, params[key], lo=0.0)
    for key in ("options", "certify_options"):
        if key in params and not isinstance(params[key], dict):
            raise TypeError(f"{key} must be a table, got {params[key]!r}")
    if not isinstance(params.get("certify", False), bool):
        raise TypeError(f"certify must be true or false, got {params.get('certify')!r}")
    check_choice("init", params.get("init", "random"), INITS)
    if "gtol" in params:
        check_loop_setting("gtol", params["gtol"])
    check_spectral_scale(params.get("init", "random"), params.get("init_scale"))
    if "factorization" in params:
        check_choice("factorization", params["factorization"], ("symmetric", "asymmetric"))
    for key, value in params.get("options", {}).items():
        if key in _LOOP_KEYS:  # the loop's own settings, with solve's ranges
            check_loop_setting(key, value, f"options.{key}")
    notes = _spec_notes()  # (the spec-wide rule for the settings convex ignores: see _finish_validation)
    if params.get("method") == "convex":
        notes["convex_ignores"].update(_convex_ignored(params))
    else:
        notes["local"] = True
    _check_certify_options(params, inst)
    _check_method(params.get("method", "gd"), params.get("options", {}))


def _convex_ignored(params: dict) -> list[str]:
    """The settings of a ``convex`` trial that only a local method uses, given values other than the defaults."""
    from benign.solver_options import convex_ignores

    names = convex_ignores({k: params[k] for k in ("init", "init_scale", "max_iter", "gtol") if k in params})
    names += [f"options.{k}" for k in convex_ignores({k: v for k, v in params.get("options", {}).items()
                                                      if k in _LOOP_KEYS})]
    return names + (["history"] if params.get("history", 0) else [])


def _check_certify_options(params: dict, instance: str) -> None:
    """``certify_options`` names the settings of the certifier the trial will use, with values it takes (without
    building anything)."""
    from benign.certify_settings import (COMMON_SETTINGS, certifier_kind, check_certify_setting,
                                         check_certify_setting_names, check_l1_common)

    opts = params.get("certify_options", {})
    if not opts:  # (set without certify anywhere in the spec: refused at load, see REQUIRES)
        return
    kind = certifier_kind(_parse_loss_cached(params.get("loss", "l2")).name, instance, params.get("factorization"))
    check_certify_setting_names([k for k in opts if k not in COMMON_SETTINGS], kind)
    for name, value in opts.items():
        check_certify_setting(name, value, f"certify_options.{name}")
    if kind == "l1":
        check_l1_common(opts, {k: f"certify_options.{k}" for k in opts})


_LOSS_CACHE: dict[str, Any] = {}


def _parse_loss_cached(text: Any):
    if not isinstance(text, str):
        raise TypeError(f"loss must be a spec string, got {text!r}")
    if text not in _LOSS_CACHE:
        from benign.specs import parse_loss

        _LOSS_CACHE[text] = parse_loss(text)
    return _LOSS_CACHE[text]


_CHECKED_METHODS: set = set()
#: per thread (each spec load is in one thread): method settings that passed the cheap checks and wait for
#: :func:`_finish_validation` (make_solver imports JAX)
_PENDING = threading.local()


def _deferred() -> dict:
    if not hasattr(_PENDING, "checks"):
        _PENDING.checks = {}
    return _PENDING.checks


def _spec_notes() -> dict:
    """Per thread, for the spec being loaded: the settings its ``convex`` trials would ignore, and whether any trial
    runs a local method."""
    if not hasattr(_PENDING, "notes"):
        _PENDING.notes = {"convex_ignores": set(), "local": False}
    return _PENDING.notes


def _check_method(method: str, options: dict) -> None:
    """The method name and its options: names, types and ranges now, without JAX (a bad spec fails fast, whichever
    trial is at fault); the full check by :func:`benign.solvers.make_solver` (unknown names and options get a "did
    you mean") is deferred to :func:`_finish_validation`, once per distinct combination."""
    import json

    from benign.solver_options import check_method_options

    opts = {k: v for k, v in options.items() if k not in _LOOP_KEYS}
    # None is left to make_solver, which knows which settings take it
    check_method_options(method, {k: v for k, v in opts.items() if v is not None})
    try:
        key = (method, json.dumps(opts, sort_keys=True))
    except (TypeError, ValueError):  # not JSON (the store would refuse it later): checked at once, no memo
        _make_solver(method, opts)
        return
    if key not in _CHECKED_METHODS:
        _deferred()[key] = (method, opts)


def _make_solver(method: str, opts: dict) -> None:
    try:
        from benign.solvers import make_solver
    except ImportError:  # solvers not installed: the error comes when the trial runs
        return
    make_solver(method, opts)


def _finish_validation(run: bool = True) -> None:
    """The deferred :func:`benign.solvers.make_solver` checks and the spec-wide rule for the settings ``convex``
    ignores, once every trial passed the cheap ones (called by the spec loader through ``validate.finish``);
    ``run=False`` drops them (the spec failed a cheap check, or a load starts afresh)."""
    pending = dict(_deferred())
    _deferred().clear()  # taken whatever happens next: nothing is left for the next spec
    notes = dict(_spec_notes())
    del _PENDING.notes
    if not run:
        return
    if notes["convex_ignores"] and not notes["local"]:
        # every trial is convex: settings only a local method uses were written for nothing. A spec that also runs
        # a local method (a grid over methods) shares one [trial] table, and its convex points skip them
        raise ValueError(f"method 'convex' ignores {', '.join(sorted(notes['convex_ignores']))} (it solves the SDP "
                         f"relaxation: no start, no iterations; the trial's seed only enters through the instance "
                         f"spec)")
    for key, (method, opts) in pending.items():
        try:
            _make_solver(method, opts)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"method {method!r} with options {opts}: {exc}") from None
        _CHECKED_METHODS.add(key)


validate.finish = _finish_validation  # type: ignore[attr-defined]


def _objective(params: dict, device: bool = True):
    """The trial's instance and objective (``device=False``: NumPy arrays, for stacking a batch in one transfer)."""
    from benign.instances import build
    from benign.objective import make_objective

    inst = build(params["instance"], device=device)
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
    if params.get("method") == "convex":  # only rank and its own options (the rest is for the local methods)
        return {"rank": kw["rank"], **{k: v for k, v in options.items() if k not in _LOOP_KEYS}}
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
        from benign.operators import on_device

        cert = certify(on_device(obj), res.x, instance=inst, **params.get("certify_options", {}))
        rec.update(verdict=cert.verdict, spurious=cert.spurious, lambda_min=cert.lambda_min,
                   lambda_max=cert.lambda_max)
    return normalize_output(rec)


def solve_trial(params: dict, seed: int) -> dict:
    """One ``solve`` trial (see the module docstring)."""
    from benign.solvers import solve

    inst, obj = _objective(params)
    method = params.get("method", "gd")
    seeded = {} if method == "convex" else {"seed": seed}  # the SDP has no random start
    res = solve(obj, method, **seeded, **_solver_kwargs(params, inst))
    return _record(res, params, obj, inst)


def solve_batch(params_list: list[dict], seeds: list[int], strategy: str | None = None) -> list[dict]:
    """Several seeds of one grid point in one compiled solver run (:func:`benign.solvers.solve_stacked`, which
    gives each member what :func:`benign.solvers.solve` gives it: bit for bit with ``strategy="map"`` on the CPU, to
    rounding with ``"vmap"``). ``strategy=None``: :func:`benign.solvers.stacked.default_strategy`, decided where the
    batch runs (``"map"`` on the CPU, ``"vmap"`` on an accelerator).

    Raises :class:`NotBatchable` when the trials differ in more than their instance and seed, when shapes or
    static settings differ, or when the method is not a jitted loop (the convex baseline).
    """
    from benign.solvers import NotStackable, solve_stacked
    from benign.solvers.stacked import default_strategy

    rest = [{k: v for k, v in p.items() if k != "instance"} for p in params_list]
    if any(r != rest[0] for r in rest[1:]):
        raise NotBatchable("the trials differ in more than the instance")
    params = params_list[0]
    built = [_objective(p, device=False) for p in params_list]  # stacked by solve_stacked: one transfer per array
    insts = [b[0] for b in built]
    objs = [b[1] for b in built]
    try:
        results = solve_stacked(objs, params.get("method", "gd"), list(seeds),
                                strategy=default_strategy() if strategy is None else strategy,
                                **_solver_kwargs(params, insts[0]))
    except NotStackable as exc:
        raise NotBatchable(str(exc)) from None
    return [_record(res, params, obj, inst) for res, obj, inst in zip(results, objs, insts)]


def threadsafe(params: dict) -> bool:
    """A solve trial may run beside others in one process unless it goes through CVXPY, which is not thread-safe
    (``method = "convex"``), or certifies (the l1 certificate's SDP and warning filters are process-wide)."""
    return params.get("method", "gd") != "convex" and not params.get("certify", False)


#: outputs recorded (and parameters read) only when another parameter is set: metrics and reports that read such an
#: output, and a [trial] table that sets such a parameter, without it are refused at load
REQUIRES = {**{k: "certify" for k in ("verdict", "spurious", "lambda_min", "lambda_max", "certify_options")},
            **{k: "history" for k in OUTPUTS if k.startswith("history_")}}

register_trial("solve", solve_trial, batch=solve_batch, params=PARAMS, required=REQUIRED, outputs=OUTPUTS,
               validate=validate, threadsafe=threadsafe, requires=REQUIRES)
