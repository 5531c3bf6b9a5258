"""Aggregates with Wilson intervals, and the sweep report (figures + ``report.md`` + ``aggregates.csv``).

Per grid point (failed trials excluded from everything but the count ``n_failed``; ``n_trials`` ran fine):

* every boolean ``[metrics]`` column ``M``: ``M_k`` successes of ``M_n`` decided trials (``None`` values, e.g. a
  rule on a missing output, are not counted), ``M_p = k/n`` and the 95% Wilson score interval
  ``[M_lo, M_hi]``: ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, ``z = 1.959964``;
* every numeric output or metric ``Y``: ``Y_median`` (NaN ignored);
* a ``verdict`` output: ``verdict_<name>`` fractions of certified trials.

Figures (PNG, and PDF with ``pdf=True``): success-probability curves against the x key (one curve per y value,
Wilson bands), phase-transition heatmaps over (x, y), median convergence curves (when histories were kept), and
certificate-verdict fractions. With more varying keys than x and y, one figure per value of the others.
"""
from __future__ import annotations

import itertools
import math
import os
import re
from typing import Any

import numpy as np

from benign.atomic import atomic_path
from benign.experiments.results import load_results, metric_warnings, sweep_status
from benign.experiments.spec import load_spec

Z95 = 1.959963984540054
MAX_FACETS = 12


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes in ``n`` trials (``(nan, nan)`` when ``n = 0``)."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k = {k}, n = {n}")
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # the closed ends exactly: with k = 0 (k = n) the bound is 0 (1), which the formula leaves with ~1e-17 of rounding
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


def _kinds(df, names: list[str]) -> tuple[list[str], list[str]]:
    """Split columns into boolean and numeric (lists and strings are neither)."""
    boolean, numeric = [], []
    for c in names:
        vals = [v for v in df[c].tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
        if not vals:
            continue
        if all(isinstance(v, (bool, np.bool_)) for v in vals):
            boolean.append(c)
        elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in vals):
            numeric.append(c)
    return boolean, numeric


def aggregate(df, group_keys: list[str], metric_names: list[str], output_names: list[str]):
    """One row per grid point: ``n_trials`` (trials that ran without error), ``n_failed``, then the columns described in
    the module docstring. ``df`` is :func:`~benign.experiments.results.load_results` output."""
    import pandas as pd

    ok = df[df["status"] == "ok"]
    bool_metrics, num_metrics = _kinds(ok, metric_names)
    _, num_outputs = _kinds(ok, [c for c in output_names if c not in ("seed",)])
    verdicts = sorted({v for v in ok["verdict"].dropna().tolist()}) if "verdict" in ok.columns else []
    rows = []
    groups = df.groupby(group_keys, sort=False, dropna=False) if group_keys else [((), df)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        gok = g[g["status"] == "ok"]
        row: dict[str, Any] = dict(zip(group_keys, key))
        row["n_trials"] = int(len(gok))
        row["n_failed"] = int((g["status"] == "error").sum())
        for m in bool_metrics:
            vals = [bool(v) for v in gok[m].tolist() if v is not None and not (isinstance(v, float) and v != v)]
            k, n = int(sum(vals)), len(vals)
            lo, hi = wilson(k, n)
            row.update({f"{m}_k": k, f"{m}_n": n, f"{m}_p": k / n if n else float("nan"), f"{m}_lo": lo,
                        f"{m}_hi": hi})
        for c in num_outputs + num_metrics:
            vals = pd.to_numeric(gok[c], errors="coerce").to_numpy(dtype=float)
            vals = vals[~np.isnan(vals)]
            row[f"{c}_median"] = float(np.median(vals)) if vals.size else float("nan")
        if verdicts:
            vs = gok["verdict"].dropna().tolist()
            for v in verdicts:
                row[f"verdict_{v}"] = vs.count(v) / len(vs) if vs else float("nan")
        rows.append(row)
    return pd.DataFrame(rows), bool_metrics, verdicts


def _axes(spec) -> tuple[str | None, str | None, list[str]]:
    varying = spec.varying
    x = spec.report.get("x") or (varying[0] if varying else None)
    rest = [k for k in varying if k != x]
    y = spec.report.get("y") or spec.report.get("hue") or (rest[0] if rest else None)
    facets = [k for k in varying if k not in (x, y)]
    return x, y, facets


def _label(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def sweep_report(spec: Any, out: str, *, db: str | None = None, pdf: bool = False) -> dict[str, Any]:
    """Write the report of ``spec``'s stored results into directory ``out``; returns ``{"report": path,
    "aggregates": path, "figures": [paths], "status": sweep_status(...), "warnings": [lines]}``. The warnings (also
    in ``report.md``) name every metric that raised on some trials, or has no usable value at all. Figures are
    drawn for the boolean metrics, or for those ``[report] metrics`` lists."""
    from benign import plots
    from benign.reproduce.report import Report

    spec = load_spec(spec, db=db)
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a directory path, got {type(out).__name__}")
    out = os.fspath(out)
    status = sweep_status(spec)
    if status["done"] == 0:  # before reading results (pandas) or drawing anything (matplotlib)
        raise ValueError(f"no results stored for sweep {spec.name!r} in {spec.db!r}: run it first")
    df = load_results(spec)
    group_keys = list(spec.grid)
    meta_cols = set(group_keys) | {"seed", "status"} | set(spec.metrics) | {
        "error_type", "error_message", "seconds", "batched", "worker", "finished", "key", "trial", "sweep",
        "version"}
    outputs = [c for c in df.columns if c not in meta_cols]
    agg, bool_metrics, verdicts = aggregate(df, group_keys, list(spec.metrics), outputs + ["seconds"])
    warnings = metric_warnings(df)
    num_metrics = [m for m in spec.metrics if f"{m}_median" in agg.columns]  # aggregate's numeric metrics
    for m in spec.metrics:
        if status["ok"] and m not in bool_metrics and m not in num_metrics:
            warnings.append(f"metric {m!r} has no true/false or numeric value on the trials that ran without error: "
                            f"it gets no aggregate and no figure")
    for m in spec.report.get("metrics", []):
        if m in num_metrics:
            warnings.append(f"[report] metrics lists {m!r}, which is numeric, not true/false: figures are drawn for "
                            f"true/false metrics (its median is in the aggregates)")
    plotted = [m for m in bool_metrics if m in spec.report.get("metrics", bool_metrics)]
    os.makedirs(out, exist_ok=True)
    agg_path = os.path.join(out, "aggregates.csv")
    with atomic_path(agg_path) as tmp:
        agg.to_csv(tmp, index=False)

    rep = Report(f"Sweep report: {spec.name}", out)
    if spec.description:
        rep.para(spec.description)
    rep.bullets([f"trial kind: `{spec.trial}`; {len(spec.points)} grid points x {len(spec.seeds)} seeds = "
                 f"{status['total']} trials",
                 "grid: " + "; ".join(f"`{k}` = {_fmt_values(v)}" for k, v in spec.grid.items()),
                 f"done: {status['done']}/{status['total']} ({status['ok']} ok, {status['failed']} failed"
                 + (": " + ", ".join(f"{t} x{c}" for t, c in status["error_types"].items()) if status["failed"]
                    else "") + ")"]
                + [f"metric `{k}` = `{v}`" for k, v in spec.metrics.items()])
    if warnings:
        rep.heading("Warnings")
        rep.bullets(warnings)

    x, y, facets = _axes(spec)
    figures: list[str] = []
    tokens = {k: _file_tokens(spec.grid[k]) for k in facets}
    combos = list(itertools.product(*(range(len(spec.grid[k])) for k in facets)))  # value indices per facet
    if len(combos) > MAX_FACETS:
        rep.para(f"(figures skipped: {len(combos)} combinations of {', '.join(facets)} exceed {MAX_FACETS})")
        combos = []
    for combo in combos:
        sel = agg
        fpoint = {k: spec.grid[k][i] for k, i in zip(facets, combo)}
        for k, v in fpoint.items():
            sel = sel[sel[k] == v]
        suffix = "".join(f"_{k}{tokens[k][i]}" for k, i in zip(facets, combo))
        ftitle = f" ({_label(fpoint)})" if fpoint else ""
        for m in plotted:
            if x is not None:
                figures += _success_curves(plots, sel, m, x, y, ftitle, os.path.join(out, f"{m}_curves{suffix}"),
                                           pdf)
            if x is not None and y is not None:
                figures += _success_heatmap(plots, sel, m, x, y, spec, ftitle,
                                            os.path.join(out, f"{m}_heatmap{suffix}"), pdf)
        if verdicts:
            figures += _verdict_bars(plots, sel, verdicts, group_keys, facets, ftitle,
                                     os.path.join(out, f"verdicts{suffix}"), pdf)
        conv = _convergence(plots, df, spec, x, y, fpoint, ftitle, os.path.join(out, f"convergence{suffix}"), pdf)
        figures += conv
    if figures:
        rep.heading("Figures")
        for f in figures:
            if f.endswith(".png"):
                rep.figure(f, os.path.splitext(os.path.basename(f))[0].replace("_", " "))
    rep.heading("Aggregates per grid point")
    cols = list(group_keys) + ["n_trials", "n_failed"]
    headers = list(cols)
    for m in bool_metrics:
        cols += [f"{m}_p", f"{m}_lo", f"{m}_hi"]
        headers += [f"P({m})", "95% lo", "95% hi"]
    for c in ("relative_error_median", "iterations_median", "seconds_median"):
        if c in agg.columns:
            cols.append(c)
            headers.append(c.replace("_median", " (median)"))
    rows = agg[cols].values.tolist()
    if len(rows) > 200:
        rep.para(f"(first 200 of {len(rows)} rows; all in aggregates.csv)")
        rows = rows[:200]
    rep.table(headers, rows, digits=3)
    if status["failures"]:
        rep.heading("Failures")
        rep.table(["seed", "point", "error"], [[f["seed"], _label(f["point"]),
                                                 f"{f['error_type']}: {f['error_message'][:120]}"]
                                                for f in status["failures"]])
    path = rep.write("report.md")
    return {"report": path, "aggregates": agg_path, "figures": figures, "status": status, "warnings": warnings}


def _fmt_values(v: tuple) -> str:
    if len(v) > 8:
        return f"{v[0]}, {v[1]}, ..., {v[-1]} ({len(v)} values)"
    return ", ".join(str(x) for x in v)


def _file_tokens(values: list) -> list[str]:
    """A file-name part per grid value: characters other than letters, digits and ``. _ = + -`` become ``_`` (a value
    such as ``inst/a.npz`` or ``../x`` names no folder); when two would collide, every value gets its index appended."""
    safe = [re.sub(r"[^A-Za-z0-9._=+-]", "_", str(v)) for v in values]
    if len(set(safe)) == len(safe):
        return safe
    return [f"{t}-{i}" for i, t in enumerate(safe)]  # unique: the text after the last '-' is the index


def _success_curves(plots, agg, m: str, x: str, y: str | None, ftitle: str, path: str, pdf: bool) -> list[str]:
    series, lo, hi, xs = {}, {}, {}, {}
    groups = agg.groupby(y, sort=False) if y is not None else [(None, agg)]
    for yv, g in groups:
        label = f"{y} = {yv}" if y is not None else m
        xs[label] = g[x].tolist()
        series[label] = g[f"{m}_p"].to_numpy(float)
        lo[label] = g[f"{m}_lo"].to_numpy(float)
        hi[label] = g[f"{m}_hi"].to_numpy(float)
    fig = plots.curves(xs, series, lower=lo, upper=hi, xlabel=x, ylabel=f"P({m})", ylim=(-0.02, 1.02),
                       title=f"P({m}) with 95% Wilson intervals{ftitle}")
    return plots.save(fig, path, pdf=pdf)


def _success_heatmap(plots, agg, m: str, x: str, y: str, spec, ftitle: str, path: str, pdf: bool) -> list[str]:
    xv, yv = list(spec.grid[x]), list(spec.grid[y])
    Z = np.full((len(yv), len(xv)), np.nan)
    for _, row in agg.iterrows():
        Z[yv.index(row[y]), xv.index(row[x])] = row[f"{m}_p"]
    fig = plots.heatmap(Z, xv, yv, xlabel=x, ylabel=y, cbar_label=f"P({m})", vmin=0.0, vmax=1.0,
                        title=f"P({m}){ftitle}", contour=0.5 if np.isfinite(Z).all() else None)
    return plots.save(fig, path, pdf=pdf)


def _verdict_bars(plots, agg, verdicts, group_keys, facets, ftitle, path, pdf) -> list[str]:
    keys = [k for k in group_keys if k not in facets]
    cats = [_label({k: r[k] for k in keys}) for _, r in agg.iterrows()]
    fracs = {v: agg[f"verdict_{v}"].to_numpy(float) for v in verdicts}
    fig = plots.stacked_bars(cats, fracs, title=f"certificate verdicts{ftitle}", ylabel="fraction of trials")
    return plots.save(fig, path, pdf=pdf)


def median_history(rows, field: str, grid: np.ndarray) -> np.ndarray:
    """The median over ``rows`` (results-table rows with ``history_iter`` and ``field``) of each trial's history at
    the iterations ``grid``: a trial's value after it stopped is its last one, and ``inf`` after a run whose output
    ``status`` is ``diverged`` (not a plateau at its last finite value: unbounded after it stopped)."""
    cols = []
    outcome = rows["status_out"] if "status_out" in rows.columns else [None] * len(rows)
    for its, vals, how in zip(rows["history_iter"], rows[field], outcome):
        its, vals = np.asarray(its, float), np.asarray(vals, float)
        idx = np.clip(np.searchsorted(its, grid, side="right") - 1, 0, len(its) - 1)
        col = vals[idx]
        if how == "diverged":
            col = np.where(grid > its[-1], np.inf, col)
        cols.append(col)
    return np.nanmedian(np.vstack(cols), axis=0)


def _convergence(plots, df, spec, x, y, fpoint, ftitle, path, pdf) -> list[str]:
    """Median (over seeds) of a ``history_<field>`` against the iteration: one panel per ``y`` value (at most 6),
    one curve per ``x`` value (coloured along the x values), each the :func:`median_history` of its trials."""
    field = spec.report.get("convergence")
    cands = [c for c in df.columns if c.startswith("history_") and c != "history_iter"]
    if "history_iter" not in df.columns or not cands:
        return []
    field = f"history_{field}" if field and f"history_{field}" in cands else (
        "history_relative_error" if "history_relative_error" in cands else cands[0])
    sel = df[df["status"] == "ok"]
    for k, v in fpoint.items():
        sel = sel[sel[k] == v]
    sel = sel[sel["history_iter"].map(lambda v: isinstance(v, list) and len(v) > 0)]
    if sel.empty:
        return []
    top = max(max(v) for v in sel["history_iter"])
    grid = np.linspace(0, top, 200)
    panels = list(spec.grid[y])[:6] if y is not None else [None]
    xvals = list(spec.grid[x]) if x is not None else [None]
    fig, axes = plots.new_figure(3.6 * len(panels) + 1.2, 3.6, ncols=len(panels))
    axes = np.atleast_1d(axes)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for ax, yv in zip(axes, panels):
        part = sel if yv is None else sel[sel[y] == yv]
        series = {}
        for j, xv in enumerate(xvals):
            g = part if xv is None else part[part[x] == xv]
            if g.empty:
                continue
            series[f"{x} = {xv}" if xv is not None else "all"] = median_history(g, field, grid)
        if not series:  # every trial of this panel failed or kept no history: say so, not an empty frame
            ax.text(0.5, 0.5, "no finished trial with a history", ha="center", va="center", transform=ax.transAxes,
                    fontsize=8)
            ax.set_title(f"{y} = {yv}" if yv is not None else "")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        positive = all(np.all(np.asarray(v)[np.isfinite(v)] > 0) for v in series.values())
        plots.curves(grid, series, xlabel="iteration", ylabel=f"median {field[8:]}", logy=positive,
                     markers=False, title=f"{y} = {yv}" if yv is not None else "", ax=ax)
        ax.set_xlim(0, top)
        if any(np.isinf(v).any() for v in series.values()):  # a gap, not a missing curve: say what it is
            ax.text(0.02, 0.02, "gaps: the median run had diverged (inf)", transform=ax.transAxes, fontsize=7,
                    va="bottom")
        for j, line in enumerate(ax.lines):
            line.set_color(cmap(j / max(len(ax.lines) - 1, 1)))
        if ax.get_legend() is not None:
            ax.legend(fontsize=6, ncols=2)
    fig.suptitle(f"convergence{ftitle}")
    return plots.save(fig, path, pdf=pdf)
