"""The local methods' names, starts and settings, checkable without importing JAX.

The names of the starts and of the string choices are defined here and imported by the solver modules; the
settings' names mirror the solver classes' fields (``tests/test_solver_options.py`` checks that they agree, field by
field). A misspelt method, setting or value is reported at once -- by the command line before JAX loads, and by
:func:`benign.solvers.make_solver` (``solve(..., armijo="false")`` is refused, not read as a true string). Ranges
(``step > 0`` and the like) are defined here too (:data:`METHOD_BOUNDS`), checked with the names and types, and
read by the classes when they resolve their settings (:meth:`benign.solvers.base.Solver.setting`): one definition.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign.errors import check_choice, check_float, check_int, suggest

INITS = ("random", "small", "spectral")

_GD = {"step": float, "armijo": bool, "c": float, "shrink": float, "grow": float, "max_backtracks": int}

#: setting name -> ``float``, ``int``, ``bool`` or a tuple of allowed strings, per method
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "gd": _GD,
    "perturbed-gd": {"step": float, "rule": ("jin", "noise"), "g_thres": float, "radius": float, "t_thres": int,
                     "f_thres": float, "threshold": float, "sigma": float},
    "projected-gd": _GD,
    "subgradient": {"step": float, "q": float, "schedule": ("geometric", "polyak"), "f_star": float, "ftol": float,
                    "final": ("last", "best")},
    "scaled-gd": {"step": float, "damping": float},
    "prec-gd": {"step": float, "damping_scale": float},
    "trust-region": {"radius": float, "max_radius": float, "eta": float, "kappa": float, "theta": float,
                     "cg_max_iter": int, "lanczos_steps": int, "curvature_tol": float},
    "convex": {"mode": ("trace", "loss"), "trace_weight": float, "solver": ("auto", "clarabel", "scs"),
               "max_dim": int, "feas_tol": float, "rank_tol": float, "verbose": bool},
}


#: the convex baseline's default size limit, ``max(d1, d2) <= max_dim`` (an SDP with ``O(n^2)`` variables)
CONVEX_MAX_DIM = 30


def check_convex_size(d1: int, d2: int, max_dim: int = CONVEX_MAX_DIM) -> None:
    """The convex baseline's size limit (``ValueError`` naming both numbers); checkable before anything is built."""
    if max(d1, d2) > max_dim:
        raise ValueError(f"the convex baseline is for small problems: max(d1, d2) = {max(d1, d2)} exceeds "
                         f"max_dim = {max_dim} (an SDP with O(n^2) variables); pass max_dim=... to try anyway "
                         f"(CLI: --opt max_dim=...)")


_POSITIVE = {"lo": 0.0, "lo_open": True}
_NONNEGATIVE = {"lo": 0.0}
_AT_LEAST_ONE = {"minimum": 1}
_GD_BOUNDS = {"step": _POSITIVE, "c": {"lo": 0.0, "hi": 1.0, "lo_open": True, "hi_open": True},
              "shrink": {"lo": 0.0, "hi": 1.0, "lo_open": True, "hi_open": True}, "grow": {"lo": 1.0},
              "max_backtracks": _AT_LEAST_ONE}

#: the range of every numeric setting: keywords of :func:`benign.errors.check_float` (every float setting is also
#: finite) or :func:`benign.errors.check_int`, per method
METHOD_BOUNDS: dict[str, dict[str, dict[str, Any]]] = {
    "gd": _GD_BOUNDS,
    "perturbed-gd": {"step": _POSITIVE, "g_thres": _NONNEGATIVE, "radius": _NONNEGATIVE, "t_thres": _AT_LEAST_ONE,
                     "f_thres": _NONNEGATIVE, "threshold": _NONNEGATIVE, "sigma": _NONNEGATIVE},
    "projected-gd": _GD_BOUNDS,
    "subgradient": {"step": _POSITIVE, "q": {"lo": 0.0, "hi": 1.0, "lo_open": True}, "f_star": {},
                    "ftol": _NONNEGATIVE},
    "scaled-gd": {"step": _POSITIVE, "damping": _NONNEGATIVE},
    "prec-gd": {"step": _POSITIVE, "damping_scale": _NONNEGATIVE},
    "trust-region": {"radius": _POSITIVE, "max_radius": _POSITIVE, "eta": {"lo": 0.0, "hi": 0.25, "hi_open": True},
                     "kappa": {"lo": 0.0, "hi": 1.0, "lo_open": True}, "theta": _NONNEGATIVE,
                     "cg_max_iter": _AT_LEAST_ONE, "lanczos_steps": _AT_LEAST_ONE, "curvature_tol": _NONNEGATIVE},
    "convex": {"trace_weight": _NONNEGATIVE, "max_dim": _AT_LEAST_ONE, "feas_tol": _POSITIVE,
               "rank_tol": _POSITIVE},
}


def check_setting(method: str, name: str, value: Any) -> float | int:
    """The numeric setting ``name`` of ``method`` as a float or int in its range (:data:`METHOD_BOUNDS`), or a
    ``ValueError``/``TypeError`` naming it and the value."""
    bounds = METHOD_BOUNDS[method][name]
    if METHOD_OPTIONS[method][name] is int:
        return check_int(name, value, **bounds)
    return check_float(name, value, **bounds)


def check_method_options(method: str, options: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """Names and value types of the settings of ``method``: an unknown name or choice is a ``ValueError``, a value
    of the wrong type a ``TypeError``, both naming the setting and the value. Numbers may be Python or NumPy
    scalars (an integer setting also takes a whole float, as ``check_int``), booleans must be booleans (a string is
    refused), choices are strings from the list; ``None`` is accepted for the names in ``optional`` (settings whose
    default is ``None``: "problem-dependent")."""
    table = METHOD_OPTIONS[check_choice("method", method, METHOD_OPTIONS)]
    for key, value in options.items():
        if key not in table:
            raise ValueError(f"unknown setting {key!r} for method {method!r}{suggest(key, table)}; "
                             f"settings: {', '.join(table)}")
        if value is None and key in optional:
            continue
        kind = table[key]
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        if isinstance(kind, tuple):
            if isinstance(value, str) and value not in kind:
                raise ValueError(f"setting {key}={value!r} of method {method!r}: expected one of "
                                 f"{', '.join(kind)}{suggest(value, kind)}")
            ok, want = isinstance(value, str), "one of " + ", ".join(kind)
        elif kind is bool:
            ok, want = isinstance(value, (bool, np.bool_)), "true or false"
        elif kind is int:
            ok, want = number and bool(np.isfinite(float(value))) and float(value) == int(value), "an integer"
        else:
            ok, want = number, "a number"
        if not ok:
            raise TypeError(f"setting {key}={value!r} of method {method!r}: expected {want}")
        if kind in (int, float):
            try:
                check_setting(method, key, value)
            except ValueError as exc:
                raise ValueError(f"setting {key} of method {method!r}: {exc}") from None
    if method in RULE_SETTINGS:  # a setting of another rule, away from its default, would be silently unused
        selector, default, rules = RULE_SETTINGS[method]
        rule = options.get(selector)
        rule = default if rule is None else rule
        for key, value in options.items():
            for other, defaults in rules.items():
                if other != rule and key in defaults and value is not None and value != defaults[key]:
                    mine = ", ".join(rules[rule]) or "none of its own"
                    raise ValueError(f"setting {key}={value!r} of method {method!r} belongs to {selector}={other!r}; "
                                     f"this run uses {selector}={rule!r} (its settings: {mine})")
    if method in CROSS_CHECKS:  # rules between settings (a problem-dependent default is checked when resolved)
        CROSS_CHECKS[method](options)
    return options


def check_radii(radius: Any, max_radius: Any) -> None:
    """The trust region's ``max_radius >= radius`` (either ``None``: not known yet, nothing to check)."""
    if radius is not None and max_radius is not None and max_radius < radius:
        raise ValueError(f"max_radius must be >= radius, got {max_radius} < {radius}")


def _check_f_star(options: dict[str, Any]) -> None:
    """The subgradient method reads ``f_star`` in Polyak steps and in the ``ftol`` rule, nowhere else."""
    f_star, schedule = options.get("f_star"), options.get("schedule") or "geometric"
    if f_star is not None and f_star != 0.0 and schedule != "polyak" and options.get("ftol") is None:
        raise ValueError(f"setting f_star={f_star!r} of method 'subgradient' is read by schedule='polyak' and by "
                         f"the ftol rule only; this run uses schedule={schedule!r} without ftol")


#: rules between the settings of one method, checked with the settings given (:func:`check_method_options`)
CROSS_CHECKS: dict[str, Any] = {
    "trust-region": lambda options: check_radii(options.get("radius"), options.get("max_radius")),
    "subgradient": _check_f_star,
}


_ARMIJO = ("armijo", False, {True: {"c": 1e-4, "shrink": 0.5, "grow": 2.0, "max_backtracks": 60}, False: {}})

#: settings that only one rule of a method reads, with their defaults: ``method -> (selector, its default, {rule:
#: {setting: default}})`` (a result's ``options`` lists every setting, so another rule's defaults pass; tested
#: against the solver classes)
RULE_SETTINGS: dict[str, tuple[str, Any, dict[Any, dict[str, Any]]]] = {
    "perturbed-gd": ("rule", "jin", {"jin": {"g_thres": None, "radius": None, "t_thres": 200, "f_thres": None},
                                     "noise": {"threshold": 1e-3, "sigma": 1e-3}}),
    "gd": _ARMIJO,
    "projected-gd": _ARMIJO,
    # (step is not listed: every run resolves it, so a Polyak result lists one, and re-running from a result's
    # options must pass)
    "subgradient": ("schedule", "geometric", {"geometric": {"q": 0.98}, "polyak": {}}),
}


#: most history records a run keeps (4 float64 rows: 128 MiB after rounding up to a power of two)
MAX_HISTORY = 1 << 22


#: the loop's own settings (:func:`benign.solvers.solve` keywords, not method options) and their ranges; ``None``
#: means "the default" for ``max_iter``, ``gtol`` (the method's) and ``rtol`` (off)
LOOP_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "max_iter": ("int", {"minimum": 0}), "rtol": ("float", {"lo": 0.0}),
    # (gtol is relative to the start's gradient: 1 or more passes at iteration 0)
    "gtol": ("float", {"lo": 0.0, "hi": 1.0, "hi_open": True}),
    "history_every": ("int", {"minimum": 1}), "stall_window": ("int", {"minimum": 0}),
    "stall_rtol": ("float", {"lo": 0.0}), "diverge_factor": ("float", {"lo": 1.0, "lo_open": True}),
}
LOOP_OPTIONAL = ("max_iter", "gtol", "rtol")
#: :func:`benign.solvers.solve`'s defaults of the loop settings that have one
DEFAULT_STALL_WINDOW = 1000
DEFAULT_STALL_RTOL = 1e-9
DEFAULT_DIVERGE_FACTOR = 1e12
#: the start's and the loop's settings of :func:`benign.solvers.solve` with their defaults: the convex baseline has
#: no start and no iterations, and refuses any other value (:func:`convex_ignores`)
LOCAL_ONLY_DEFAULTS: dict[str, Any] = {
    "init": "random", "init_scale": None, "seed": 0, "max_iter": None, "gtol": None, "rtol": None,
    "history_every": 1, "stall_window": DEFAULT_STALL_WINDOW, "stall_rtol": DEFAULT_STALL_RTOL,
    "diverge_factor": DEFAULT_DIVERGE_FACTOR}


def convex_ignores(given: dict[str, Any]) -> list[str]:
    """The names in ``given`` (a subset of :data:`LOCAL_ONLY_DEFAULTS`' names, with values) whose value is not the
    default: the settings the convex baseline would ignore, in the order given."""
    return [name for name, value in given.items() if value != LOCAL_ONLY_DEFAULTS[name]]


def check_spectral_scale(init: str, init_scale: Any, label: str = "init_scale") -> None:
    """``init_scale`` is the scale of the random and small starts: given with ``init="spectral"`` (whose scale is
    fitted) it would be ignored, so it is refused (``ValueError`` naming it as ``label``)."""
    if init == "spectral" and init_scale is not None:
        raise ValueError(f"{label} applies to the random and small starts: the spectral start has its own scale")


def check_loop_setting(name: str, value: Any, label: str | None = None) -> Any:
    """A loop setting checked against :data:`LOOP_SETTINGS` (``None`` passes for :data:`LOOP_OPTIONAL` only);
    ``label`` names it in the error (default ``name``)."""
    if value is None and name in LOOP_OPTIONAL:
        return None
    kind, bounds = LOOP_SETTINGS[name]
    return (check_int if kind == "int" else check_float)(label or name, value, **bounds)
