"""Reading a sweep's results: :func:`load_results` (a pandas DataFrame), :func:`sweep_status`, exports.

Columns of :func:`load_results`: the grid keys, ``seed``, ``status`` (``ok``/``error``), every output of the
trial function, every ``[metrics]`` column (evaluated now, so changing a rule never needs a re-run), then
``error_type``, ``error_message``, ``seconds``, ``batched``, ``worker``, ``finished``, ``key``, ``trial``,
``sweep``, ``version``. An output whose name clashes with a grid key, a metric or one of these columns is
renamed ``<name>_out``.
Rows follow the spec's trial order (grid point, then seed); with a results file alone, the order of writing.
Failed trials have ``None`` outputs and ``None`` metrics. A metric whose expression raises on a trial is NaN there;
``df.attrs["metric_errors"]`` counts these per metric (with the first error) and :func:`metric_warnings` words them.
"""
from __future__ import annotations

import os
from typing import Any

from benign.atomic import atomic_path
from benign.experiments.spec import OUTPUT_RENAMED, TAIL, SweepSpec, load_spec
from benign.experiments.store import Store


def _is_spec(source: Any) -> bool:
    if isinstance(source, (SweepSpec, dict)):
        return True
    return isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".toml")


def load_results(source: Any, *, db: str | None = None, metrics: bool = True, include_pending: bool = False):
    """A DataFrame of a sweep's stored trials (see the module docstring).

    ``source``: a spec (TOML path, dict or :class:`SweepSpec`: only its trials, in its order, with its metrics)
    or a results file (every stored trial; grid columns from the stored points). ``include_pending`` adds one
    row per trial not yet run (``status = "pending"``) when ``source`` is a spec.
    """
    import pandas as pd

    if _is_spec(source):
        spec = load_spec(source, db=db)
        stored = {}
        if os.path.isfile(spec.db):  # nothing stored yet: no rows (reading never creates the results file)
            with Store(spec.db, create=False) as store:
                stored = {r["key"]: r for r in store.rows(t.key for t in spec.trials)}
        rows = []
        for t in spec.trials:
            r = stored.get(t.key)
            if r is None:
                if not include_pending:
                    continue
                r = {"key": t.key, "status": "pending", "point": t.point, "params": t.params, "seed": t.seed,
                     "trial": spec.trial, "sweep": spec.name, "result": None}
            rows.append(r)
        grid_keys = list(spec.grid)
        exprs = spec.compiled_metrics() if metrics else {}
    else:
        path = os.fspath(db or source)
        with Store(path, create=False) as store:
            rows = store.rows()
        grid_keys = []
        for r in rows:
            for k in r["point"]:
                if k not in grid_keys:
                    grid_keys.append(k)
        exprs = {}
    out_keys: list[str] = []
    for r in rows:
        for k in (r.get("result") or {}):
            if k not in out_keys:
                out_keys.append(k)
    taken = set(grid_keys) | set(exprs) | set(OUTPUT_RENAMED)
    rename = {k: (f"{k}_out" if k in taken else k) for k in out_keys}
    records = []
    errors: dict[str, dict[str, Any]] = {}  # metric -> {"rows": evaluated, "failed": raised, "first_error": text}
    for r in rows:
        res = r.get("result") or {}
        rec: dict[str, Any] = {k: r["point"].get(k) for k in grid_keys}
        rec["seed"] = r["seed"]
        rec["status"] = r["status"]
        for k in out_keys:
            rec[rename[k]] = res.get(k)
        if exprs:
            env = metric_names(r["params"], r["point"], r["seed"], res, rename)
            for name, ex in exprs.items():
                val, err = ex.evaluate(env) if r["status"] == "ok" else (None, None)
                if r["status"] == "ok":
                    e = errors.setdefault(name, {"rows": 0, "failed": 0, "first_error": None})
                    e["rows"] += 1
                    if err is not None:
                        e["failed"] += 1
                        e["first_error"] = e["first_error"] or err
                rec[name] = val
                env[name] = val
        for k in TAIL:
            rec[k] = r.get(k)
        records.append(rec)
    columns = grid_keys + ["seed", "status"] + [rename[k] for k in out_keys] + list(exprs) + list(TAIL)
    df = pd.DataFrame.from_records(records, columns=columns)
    df.attrs["metric_errors"] = {k: v for k, v in errors.items() if v["failed"]}
    return df


def metric_names(params: dict, point: dict, seed: int, result: dict, rename: dict) -> dict[str, Any]:
    """The names a ``[metrics]`` expression sees on one trial, meaning what the results table's columns mean: a
    grid key and ``seed`` are the trial's own (an output of the same name is ``<name>_out``, as in the table); the
    other outputs keep their names (``status`` is the trial's output: metrics see only trials that ran), and an
    output the table renames is also there as ``<name>_out``; then the trial's other (scalar) parameters."""
    env = {k: v for k, v in params.items() if not isinstance(v, (dict, list))}
    own = {**point, "seed": seed}
    for k, v in result.items():
        if k not in own:
            env[k] = v
        if rename.get(k, k) != k:
            env[rename[k]] = v
    env.update(own)
    return env


def metric_warnings(df) -> list[str]:
    """One line per ``[metrics]`` expression that raised on some of the trials :func:`load_results` evaluated it on
    (its value is NaN there), with the count and the first error."""
    return [f"metric {name!r} could not be evaluated on {e['failed']} of {e['rows']} trials ({e['first_error']}); "
            f"its value is NaN there" for name, e in df.attrs.get("metric_errors", {}).items()]


def export_results(source: Any, out: str, *, db: str | None = None) -> dict[str, Any]:
    """Write :func:`load_results` to ``out`` (``.parquet`` or ``.csv``); returns ``{"path", "rows", "format",
    "warnings"}`` (:func:`metric_warnings`). Nothing stored is a ``ValueError``, as for the report.

    In Parquet, list-valued outputs (histories) are list columns; in CSV they are JSON text."""
    import json

    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a file path, got {type(out).__name__}")
    out = os.fspath(out)
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".parquet", ".csv"):
        raise ValueError(f"export file must end in .parquet or .csv, got {out!r}")
    df = load_results(source, db=db)
    if df.empty:
        if _is_spec(source):
            spec = load_spec(source, db=db)
            raise ValueError(f"no results stored for sweep {spec.name!r} in {spec.db!r}: nothing to export (run the "
                             f"sweep first)")
        raise ValueError(f"no results stored in {os.fspath(db or source)!r}: nothing to export (run the sweep first)")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if ext == ".csv":
        df = df.copy()
        for col in df.columns:
            if df[col].map(lambda v: isinstance(v, list)).any():
                df[col] = df[col].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
        with atomic_path(out) as tmp:
            df.to_csv(tmp, index=False)
    else:
        for col in df.columns:  # mixed None/bool object columns -> nullable booleans for Arrow
            vals = df[col].dropna()
            if df[col].dtype == object and len(vals) and all(isinstance(v, bool) for v in vals):
                df[col] = df[col].astype("boolean")
        with atomic_path(out) as tmp:
            df.to_parquet(tmp, index=False)
    return {"path": out, "rows": int(len(df)), "format": ext[1:], "warnings": metric_warnings(df)}


def sweep_status(spec: Any, *, db: str | None = None, max_failures: int = 20) -> dict[str, Any]:
    """Progress of a sweep: ``total``, ``done`` (stored, ok or failed), ``ok``, ``failed``, ``pending``,
    ``fraction_done``, ``db``, ``db_exists`` (False: no store there yet -- the sweep has not run, or ``db`` names
    another file), and ``failures``: up to ``max_failures`` of ``{seed, point, error_type, error_message,
    traceback}``; ``error_types`` counts every failure by exception type."""
    spec = load_spec(spec, db=db)
    exists = os.path.isfile(spec.db)
    if exists:
        with Store(spec.db) as store:
            stored = store.statuses(t.key for t in spec.trials)
            failed_keys = [t.key for t in spec.trials if stored.get(t.key) == "error"]  # in sweep order
            failed_rows = store.rows(failed_keys[:max_failures]) if failed_keys else []
            order = {k: i for i, k in enumerate(failed_keys)}
            failed_rows.sort(key=lambda r: order[r["key"]])
            all_failed = store.rows(failed_keys) if len(failed_keys) > max_failures else failed_rows
    else:
        stored, failed_keys, failed_rows, all_failed = {}, [], [], []
    ok = sum(1 for s in stored.values() if s == "ok")
    types: dict[str, int] = {}
    for r in all_failed:
        types[r["error_type"]] = types.get(r["error_type"], 0) + 1
    total = len(spec.trials)
    return {"name": spec.name, "db": spec.db, "db_exists": exists, "total": total, "done": len(stored), "ok": ok,
            "failed": len(failed_keys), "pending": total - len(stored),
            "fraction_done": len(stored) / total if total else 1.0, "error_types": types,
            "failures": [{"seed": r["seed"], "point": r["point"], "error_type": r["error_type"],
                          "error_message": r["error_message"], "traceback": r["traceback"]} for r in failed_rows]}
