"""Declarative sweep specs: a TOML file (or a dict of the same shape) -> a validated list of trials.

Layout (every table but ``[trial]`` optional)::

    [sweep]
    name = "gd_success"          # default: the file's stem
    trial = "solve"              # a registered trial kind or "package.module:function"
    seeds = 20                   # 20 -> seeds 0..19; or a list [0, 5, 9]; or {start = 100, count = 20}
    db = "gd_success.db"         # results file, relative to the spec file (default: <stem>.db beside it)
    where = "rank >= r_true"     # keep only the grid points where this holds
    batch = "auto"               # run the seeds of one grid point as one batch when the kind can: "auto" (= true),
                                 # false, or a strategy passed to the kind's batched function ("map", "vmap")
    batch_size = 64              # at most this many seeds per batch (one unit of work)

    [grid]                       # the Cartesian product of these, in this order
    n = 10                       # a constant
    rank = [1, 2, 3]             # a list
    m = {range = [20, 201, 20]}  # Python range: start, stop (excluded), step -- integers
    lam = {linspace = [0, 1, 5]} # start, stop (included), num; {geomspace = [...]} likewise; add int = true to round

    [trial]                      # parameters of the trial; strings may use {grid_key} and {seed} templates
    instance = "sensing:n={n},r=2,m={m},seed={seed}"
    method = "gd"
    options = {step = 0.05}

    [metrics]                    # derived columns, computed from the stored numbers when results are loaded
    success = "relative_error <= 1e-3"

    [report]                     # which grid keys the report puts on the axes (defaults: the varying keys)
    x = "m"
    y = "rank"

Templates: a string that is exactly ``"{key}"`` takes the grid value with its type (``rank = "{rank}"`` is the
integer); other strings are formatted with :meth:`str.format` (format specs such as ``{sigma:g}`` work). A grid key
whose name is a parameter of the trial kind sets that parameter directly (``rank = [1, 2]`` in ``[grid]``).

A trial is ``(grid point, seed)``; its ``params`` are the grid point merged with the resolved ``[trial]`` table.
Its key is the SHA-256 of ``(trial kind, params, seed, benign version)``: results are shared between specs that
ask for the same computation, and a new benign version recomputes.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import string
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from benign.errors import MAX_SEED, suggest
from benign.experiments.expr import Expr, check_names, compile_expr

TOP_KEYS = ("sweep", "grid", "trial", "metrics", "report")
SWEEP_KEYS = ("name", "trial", "seeds", "db", "where", "batch", "batch_size", "description")
REPORT_KEYS = ("x", "y", "hue", "metrics", "convergence")
HELPERS = ("linspace", "geomspace", "range")
BATCH_VALUES = (True, False, "auto", "map", "vmap")
RESERVED = ("seed", "key", "status", "trial", "sweep", "version", "n_trials", "n_failed")
#: the bookkeeping columns of the results table after the outputs and metrics (:func:`benign.experiments.load_results`)
TAIL = ("error_type", "error_message", "seconds", "batched", "worker", "finished", "key", "trial", "sweep",
        "version")
#: outputs named like these columns (or like a grid key) are ``<name>_out`` in the results table
OUTPUT_RENAMED = ("seed", "status") + TAIL


@dataclass(frozen=True)
class Trial:
    """One unit of computation: the grid ``point``, the resolved ``params`` given to the trial function, the
    ``seed``, its position ``index`` in the sweep and its store ``key``."""

    key: str
    index: int
    point: dict
    params: dict
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep; build with :func:`load_spec`. ``trials`` is the full list in sweep order."""

    name: str
    trial: str
    grid: dict
    template: dict
    seeds: tuple
    metrics: dict
    where: str | None
    batch: Any
    batch_size: int
    report: dict
    db: str
    source: str
    path: str | None
    description: str = ""
    trials: tuple = field(default=(), repr=False)

    @property
    def points(self) -> list[dict]:
        """The grid points (after ``where``), in sweep order."""
        seen: dict[str, dict] = {}
        for t in self.trials:
            seen.setdefault(_canon(t.point), t.point)
        return list(seen.values())

    @property
    def varying(self) -> list[str]:
        """Grid keys that take more than one value."""
        return [k for k, vals in self.grid.items() if len(vals) > 1]

    def compiled_metrics(self) -> dict[str, Expr]:
        return {name: compile_expr(text, f"metric {name!r}") for name, text in self.metrics.items()}

    def units(self) -> list[list[Trial]]:
        """The trials grouped into units of work: the seeds of one grid point, ``batch_size`` at a time."""
        return group_units(self.trials, self.batch_size)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "trial": self.trial, "db": self.db, "trials": len(self.trials),
                "grid_points": len(self.points), "seeds": len(self.seeds),
                "grid": {k: list(v) for k, v in self.grid.items()}, "metrics": dict(self.metrics)}


def group_units(trials: Any, batch_size: int) -> list[list[Trial]]:
    """Consecutive trials of the same grid point, at most ``batch_size`` per unit (order preserved)."""
    units: list[list[Trial]] = []
    for _, group in itertools.groupby(trials, key=lambda t: _canon(t.point)):
        group = list(group)
        for i in range(0, len(group), batch_size):
            units.append(group[i:i + batch_size])
    return units


# ---------------------------------------------------------------------------------------------- loading

def load_spec(source: Any, *, db: str | None = None, check_db: Callable[[str], Any] | None = None) -> SweepSpec:
    """A :class:`SweepSpec` from a TOML file path, a :class:`SweepSpec` (returned as is, ``db`` aside) or a dict
    with the TOML's shape. Everything is validated here, before any trial runs; errors are ``ValueError`` /
    ``TypeError`` naming the table, key and value at fault. ``check_db(path)`` is called with the results file's
    absolute path as soon as it is known, before the trials' slower checks (the CLI refuses an unwritable one there:
    at once, not after those checks have loaded JAX)."""
    if isinstance(source, SweepSpec):
        if db is not None:
            from dataclasses import replace

            source = replace(source, db=os.path.abspath(db))
        if check_db is not None:
            check_db(source.db)
        return source
    path = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            raise ValueError(f"sweep spec {path!r} is a folder, not a TOML spec file")
        if not os.path.isfile(path):
            raise ValueError(f"sweep spec file {path!r} does not exist")
        import tomllib

        with open(path, "rb") as fh:
            raw = fh.read()
        if raw.startswith(b"SQLite format 3\x00"):
            raise ValueError(f"{path!r} is a results file (SQLite), not a TOML spec: give the spec, and this file "
                             f"with --db if it is not the spec's default")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read sweep spec {path!r}: {exc}") from None
        text = raw.decode("utf-8")
    elif isinstance(source, Mapping):
        data = _plain(dict(source))
        text = json.dumps(data, sort_keys=True, default=str)
    else:
        raise TypeError(f"a sweep spec must be a TOML file path or a dict, got {type(source).__name__}")
    return _from_mapping(data, path, text, db, check_db)


def _from_mapping(data: dict, path: str | None, text: str, db: str | None,
                  check_db: Callable[[str], Any] | None = None) -> SweepSpec:
    from benign.experiments.trials import get_trial

    _check_keys(data, TOP_KEYS, "the spec")
    sweep = _table(data, "sweep")
    _check_keys(sweep, SWEEP_KEYS, "[sweep]")
    stem = os.path.splitext(os.path.basename(path))[0] if path else None
    name = sweep.get("name", stem or "sweep")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"[sweep] name must be a non-empty string, got {name!r}")
    trial_name = sweep.get("trial", "solve")
    if not isinstance(trial_name, str):
        raise TypeError(f"[sweep] trial must be a string, got {trial_name!r}")
    kind = get_trial(trial_name)  # raises naming the unknown kind
    seeds = _seeds(sweep.get("seeds", 1))
    batch = sweep.get("batch", "auto")
    if batch not in BATCH_VALUES:
        raise ValueError(f"[sweep] batch must be true, false, \"auto\", \"map\" or \"vmap\", got {batch!r}")
    batch_size = sweep.get("batch_size", 64)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"[sweep] batch_size must be an integer >= 1, got {batch_size!r}")
    description = sweep.get("description", "")
    if not isinstance(description, str):
        raise TypeError(f"[sweep] description must be a string, got {description!r}")

    grid = _grid(_table(data, "grid"))
    template = _table(data, "trial")  # may be absent when [grid] holds every parameter (required keys below)
    if kind.params is not None:
        _check_keys(template, tuple(kind.params), f"[trial] (kind {trial_name!r})")
        for key in kind.required:
            if key not in template and key not in grid:
                raise ValueError(f"[trial] (kind {trial_name!r}) needs {key} = ...")
    for key in grid:
        if key in template and not _is_self_template(template[key], key):
            raise ValueError(f"{key!r} is set in both [grid] and [trial]; keep one (or write {key} = \"{{{key}}}\")")
    for key in template:
        _check_recorded(kind, key, template, grid, f"[trial] {key}")
    used = _template_fields(template, set(grid) | {"seed"})
    if kind.params is not None:
        for key in grid:
            if key not in used and key not in kind.params:
                raise ValueError(f"grid key {key!r} is not used by [trial]: reference it in a template as "
                                 f"'{{{key}}}' (or make it a parameter of kind {trial_name!r}: "
                                 f"{', '.join(kind.params)})")

    where = sweep.get("where")
    where_expr = compile_expr(where, "[sweep] where", known=grid) if where is not None else None
    if where_expr is not None:
        _check_constant(where_expr, "[sweep] where")

    metrics = _table(data, "metrics")
    known = set(grid) | {"seed"} | set(template) | set(kind.params or ()) | set(kind.outputs or ())
    # an output the results table renames (clashing with a grid key or a bookkeeping column) is also <name>_out
    known |= {f"{o}_out" for o in kind.outputs or () if o in set(grid) | set(OUTPUT_RENAMED)}
    for mname, mtext in metrics.items():
        if not mname.isidentifier() or mname in RESERVED:
            raise ValueError(f"[metrics] name {mname!r} must be an identifier other than {', '.join(RESERVED)}")
        if mname in grid:
            raise ValueError(f"[metrics] name {mname!r} clashes with a grid key")
        if kind.outputs is not None and mname in kind.outputs:
            raise ValueError(f"[metrics] name {mname!r} clashes with an output of trial kind {trial_name!r}")
        what = f"[metrics] {mname}"
        expr = compile_expr(mtext, what)
        if kind.outputs is not None:  # (with unknown outputs a name may be an output of the same name)
            _check_metric_order(mname, expr, metrics, known)
            check_names(expr, known, what)
        _check_constant(expr, what)
        for used_name in sorted(expr.names):
            _check_recorded(kind, used_name, template, grid, what)
        known.add(mname)

    report = _report(_table(data, "report"), grid, metrics, kind, template)

    if db is None:
        if "db" in sweep:
            if not isinstance(sweep["db"], str):
                raise TypeError(f"[sweep] db must be a path string, got {sweep['db']!r}")
            base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
            db = os.path.join(base, sweep["db"])
        elif path:
            db = os.path.splitext(os.path.abspath(path))[0] + ".db"
        else:
            db = os.path.abspath(f"{name}.db")
    if check_db is not None:
        check_db(os.path.abspath(db))
    _check_size(grid, seeds)
    finish = getattr(kind.validate, "finish", None)  # the kind's deferred (slower) checks, after the fast ones
    if finish is not None:
        finish(False)  # nothing left over from validate calls outside a spec load (this spec's trials only)
    try:
        trials = _expand(trial_name, kind, grid, template, seeds, where_expr)
    except BaseException:
        if finish is not None:
            finish(False)
        raise
    if finish is not None:
        finish()
    if not trials:
        raise ValueError("the sweep has no trials: the [sweep] where filter removes every grid point")
    return SweepSpec(name=name, trial=trial_name, grid=grid, template=template, seeds=seeds, metrics=dict(metrics),
                     where=where, batch=batch, batch_size=batch_size, report=report, db=os.path.abspath(db),
                     source=text, path=os.path.abspath(path) if path else None, description=str(description),
                     trials=tuple(trials))


def _check_metric_order(name: str, expr: Expr, metrics: Mapping, known: set) -> None:
    """A metric may use the metrics above it only: one that reads a later one (or itself) is refused by name."""
    later = [n for n in sorted(expr.names) if n in metrics and n not in known and n != name]
    if later:
        raise ValueError(f"[metrics] {name} = {expr.text!r} uses {later[0]!r}, a metric defined after it: metrics "
                         f"are computed in the order they are written, so move {later[0]!r} above {name!r}")
    if name in expr.names and name not in known:
        raise ValueError(f"[metrics] {name} = {expr.text!r} uses itself")


def _check_constant(expr: Expr, what: str) -> None:
    """An expression without names has one value for every trial: evaluate it now, so that ``1/0`` or ``'a' + 1``
    is refused instead of giving NaN in every row."""
    if expr.names:
        return
    _, error = expr.evaluate({})
    if error is not None:
        raise ValueError(f"{what} = {expr.text!r} cannot be evaluated: {error}")


def _report(report: dict, grid: dict, metrics: Mapping, kind, template: Mapping | None = None) -> dict:
    """The validated ``[report]`` table: axes are distinct grid keys, ``metrics`` lists ``[metrics]`` names,
    ``convergence`` names a history the trial kind records (and, for a kind with a ``history`` parameter, one the
    trials are asked to keep)."""
    _check_keys(report, REPORT_KEYS, "[report]")
    for axis in ("x", "y", "hue"):
        if axis in report and report[axis] not in grid:
            raise ValueError(f"[report] {axis} = {report[axis]!r} is not a grid key{suggest(str(report[axis]), grid)}"
                             f"; grid keys: {', '.join(grid) or 'none'}")
    axes = [(a, report[a]) for a in ("x", "y", "hue") if a in report]
    for i, (a, v) in enumerate(axes):
        for b, w in axes[i + 1:]:
            if v == w and {a, b} != {"y", "hue"}:
                raise ValueError(f"[report] {a} and {b} are both {v!r}: the axes must be different grid keys")
    if "y" in report and "hue" in report and report["y"] != report["hue"]:
        raise ValueError(f"[report] y = {report['y']!r} and hue = {report['hue']!r}: hue is another name of y, "
                         f"give one of them")
    if "metrics" in report:
        chosen = report["metrics"]
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, list) or not all(isinstance(m, str) for m in chosen):
            raise TypeError(f"[report] metrics must be a list of [metrics] names, got {report['metrics']!r}")
        for m in chosen:
            if m not in metrics:
                raise ValueError(f"[report] metrics: {m!r} is not a [metrics] name{suggest(m, list(metrics))}; "
                                 f"defined: {', '.join(metrics) or 'none'}")
        report = {**report, "metrics": list(chosen)}
    if "convergence" in report:
        field = report["convergence"]
        histories = None if kind.outputs is None else [o[len("history_"):] for o in kind.outputs
                                                         if o.startswith("history_") and o != "history_iter"]
        if not isinstance(field, str):
            raise TypeError(f"[report] convergence must be a history name, got {field!r}")
        if histories is not None and field not in histories:
            raise ValueError(f"[report] convergence = {field!r} is not a history the trial records"
                             f"{suggest(field, histories)}; choose one of {', '.join(histories)}")
        _check_recorded(kind, f"history_{field}", template or {}, grid, f"[report] convergence = {field!r}")
    return report


def _check_recorded(kind, name: str, template: Mapping, grid: Mapping, what: str) -> None:
    """An output the kind records, or a parameter it reads, only when another parameter is set (``kind.requires``)
    needs that parameter: set (and not false or 0) in ``[trial]``, or a grid key."""
    param = kind.requires.get(name)
    if param is None or param in grid or template.get(param) not in (None, False, 0):
        return
    example = f"e.g. {param} = {'true' if param == 'certify' else 50}"
    if name in (kind.params or ()):
        raise ValueError(f"{what} has no effect unless {param} is set in [trial] ({example})")
    raise ValueError(f"{what} reads {name!r}, which {kind.name!r} trials record only with {param} set in [trial] "
                     f"({example})")


#: most trials (grid points x seeds, before the ``where`` filter) one spec may expand to
MAX_TRIALS = 2_000_000


def _check_size(grid: dict, seeds: tuple) -> None:
    points = math.prod(len(v) for v in grid.values())
    if points * len(seeds) > MAX_TRIALS:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in grid.items())
        raise ValueError(f"the sweep would have {points * len(seeds):,} trials ({sizes} x {len(seeds)} seeds, "
                         f"before any where filter), more than {MAX_TRIALS:,}: check the grid ranges, or split "
                         f"the study into several specs")


def _table(data: Mapping, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise TypeError(f"[{key}] must be a table, got {type(value).__name__} {value!r}")
    return dict(value)


def _check_keys(table: Mapping, valid: tuple, where: str) -> None:
    for key in table:
        if key not in valid:
            raise ValueError(f"unknown key {key!r} in {where}{suggest(key, valid)}; valid keys: {', '.join(valid)}")


def _seeds(value: Any) -> tuple[int, ...]:
    seeds = _seed_values(value)
    if max(seeds) > MAX_SEED:
        raise ValueError(f"[sweep] seeds must be at most 2**63 - 1 = {MAX_SEED}, got {max(seeds)}")
    return seeds


#: most seeds a sweep may list (each is at least one trial, stored as one row): the trial limit
MAX_SEEDS = 2_000_000


def _check_count(count: int) -> None:
    if count > MAX_SEEDS:
        raise ValueError(f"[sweep] {count} seeds is more than {MAX_SEEDS:,} (each one at least one trial)")


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays in a dict spec as the Python values a TOML file would give."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _seed_values(value: Any) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise TypeError(f"[sweep] seeds must be an integer, a list or {{start, count}}, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"[sweep] seeds must be >= 1, got {value}")
        _check_count(value)
        return tuple(range(value))
    if isinstance(value, Mapping):
        _check_keys(value, ("start", "count"), "[sweep] seeds")
        start, count = value.get("start", 0), value.get("count")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ValueError(f"[sweep] seeds.start must be an integer >= 0, got {start!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"[sweep] seeds.count must be an integer >= 1, got {count!r}")
        _check_count(count)
        return tuple(range(start, start + count))
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("[sweep] seeds must not be an empty list")
        for s in value:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"[sweep] seeds must be integers >= 0, got {s!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"[sweep] seeds has duplicates: {value!r}")
        return tuple(value)
    raise TypeError(f"[sweep] seeds must be an integer, a list or {{start, count}}, got {value!r}")


def _grid(table: Mapping) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for key, value in table.items():
        if not key.isidentifier():
            raise ValueError(f"grid key {key!r} must be an identifier (letters, digits, _)")
        if key in RESERVED:
            raise ValueError(f"grid key {key!r} is reserved ({', '.join(RESERVED)}); the seeds are set in [sweep]")
        vals = _grid_values(key, value)
        if not vals:
            raise ValueError(f"grid key {key!r} has no values")
        for v in vals:
            if isinstance(v, (dict, list, tuple)) or v is None:
                raise TypeError(f"grid {key!r} values must be numbers, strings or booleans, got {v!r}")
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"grid {key!r} has a non-finite value {v!r}")
        if len({json.dumps(v) for v in vals}) != len(vals):
            raise ValueError(f"grid {key!r} has duplicate values: {list(vals)!r}")
        seen: dict = {}  # 1, 1.0 and true: distinct in TOML, one value to the results table and the report
        for v in vals:
            if v in seen:
                raise ValueError(f"grid {key!r} has values that compare equal, {seen[v]!r} and {v!r}: the results "
                                 "table and the report could not tell their trials apart")
            seen[v] = v
        out[key] = tuple(vals)
    return out


#: most values one grid key may take (a helper is checked before its values are made)
MAX_AXIS = 100_000


def _check_axis(key: str, count: int) -> None:
    if count > MAX_AXIS:
        raise ValueError(f"grid {key!r} would have {count:,} values, more than {MAX_AXIS:,}: check its range")


def _grid_values(key: str, value: Any) -> list:
    if isinstance(value, list):
        _check_axis(key, len(value))
        return list(value)
    if not isinstance(value, Mapping):
        return [value]
    helper = [h for h in value if h in HELPERS]
    extra = [k for k in value if k not in HELPERS and k != "int"]
    if extra:
        raise ValueError(f"unknown key {extra[0]!r} in grid {key!r}{suggest(extra[0], HELPERS + ('int',))}; "
                         f"use one of {', '.join(HELPERS)} (and int = true to round)")
    if len(helper) != 1:
        raise ValueError(f"grid {key!r} needs exactly one of {', '.join(HELPERS)}, got {sorted(value)!r}")
    h = helper[0]
    args = value[h]
    as_int = value.get("int", False)
    if not isinstance(as_int, bool):
        raise TypeError(f"grid {key!r} int must be true or false, got {as_int!r}")
    if not isinstance(args, list) or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise TypeError(f"grid {key!r} {h} must be a list of numbers, got {args!r}")
    if h == "range":
        if not 1 <= len(args) <= 3 or not all(isinstance(a, int) for a in args):
            raise ValueError(f"grid {key!r} range takes 1 to 3 integers [start, stop, step], got {args!r}")
        if len(args) == 3 and args[2] == 0:
            raise ValueError(f"grid {key!r} range step must not be 0")
        _check_axis(key, len(range(*args)))
        return list(range(*args))
    if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
        raise ValueError(f"grid {key!r} {h} takes [start, stop, num] with an integer num >= 1, got {args!r}")
    _check_axis(key, args[2])
    a, b, num = float(args[0]), float(args[1]), args[2]
    if h == "linspace":
        vals = [a + (b - a) * i / (num - 1) for i in range(num)] if num > 1 else [a]
    else:
        if a <= 0 or b <= 0:
            raise ValueError(f"grid {key!r} geomspace needs positive endpoints, got {args!r}")
        vals = [a * (b / a) ** (i / (num - 1)) for i in range(num)] if num > 1 else [a]
        vals[-1] = b if num > 1 else a
    if as_int:
        vals = [int(round(v)) for v in vals]
        if len(set(vals)) != len(vals):
            raise ValueError(f"grid {key!r} {h} with int = true gives duplicate values {vals!r}; use fewer points")
    return vals


# ---------------------------------------------------------------------------------------------- templates

def _is_self_template(value: Any, key: str) -> bool:
    return isinstance(value, str) and value.strip() == "{" + key + "}"


def _fields(text: str, where: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"bad template {text!r} in {where}: {exc}") from None
    out = []
    for _, fname, _, _ in parsed:
        if fname is None:
            continue
        base = fname.split(".")[0].split("[")[0]
        if not base.isidentifier() or base != fname:
            raise ValueError(f"bad template field {{{fname}}} in {where}: use a plain grid key such as {{m}}")
        out.append(base)
    return out


def _template_fields(value: Any, known: set[str], where: str = "[trial]") -> set[str]:
    """Names used by every template in ``value`` (recursively); raise on unknown names."""
    used: set[str] = set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            used |= _template_fields(v, known, f"{where} {k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            used |= _template_fields(v, known, f"{where}[{i}]")
    elif isinstance(value, str):
        for f in _fields(value, where):
            if f not in known:
                raise ValueError(f"template {value!r} in {where} uses {{{f}}}, which is not a grid key"
                                 f"{suggest(f, known)}; available: {', '.join(sorted(known))}")
            used.add(f)
    return used


def resolve(value: Any, ctx: Mapping[str, Any]) -> Any:
    """Substitute ``{key}`` templates in ``value`` (recursively) from ``ctx``; ``"{key}"`` alone keeps the type."""
    if isinstance(value, Mapping):
        return {k: resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if isinstance(value, str) and "{" in value:
        s = value.strip()
        if s.startswith("{") and s.endswith("}") and s[1:-1].isidentifier():
            return ctx[s[1:-1]]
        return value.format(**ctx)
    return value


# ---------------------------------------------------------------------------------------------- expansion

def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def trial_key(trial: str, params: Mapping, seed: int, version: str | None = None) -> str:
    """The store key: SHA-256 (hex, 32 chars) of the canonical JSON of (trial kind, params, seed, version)."""
    if version is None:
        from benign import __version__ as version
    blob = _canon({"trial": trial, "params": params, "seed": int(seed), "version": version})
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _expand(trial_name: str, kind, grid: dict, template: dict, seeds: tuple,
            where: Expr | None) -> list[Trial]:
    from benign import __version__ as version

    keys = list(grid)
    trials: list[Trial] = []
    index = 0
    for combo in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, combo))
        if where is not None:
            ok, error = where.evaluate(point)
            if error is not None:
                raise ValueError(f"[sweep] where {where.text!r} cannot be evaluated at grid point {point}: {error}")
            if not isinstance(ok, bool) and ok is not None and not isinstance(ok, (int, float)):
                raise ValueError(f"[sweep] where {where.text!r} must give true/false, got {ok!r}")
            if isinstance(ok, float) and ok != ok:  # NaN is neither: the point is not silently kept (or dropped)
                raise ValueError(f"[sweep] where {where.text!r} gives NaN at grid point {point}, not true/false")
            if not ok:
                continue
        for seed in seeds:
            ctx = {**point, "seed": seed}
            try:
                params = {**point, **resolve(template, ctx)}
            except (KeyError, ValueError, IndexError) as exc:
                raise ValueError(f"cannot fill the [trial] templates for grid point {point}: {exc}") from None
            try:
                key = trial_key(trial_name, params, seed, version)
            except (TypeError, ValueError):
                raise ValueError(f"[trial] parameters for grid point {point} are not plain numbers/strings: "
                                 f"{params!r}") from None
            if kind.validate is not None:
                try:
                    kind.validate(params)
                except (ValueError, TypeError) as exc:
                    raise type(exc)(f"grid point {point}, seed {seed}: {exc}") from None
            trials.append(Trial(key, index, point, params, seed))
            index += 1
    return trials
