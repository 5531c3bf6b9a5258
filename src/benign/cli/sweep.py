"""``benign sweep run|status|report|export``: declarative parameter sweeps (see docs/sweeps.md)."""
from __future__ import annotations

import os
from typing import Optional

import typer

from benign.cli._common import Command, Group, JSON_OPT, UserError, app, emit, output_path, stdout_console, tell

sweep_app = typer.Typer(cls=Group, help="Declarative parameter sweeps: run (resumable), status, report, export.",
                        no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")

SPEC_ARG = typer.Argument(..., help="Sweep spec file (TOML); see docs/sweeps.md.")
DB_OPT = typer.Option(None, "--db", help="Results file (SQLite); default: the db key of the sweep table, "
                      "else SPEC.db.")


def _spec(path: str, db: Optional[str], *, writing: bool = False, reading: bool = False):
    """The spec, validated. As soon as the results file's path is known, before the trials' slower checks (they load
    JAX): a file that is not a results file is refused, with ``writing`` one that cannot be written (nor its
    folder: SQLite writes its journal beside it), and with ``reading`` a results file that does not exist."""
    output_path(db, "--db")
    from benign.experiments.spec import load_spec

    def check_db(path_db: str) -> None:
        from benign.experiments.store import check_results_file

        label = "--db" if db is not None else "the results file ([sweep] db, default SPEC.db)"
        try:  # another program's file, refused before the spec's slower checks (the message names that file)
            check_results_file(path_db)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if reading and not os.path.exists(path_db):
            raise UserError(f"no results stored: there is no results file at {path_db!r} (run the sweep first, or "
                            f"--db names another file)")
        if not writing:
            return
        output_path(path_db, label)
        if os.path.isdir(os.path.dirname(path_db)):
            output_path(os.path.dirname(path_db), f"the folder of {label}", directory=True)

    try:
        return load_spec(path, db=db, check_db=check_db)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path}: {exc}") from None


@sweep_app.command("run", cls=Command)
def run(
    spec: str = SPEC_ARG,
    workers: int = typer.Option(0, "--workers", "-w", min=0,
                                help="Processes of an embedded Dask LocalCluster (0 or 1: in this process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, "
                                            "e.g. tcp://127.0.0.1:8786."),
    db: Optional[str] = DB_OPT,
    retry_failed: bool = typer.Option(False, "--retry-failed", metavar="", help="Re-run trials that failed before."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0, help="Run at most this many pending trials."),
    batch: Optional[str] = typer.Option(None, "--batch", help="Override the spec's batching: on, off, map, vmap."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Units run at once in this process "
                                          "(default on the CPU: usable CPUs + 1, at most 4, when every trial is "
                                          "thread-safe, e.g. solve without certify or convex; else 1)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Run every trial of SPEC not yet stored (a killed sweep resumes where it stopped)."""
    import sys

    choices = {"on": True, "off": False, "map": "map", "vmap": "vmap", None: None}
    if batch not in choices:
        raise UserError(f"--batch must be one of on, off, map, vmap, got {batch!r}")
    from benign.experiments.runner import check_parallel, run_sweep

    try:  # before the spec is read or Dask imported
        check_parallel(workers, scheduler, threads, cli=True)
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc)) from None
    sp = _spec(spec, db, writing=True)

    summary = run_sweep(sp, workers=workers, scheduler=scheduler, retry_failed=retry_failed,
                        progress=False if as_json else (True if sys.stderr.isatty() else "lines"), limit=limit,
                        batch=choices[batch],
                        threads=threads)
    if summary["stored_failed"]:
        tell(f"{summary['stored_failed']} trial(s) of this spec have a stored failure (benign sweep status shows the "
             f"errors; --retry-failed runs them again)", as_json)
    emit(summary, as_json)


@sweep_app.command("status", cls=Command)
def status(
    spec: str = SPEC_ARG,
    db: Optional[str] = DB_OPT,
    max_failures: int = typer.Option(20, "--max-failures", min=0, help="Show at most this many failures."),
    as_json: bool = JSON_OPT,
) -> None:
    """Done/total and the failures (with their errors) of SPEC's trials."""
    sp = _spec(spec, db)
    from benign.experiments.results import sweep_status

    st = sweep_status(sp, max_failures=max_failures)
    emit(st, as_json, None if as_json else _print_status)


def _print_status(st: dict) -> None:
    c = stdout_console()
    c.print(f"[bold]{st['name']}[/bold]: {st['done']}/{st['total']} done ({100 * st['fraction_done']:.1f}%), "
            f"{st['ok']} ok, {st['failed']} failed, {st['pending']} pending  [dim]{st['db']}[/dim]")
    if not st["db_exists"]:
        c.print(f"  no store at {st['db']} yet: the sweep has not run there (or --db names another file)",
                markup=False, soft_wrap=True)
    for t, k in st["error_types"].items():
        c.print(f"  {t}: {k}")
    for f in st["failures"]:
        point = ", ".join(f"{k}={v}" for k, v in f["point"].items())
        c.print(f"  failed: seed={f['seed']} {point}: {f['error_type']}: {f['error_message']}", markup=False,
                style="red")


@sweep_app.command("report", cls=Command)
def report(
    spec: str = SPEC_ARG,
    out: str = typer.Option(..., "--out", "-o", help="Directory for report.md, aggregates.csv and figures."),
    db: Optional[str] = DB_OPT,
    pdf: bool = typer.Option(False, "--pdf", metavar="", help="Also write every figure as PDF."),
    as_json: bool = JSON_OPT,
) -> None:
    """Aggregates (Wilson intervals), figures and a Markdown summary of SPEC's stored results."""
    output_path(out, "--out", directory=True)
    sp = _spec(spec, db, reading=True)
    from benign.experiments.report import sweep_report

    res = sweep_report(sp, out, pdf=pdf)
    res = {"report": res["report"], "aggregates": res["aggregates"], "figures": res["figures"],
           "done": res["status"]["done"], "total": res["status"]["total"], "failed": res["status"]["failed"],
           "warnings": res["warnings"]}
    tell(res["warnings"], as_json, "warning")
    emit(res, as_json)


@sweep_app.command("export", cls=Command)
def export(
    spec: str = SPEC_ARG,
    out: str = typer.Option(..., "--out", "-o", help="Output file: .parquet or .csv."),
    db: Optional[str] = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write SPEC's results (one row per trial, metrics included) to Parquet or CSV."""
    output_path(out, "--out")
    if os.path.splitext(out)[1].lower() not in (".parquet", ".csv"):
        raise UserError(f"--out must end in .parquet or .csv, got {out!r}")
    sp = _spec(spec, db, reading=True)
    from benign.experiments.results import export_results

    res = export_results(sp, out)
    tell(res["warnings"], as_json, "warning")
    emit(res, as_json)
