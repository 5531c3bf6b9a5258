"""``benign reproduce``: the source papers' tables and figures, as Markdown reports."""
from __future__ import annotations

import os
import sys
import time
from typing import Optional

import typer

from benign.cli._common import Command, JSON_OPT, UserError, app, emit, output_path

STUDY_NAMES = ("high-order-loss", "nonnegative", "robust-l1", "all", "list")


@app.command(cls=Command)
def reproduce(
    study: str = typer.Argument(..., help="high-order-loss | nonnegative | robust-l1 | all | list (what each "
                                "study reproduces)"),
    out: str = typer.Option("reproduce-output", "--out", help="Output folder (one sub-folder per study)."),
    quick: bool = typer.Option(False, "--quick", metavar="",
                               help="Smaller grids and fewer seeds (a few minutes in all)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Local worker processes (Dask LocalCluster; "
                                          "0 or 1, the default: in this process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler."),
    as_json: bool = JSON_OPT,
) -> None:
    """Regenerate the source papers' results: report.md + figures + results.json per study (resumable)."""
    from benign.errors import suggest

    if study not in STUDY_NAMES:
        raise UserError(f"unknown study {study!r}{suggest(study, STUDY_NAMES)}; choose from {', '.join(STUDY_NAMES)}")
    if study == "list":
        given = [name for name, value in (("--out", out != "reproduce-output"), ("--quick", quick),
                                          ("--workers", workers is not None), ("--scheduler", scheduler is not None))
                 if value]
        if given:
            raise UserError(f"'reproduce list' runs nothing: {', '.join(given)} would be ignored")
        from benign.reproduce import TITLES

        emit(TITLES, as_json)
        return
    output_path(out, "--out", directory=True)
    from benign.experiments.runner import check_parallel

    try:  # before any study starts (its folder and results file are created at once)
        check_parallel(workers, scheduler, None, cli=True)
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc)) from None
    from benign.reproduce import STUDIES, run_study
    from benign.reproduce.common import RunOptions

    names = list(STUDIES) if study == "all" else [study]
    options = RunOptions(workers=workers, scheduler=scheduler, progress=None if not as_json else False)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        folder = os.path.join(out, name)
        if not as_json:
            print(f"[{name}] running{' (quick)' if quick else ''} -> {folder}", file=sys.stderr)
        summary = run_study(name, folder, quick=quick, options=options)
        seconds = time.perf_counter() - t0
        results[name] = {"report": os.path.join(folder, "report.md"), "seconds": seconds,
                         "headline": _headline(name, summary)}
        if not as_json:
            print(f"[{name}] done in {seconds:.0f} s: {results[name]['headline']}", file=sys.stderr)
    emit(results, as_json, human=_reports)


def _reports(results: dict) -> None:
    """Human output: one line per study with its report (the headlines are already on stderr)."""
    for name, r in results.items():
        print(f"{name}: {r['report']} ({r['seconds']:.0f} s)")


def _headline(name: str, s: dict) -> str:
    if name == "high-order-loss":
        return (f"Hessian table max |difference| to published = {s['table_max_abs_difference']:.4f}; "
                f"theorem bounds violated at {s['theorems']['violations']} of {s['theorems']['applied']} points")
    if name == "robust-l1":
        return f"{s['instances']} instances certified, {s['strict_saddles']} strict saddles at the truth"
    if name == "nonnegative":
        return s.get("headline", "")
    return ""
