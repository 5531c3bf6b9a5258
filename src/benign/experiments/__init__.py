"""Experiments at scale: declarative sweeps, resumable SQLite storage, local/Dask execution, reports.

    from benign.experiments import run_sweep, sweep_status, sweep_report, load_results
    summary = run_sweep("examples/gd_success.toml", workers=2)
    df = load_results("examples/gd_success.toml")          # pandas DataFrame, one row per trial
    sweep_report("examples/gd_success.toml", out="report/")  # PNG figures + report.md + aggregates.csv

Custom trials: ``register_trial("name", fn)`` with ``fn(params: dict, seed: int) -> dict`` defined at module
level (workers import it by ``"module:function"``), or name the function in the spec as
``trial = "package.module:function"``. See ``docs/sweeps.md``.

Nothing heavy is imported here: JAX, Dask, pandas and matplotlib load when a function needs them.
"""
from __future__ import annotations

from benign.experiments.results import export_results, load_results, sweep_status
from benign.experiments.runner import execute_unit, run_sweep
from benign.experiments.spec import SweepSpec, Trial, load_spec, trial_key
from benign.experiments.trials import NotBatchable, TrialKind, get_trial, register_trial, trial_kinds


def sweep_report(spec, out, *, db=None, pdf=False):
    """Write figures, ``report.md`` and ``aggregates.csv`` for ``spec`` into ``out`` (see
    :func:`benign.experiments.report.sweep_report`)."""
    from benign.experiments.report import sweep_report as _report

    return _report(spec, out, db=db, pdf=pdf)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (see :func:`benign.experiments.report.wilson`)."""
    from benign.experiments.report import wilson as _wilson

    return _wilson(k, n, z)


__all__ = ["SweepSpec", "Trial", "TrialKind", "NotBatchable", "load_spec", "trial_key", "register_trial",
           "get_trial", "trial_kinds", "run_sweep", "execute_unit", "sweep_status", "sweep_report",
           "load_results", "export_results", "wilson"]
