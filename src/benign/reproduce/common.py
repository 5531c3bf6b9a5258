"""Running a study's trials through the sweep engine, so every reproduction is resumable and can use
``--workers`` / ``--scheduler`` (each study keeps its results file ``<study>.db`` in its output folder)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunOptions:
    """How to execute a study's trials: in-process (default), ``workers`` local processes, or a Dask
    ``scheduler`` address; ``progress`` shows a bar on stderr."""

    workers: int | None = None
    scheduler: str | None = None
    progress: bool | None = None


def run_trials(out_dir: str, name: str, trial: str, grid: dict[str, Any], seeds: Any, template: dict | None = None,
               options: RunOptions = RunOptions()):
    """Run (or resume) the sweep ``name`` with trial function ``trial`` (``"module:function"``) over ``grid`` and
    ``seeds``; returns the results as a pandas DataFrame (one row per trial, in sweep order).

    Raises ``RuntimeError`` naming the first failure if any trial failed: a report is never written from partial
    results.
    """
    from benign.experiments import load_results, run_sweep

    os.makedirs(out_dir, exist_ok=True)
    spec = {"sweep": {"name": name, "trial": trial, "seeds": seeds, "batch": False,
                      "db": os.path.join(os.path.abspath(out_dir), f"{name}.db")},
            "grid": grid, "trial": dict(template or {})}
    run_sweep(spec, workers=options.workers, scheduler=options.scheduler, progress=options.progress)
    df = load_results(spec)
    bad = df[df["status"] != "ok"]
    if len(bad):
        row = bad.iloc[0]
        raise RuntimeError(f"{len(bad)} trial(s) of {name} failed; first: {row['error_type']}: {row['error_message']}")
    return df
