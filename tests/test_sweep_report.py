"""Sweep reports: Wilson intervals, aggregates against a direct computation, figures, report.md, exports."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from benign import plots
from benign.experiments import export_results, load_results, run_sweep, sweep_report, wilson
from benign.experiments.report import aggregate


@pytest.mark.parametrize("k,n", [(0, 1), (0, 10), (3, 10), (10, 10), (37, 50), (1, 1000)])
def test_wilson_solves_the_score_equation(k, n):
    """The Wilson interval is {p : |k/n - p| <= z sqrt(p (1 - p) / n)}: its ends are the roots (found by bisection)."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    z = norm.ppf(0.975)
    phat = k / n
    g = lambda p: (phat - p) ** 2 - z * z * p * (1 - p) / n  # noqa: E731
    lo_ref = 0.0 if k == 0 else brentq(g, 1e-15, min(phat, 1 - 1e-15), xtol=1e-15)
    hi_ref = 1.0 if k == n else brentq(g, max(phat, 1e-15), 1 - 1e-15, xtol=1e-15)
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(lo_ref, abs=1e-12) and hi == pytest.approx(hi_ref, abs=1e-12)


def test_wilson_published_value_and_errors():
    assert wilson(0, 10)[1] == pytest.approx(0.2775, abs=5e-5)  # the classic 0/10 upper bound
    assert wilson(0, 10)[0] == 0.0 and wilson(7, 7)[1] == 1.0  # the closed ends exactly, not 1e-17 off
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError):
        wilson(3, 2)


def _spec(tmp_path, **sweep):
    return {"sweep": {"name": "rep", "trial": "sweep_toys:quad", "seeds": 6, **sweep},
            "grid": {"a": [1, 2, 4], "n": [1, 3]}, "trial": {"fail_seed": 5},
            "metrics": {"big": "value > 2", "pos": "positive", "score": "value / a"}}


def test_aggregates_match_a_direct_computation(tmp_path):
    spec = _spec(tmp_path)
    db = str(tmp_path / "a.db")
    run_sweep(spec, db=db)
    df = load_results(spec, db=db)
    agg, bools, _ = aggregate(df, ["a", "n"], ["big", "pos", "score"], ["value", "first", "n_out"])
    assert bools == ["big", "pos"]
    assert len(agg) == 6
    for _, row in agg.iterrows():
        g = df[(df["a"] == row["a"]) & (df["n"] == row["n"])]
        ok = g[g["status"] == "ok"]
        assert row["n_trials"] == len(ok) == 5 and row["n_failed"] == 1
        k = int(sum(bool(v) for v in ok["big"]))
        assert (row["big_k"], row["big_n"]) == (k, 5) and row["big_p"] == k / 5
        assert (row["big_lo"], row["big_hi"]) == wilson(k, 5)
        assert row["value_median"] == np.median(ok["value"].astype(float))
        assert row["score_median"] == np.median(ok["value"].astype(float) / row["a"])


def test_report_writes_figures_markdown_and_csv(tmp_path):
    spec = _spec(tmp_path)
    db = str(tmp_path / "r.db")
    run_sweep(spec, db=db)
    out = tmp_path / "report"
    res = sweep_report(spec, str(out), db=db, pdf=True)
    names = sorted(p.name for p in out.iterdir())
    for stem in ("big_curves", "big_heatmap", "pos_curves", "pos_heatmap"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "![big heatmap](big_heatmap.png)" in md and "RuntimeError x6" in md and "boom at seed 5" in md
    agg = pd.read_csv(out / "aggregates.csv")
    assert len(agg) == 6 and {"big_p", "big_lo", "big_hi", "n_trials"} <= set(agg.columns)
    assert res["status"]["done"] == 36


def test_report_facets_and_single_axis(tmp_path):
    spec = {"sweep": {"trial": "sweep_toys:quad", "seeds": 3}, "grid": {"a": [1, 2], "n": [2, 3], "b": [0, 1]},
            "trial": {"pad": "{b}"}, "metrics": {"big": "value > 2"}, "report": {"x": "n", "y": "a"}}
    db = str(tmp_path / "f.db")
    run_sweep(spec, db=db)
    res = sweep_report(spec, str(tmp_path / "out"), db=db)
    assert sorted(p.rsplit("/", 1)[1] for p in res["figures"]) == [
        "big_curves_b0.png", "big_curves_b1.png", "big_heatmap_b0.png", "big_heatmap_b1.png"]
    one = {"sweep": {"trial": "sweep_toys:quad", "seeds": 3}, "grid": {"a": [1, 2, 3], "n": 2}, "trial": {},
           "metrics": {"big": "value > 2"}}
    run_sweep(one, db=str(tmp_path / "o.db"))
    res = sweep_report(one, str(tmp_path / "o"), db=str(tmp_path / "o.db"))
    assert [p.rsplit("/", 1)[1] for p in res["figures"]] == ["big_curves.png"]


def test_report_without_results_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="no results stored"):
        sweep_report(_spec(tmp_path), str(tmp_path / "x"), db=str(tmp_path / "none.db"))
    with pytest.raises(ValueError, match="no results stored"):  # export agrees with the report
        export_results(_spec(tmp_path), str(tmp_path / "x.csv"), db=str(tmp_path / "none.db"))
    assert not (tmp_path / "x.csv").exists()


def test_a_metric_that_raises_is_reported_not_dropped(tmp_path):
    """A metric expression that raises on the stored numbers (here a string added to a number, or the log of a
    negative value on some trials) is NaN there, and the report, its JSON and the export say so with the count."""
    spec = _spec(tmp_path)
    spec["metrics"] = {**spec["metrics"], "bad": "value + 'a'", "some": "log(value - 2) > 0"}
    spec["report"] = {"metrics": ["pos", "score"]}
    db = str(tmp_path / "w.db")
    run_sweep(spec, db=db)
    df = load_results(spec, db=db)
    ok = df[df["status"] == "ok"]
    errors = df.attrs["metric_errors"]
    assert errors["bad"]["failed"] == errors["bad"]["rows"] == len(ok) and "TypeError" in errors["bad"]["first_error"]
    assert errors["some"]["failed"] == int((ok["value"] <= 2).sum()) > 0
    assert "ValueError" in errors["some"]["first_error"]
    assert "big" not in errors
    rep = sweep_report(spec, str(tmp_path / "rep"), db=db)
    text = (tmp_path / "rep" / "report.md").read_text()
    assert any("'bad' could not be evaluated on" in w for w in rep["warnings"])
    assert any("'bad' has no true/false or numeric value" in w for w in rep["warnings"])
    assert any("lists 'score', which is numeric" in w for w in rep["warnings"])
    assert "## Warnings" in text and "metric 'some' could not be evaluated" in text
    # [report] metrics: figures for the listed boolean metrics only
    names = [os.path.basename(f) for f in rep["figures"]]
    assert any(n.startswith("pos_") for n in names) and not any(n.startswith("big_") for n in names)
    out = export_results(spec, str(tmp_path / "w.csv"), db=db)
    assert len(out["warnings"]) == 2


def test_export_round_trips(tmp_path):
    spec = _spec(tmp_path)
    db = str(tmp_path / "e.db")
    run_sweep(spec, db=db)
    df = load_results(spec, db=db)
    pq = export_results(spec, str(tmp_path / "r.parquet"), db=db)
    back = pd.read_parquet(pq["path"])
    assert pq["rows"] == len(df) == len(back) == 36
    np.testing.assert_array_equal(back["value"].to_numpy(float), df["value"].to_numpy(float))
    assert list(back["big"].astype(object).where(back["big"].notna(), None)) == list(df["big"])
    csv = export_results(spec, str(tmp_path / "r.csv"), db=db)
    back = pd.read_csv(csv["path"])
    np.testing.assert_allclose(back["value"].to_numpy(float), df["value"].to_numpy(float), rtol=1e-15)
    with pytest.raises(ValueError, match=".parquet or .csv"):
        export_results(spec, str(tmp_path / "r.xlsx"), db=db)
    # the results file alone: every stored trial, grid columns from the stored points
    alone = load_results(db)
    assert len(alone) == 36 and {"a", "n", "value"} <= set(alone.columns) and "big" not in alone.columns


def test_plot_helpers(tmp_path):
    Z = np.arange(6.0).reshape(2, 3)
    fig = plots.heatmap(Z, [10, 20, 40], ["r1", "r2"], xlabel="m", cbar_label="P", contour=2.5)
    ax = fig.axes[0]
    mesh = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(2, 3), Z)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["r1", "r2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20", "40"]  # a tick per cell: short numbers
    fine = np.linspace(-0.3, 1.25, 12)  # long labels (0.686364) would overlap: matplotlib's ticks instead
    fig = plots.heatmap(np.zeros((2, 12)), fine, ["r1", "r2"])
    assert len(fig.axes[0].get_xticks()) < 12
    with pytest.raises(ValueError, match="shape"):
        plots.heatmap(Z.T, [10, 20, 40], ["r1", "r2"])
    fig = plots.curves([1, 2, 3], {"a": [0.1, 0.5, 0.9]}, lower={"a": [0, 0.3, 0.8]}, upper={"a": [0.2, 0.7, 1]})
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_ydata(), [0.1, 0.5, 0.9])
    fig = plots.stacked_bars(["x", "y"], {"p": [0.25, 0.5], "q": [0.75, 0.5]})
    tops = [p.get_y() + p.get_height() for p in fig.axes[0].patches]
    assert tops[2:] == [1.0, 1.0]
    paths = plots.save(fig, str(tmp_path / "fig"), pdf=True)
    assert paths == [str(tmp_path / "fig.png"), str(tmp_path / "fig.pdf")]
    assert (tmp_path / "fig.pdf").read_bytes()[:4] == b"%PDF"
    assert json.loads(json.dumps(paths)) == paths


def test_metric_names_mean_what_the_table_columns_mean(tmp_path):
    """A grid key that is also an output's name (loss: the loss spec on the grid, the loss value as output) means
    the grid value in a metric, as in the results table, where the output is loss_out; a metric can read that too.
    (Metrics used to see the output under the grid key's name: 'loss == "l1"' was False on every l1 row.)"""
    spec = {"sweep": {"name": "clash", "seeds": 1},
            "grid": {"loss": ["l2", "l1"]},
            "trial": {"instance": "sensing:n=4,r=1,m=20,seed={seed}", "loss": "{loss}", "max_iter": 30},
            "metrics": {"is_l1": "loss == 'l1'", "value": "loss_out", "said": "status"}}
    db = str(tmp_path / "clash.db")
    run_sweep(spec, db=db, progress=False)
    df = load_results(spec, db=db)
    assert list(df["is_l1"]) == [False, True] and list(df["loss"]) == ["l2", "l1"]
    assert list(df["value"]) == list(df["loss_out"]) and df["loss_out"].map(np.isfinite).all()
    assert list(df["said"]) == list(df["status_out"])  # status: the trial's output (documented), not "ok"
    with pytest.raises(ValueError, match="unknown name 'los_out'"):
        load_results({**spec, "metrics": {"v": "los_out"}}, db=db)


def test_report_file_names_never_leave_the_report_folder(tmp_path):
    """A facet's values go into figure names with only letters, digits and . _ = + - kept: 'x/y' and '../z' name no
    folder (the second used to abort the report halfway); values that would collide ('x/y', 'x_y') make every
    value of the facet carry its index."""
    spec = _spec(tmp_path, seeds=2)
    spec["grid"]["tag"] = ["x/y", "../z", "x_y"]
    spec["report"] = {"x": "a", "y": "n"}
    spec["trial"] = {}
    db = str(tmp_path / "t.db")
    run_sweep(spec, db=db, progress=False)
    out = tmp_path / "report"
    res = sweep_report(spec, str(out), db=db)
    assert all(os.path.dirname(f) == str(out) for f in res["figures"])
    curves = sorted(os.path.basename(f) for f in res["figures"] if "big_curves" in f)
    assert curves == ["big_curves_tag.._z-1.png", "big_curves_tagx_y-0.png", "big_curves_tagx_y-2.png"]
    assert not (tmp_path / "z.png").exists() and (out / "report.md").exists()


def test_report_file_tokens_are_unique():
    from benign.experiments.report import _file_tokens

    assert _file_tokens(["x", "y/z"]) == ["x", "y_z"]
    tokens = _file_tokens(["a/b", "a_b", "a_b-0"])  # an index suffix that a value already has
    assert len(set(tokens)) == 3 and tokens == ["a_b-0", "a_b-1", "a_b-0-2"]


def test_median_history_counts_a_diverged_run_as_unbounded():
    """After a run stops it keeps its last value, except a diverged run: its last finite error is not a plateau, so
    it counts as inf from there (two of three runs diverged at iteration 10: the median is inf after it)."""
    from benign.experiments.report import median_history

    rows = pd.DataFrame({"history_iter": [[0, 10, 20], [0, 10], [0, 10]],
                         "history_relative_error": [[1.0, 0.5, 0.25], [1.0, 0.8], [1.0, 0.9]],
                         "status_out": ["max_iterations", "diverged", "diverged"]})
    med = median_history(rows, "history_relative_error", np.array([0.0, 10.0, 15.0, 20.0]))
    assert list(med) == [1.0, 0.8, np.inf, np.inf]
    rows["status_out"] = ["max_iterations", "converged", "converged"]  # stopped, not diverged: their last values
    assert list(median_history(rows, "history_relative_error", np.array([15.0, 20.0]))) == [0.8, 0.8]
