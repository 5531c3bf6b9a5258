"""The local methods' names, starts and settings, checkable without importing JAX.

The names of the starts and of the string choices are defined here and imported by the solver modules; the
settings' names mirror the solver classes' fields (``tests/test_solver_options.py`` checks that they agree, field by
field). A misspelt method, setting or value is reported at once -- by the command line before JAX loads, and by
:func:`benign.solvers.make_solver` (``solve(..., armijo="false")`` is refused, not read as a true string). Ranges
(``step > 0`` and the like) are checked by the classes themselves.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign.errors import check_choice, suggest

INITS = ("random", "small", "spectral")

_GD = {"step": float, "armijo": bool, "c": float, "shrink": float, "grow": float, "max_backtracks": int}

#: setting name -> ``float``, ``int``, ``bool`` or a tuple of allowed strings, per method
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "gd": _GD,
    "perturbed-gd": {"step": float, "rule": ("jin", "noise"), "g_thres": float, "radius": float, "t_thres": int,
                     "f_thres": float, "threshold": float, "sigma": float},
    "projected-gd": _GD,
    "subgradient": {"step": float, "q": float, "schedule": ("geometric", "polyak"), "f_star": float, "ftol": float},
    "scaled-gd": {"step": float, "damping": float},
    "prec-gd": {"step": float, "damping_scale": float},
    "trust-region": {"radius": float, "max_radius": float, "eta": float, "kappa": float, "theta": float,
                     "cg_max_iter": int, "lanczos_steps": int, "curvature_tol": float},
    "convex": {"mode": ("trace", "loss"), "trace_weight": float, "solver": ("auto", "clarabel", "scs"),
               "max_dim": int, "feas_tol": float, "rank_tol": float, "verbose": bool},
}


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
    return options
