"""Study ``robust-l1`` (seed 002: Ma & Fattahi, local optimality in robust low-rank recovery).

For a grid of ``(m, k, p)`` over symmetric and asymmetric Gaussian sensing with outliers, the fraction of instances
in which the ground truth ``X* = [Z, 0]`` (search rank ``k``) is non-stationary / a strict saddle (direction
verified by evaluation) / not a local minimum (curved descent) / a certified sharp local minimum / uncertified,
next to the subgradient method's recovery rate from small initialisation; and the phase diagram figure.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from benign.reproduce.common import RunOptions, run_trials
from benign.reproduce.report import Report, write_results

HERE = "benign.reproduce.robust_l1"
REGIME_ORDER = ("non_stationary", "strict_saddle", "not_local_min", "local_min", "global_min", "uncertified")
SUCCESS_RTOL = 1e-2


def regime_trial(params: dict, seed: int) -> dict:
    """Certify the truth's regime (l1 ladder) and run the subgradient method from ``init_scale * N(0, 1)``.

    Instance: ``sensing(n, r=1, m, seed, noise=outliers, p, outlier=gaussian)``, asymmetric (``d2 = n``) when
    ``params["asym"]``. Loss ``l1`` with ``1/m`` scaling. Recovery succeeds when the relative error
    ``||M - M*||_F / ||M*||_F <= success_rtol``.
    """
    from benign import instances as I
    from benign.certify.l1 import l1_landscape_regime
    from benign.losses import make_loss
    from benign.objective import make_objective
    from benign.solvers import solve

    n, m, k, p = int(params["n"]), int(params["m"]), int(params["k"]), float(params["p"])
    asym = bool(params["asym"])
    inst = I.sensing(n, 1, m, seed=seed, d2=n if asym else None, noise="outliers", p=p)
    reg = l1_landscape_regime(inst, k, seed=seed)
    cert = reg["certificate"]
    obj = make_objective(inst, make_loss("l1", scale="mean"))
    res = solve(obj, "subgradient", rank=k, init="small", init_scale=float(params["init_scale"]), seed=seed,
                max_iter=int(params["iterations"]))
    return {"regime": reg["regime"], "verdict": cert.verdict, "margin": cert.certificate_margin,
            "certify_seconds": reg["seconds"], "outliers": reg["outliers"],
            "subgradient_error": float(res.relative_error), "subgradient_status": res.status,
            "recovered": bool(res.relative_error <= float(params["success_rtol"]))}


def run(out_dir: str, quick: bool = False, options: RunOptions = RunOptions()) -> dict[str, Any]:
    """Run the study into ``out_dir`` (report.md, phase_diagram.png, results.json); return the summary."""
    from benign.plots import heatmap, new_figure, save, stacked_bars

    n = 8 if quick else 10
    grid = {"asym": [False, True], "p": [0.1] if quick else [0.05, 0.1, 0.2],
            "k": [1, 3] if quick else [1, 2, 3],
            "m": [24, 64, 192] if quick else [20, 30, 40, 60, 80, 120, 160, 240, 320]}
    seeds = 3 if quick else 10
    init_scale = 1e-3
    df = run_trials(out_dir, "robust_l1", f"{HERE}:regime_trial", grid, seeds,
                    {"n": n, "init_scale": init_scale, "iterations": 3000, "success_rtol": SUCCESS_RTOL}, options)
    rep = Report("Reproduction: robust l1 recovery (seed 002)", out_dir)
    rep.para(f"Gaussian sensing (`N(0, 1/m)` entries; symmetric `A_i = (G_i + G_i^T)/2`), n = d1 = d2 = {n}, "
             "truth rank r = 1 (Gaussian factors), outliers: each measurement corrupted with probability p by "
             "`10·RMS(A(M*))·N(0,1)` (indices recorded; the certificate takes the corrupted set from the record). "
             "Loss `(1/m)||A(XX^T) − b||_1` (asymmetric: `UV^T`). Regimes by `benign.certify.l1` at `X* = [Z, 0]` "
             "with search rank k: every strict-saddle and descent direction is verified by evaluating f. "
             f"Subgradient method: geometric steps (library default), {3000} iterations, initial point "
             f"{init_scale:g}·N(0,1) of rank k; success = relative error ≤ {SUCCESS_RTOL:g} (with small "
             "initialisation the error floor scales with the initial scale). "
             f"{seeds} seeds per cell.")
    rows, summary_cells = [], []
    keys = ["asym", "p", "k", "m"]
    for vals, g in df.groupby(keys, sort=True):
        cnt = g["regime"].value_counts()
        frac = {reg: float(cnt.get(reg, 0)) / len(g) for reg in REGIME_ORDER}
        rec = float(g["recovered"].mean())
        rows.append(["asymmetric" if vals[0] else "symmetric", vals[1], vals[2], vals[3], len(g)]
                    + [frac[r] for r in REGIME_ORDER] + [rec])
        summary_cells.append({**dict(zip(keys, [bool(vals[0]), float(vals[1]), int(vals[2]), int(vals[3])])),
                              "trials": len(g), "fractions": frac, "subgradient_recovery": rec})
    rep.heading("Fractions of instances per regime, and subgradient recovery")
    rep.table(["sensing", "p", "k", "m", "trials", "non-stationary", "strict saddle", "not local min (curved)",
               "certified local min", "global (no outliers)", "uncertified", "subgradient recovery"], rows, digits=2)

    # phase diagram: for each (sym, p): heatmap over (k, m) of the strict-saddle-or-worse fraction and recovery
    ps = sorted(df["p"].unique())
    fig, axes = new_figure(11.0, 3.3 * 2 * len(ps), ncols=2, nrows=2 * len(ps))
    axes = np.atleast_2d(axes)
    ms, ks = sorted(df["m"].unique()), sorted(df["k"].unique())
    for i, p in enumerate(ps):
        for j, asym in enumerate((False, True)):
            sub = df[(df["p"] == p) & (df["asym"] == asym)]
            not_min = np.full((len(ks), len(ms)), np.nan)
            recov = np.full((len(ks), len(ms)), np.nan)
            for a, k in enumerate(ks):
                for b, m in enumerate(ms):
                    cell = sub[(sub["k"] == k) & (sub["m"] == m)]
                    if len(cell):
                        not_min[a, b] = float(cell["regime"].isin(["non_stationary", "strict_saddle",
                                                                    "not_local_min"]).mean())
                        recov[a, b] = float(cell["recovered"].mean())
            kind = "asymmetric" if asym else "symmetric"
            heatmap(not_min, ms, ks, xlabel="m", ylabel="search rank k", vmin=0, vmax=1, cmap="magma",
                    title=f"{kind}, p = {p:g}: X* is NOT a local min", cbar_label="fraction", ax=axes[2 * i, j])
            heatmap(recov, ms, ks, xlabel="m", ylabel="search rank k", vmin=0, vmax=1,
                    title=f"{kind}, p = {p:g}: subgradient recovers", cbar_label="fraction",
                    ax=axes[2 * i + 1, j])
    phase_png = save(fig, os.path.join(out_dir, "phase_diagram.png"))[0]
    rep.heading("Phase diagram")
    rep.figure(phase_png, "Top of each pair: fraction of instances whose truth is non-stationary, a strict saddle or "
               "not a local minimum; bottom: subgradient recovery rate from small initialisation")

    cats, fracs = [], {r: [] for r in REGIME_ORDER}
    for cell in summary_cells:
        cats.append(f"{'A' if cell['asym'] else 'S'} p={cell['p']:g} k={cell['k']} m={cell['m']}")
        for r in REGIME_ORDER:
            fracs[r].append(cell["fractions"][r])
    fig = stacked_bars(cats, fracs, ylabel="fraction of instances", title="Regime of the ground truth (S: symmetric, "
                       "A: asymmetric)")
    bars_png = save(fig, os.path.join(out_dir, "regimes.png"))[0]
    rep.figure(bars_png, "Regime fractions per cell")
    certified_saddles = int((df["regime"] == "strict_saddle").sum())
    rep.para(f"{len(df)} instances certified; {certified_saddles} strict saddles, each with a verified direction "
             f"(c > 0 in f(X + γU) − f(X) ≤ −cγ²). Certification times vary from run to run, so they are not in "
             f"this report: each trial's is in `robust_l1.db` (`certify_seconds`).")
    summary = {"quick": quick, "n": n, "grid": grid, "seeds": seeds, "cells": summary_cells,
               "instances": len(df), "strict_saddles": certified_saddles}
    write_results(out_dir, summary)
    rep.write()
    return summary
