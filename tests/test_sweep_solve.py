"""The built-in ``solve`` trial: batched runs equal one-by-one ``benign.solvers.solve`` calls bit for bit, sweeps
record what the solver returns, and the answers are right on problems whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import ON_CPU, assert_same_numbers

import benign
from benign.experiments import load_results, load_spec, run_sweep
from benign.experiments.solve_trial import solve_batch, solve_trial
from benign.solvers import solve_stacked

SPEC = {"sweep": {"seeds": 3, "batch_size": 3},
        "grid": {"m": [24], "rank": [1, 2]},
        "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "method": "gd", "max_iter": 400,
                  "history": 8},
        "metrics": {"success": "relative_error <= 1e-6"}}


def _objs(seeds, m=24, n=5):
    return [benign.make_objective(benign.build(f"sensing:n={n},r=1,m={m},seed={s}"), "l2") for s in seeds]


@pytest.mark.parametrize("strategy", ["map", "vmap"])
def test_stacked_runs_equal_solve_bit_for_bit(strategy):
    from benign.solvers import solve

    seeds = [4, 9, 2]
    objs = _objs(seeds)
    kw = dict(rank=2, max_iter=150, history_every=50)
    stacked = solve_stacked(objs, "gd", seeds, strategy=strategy, **kw)
    for obj, s, res in zip(objs, seeds, stacked):
        ref = solve(obj, "gd", seed=s, **kw)
        assert_same_numbers(res.x, ref.x)
        assert_same_numbers((res.loss, res.relative_error, res.grad_norm, res.iterations, res.status),
                            (ref.loss, ref.relative_error, ref.grad_norm, ref.iterations, ref.status))
        for k in ref.history:
            if strategy == "vmap" and ON_CPU:  # vmap evaluates both branches of the loop's error switch: last bits
                np.testing.assert_allclose(res.history[k], ref.history[k], rtol=1e-14, atol=0)
            else:
                assert_same_numbers(res.history[k], ref.history[k], k)
        assert res.details["batch_size"] == 3


def test_batch_function_matches_trial_function_and_refuses_mixed_shapes(tmp_path):
    sp = load_spec(SPEC, db=str(tmp_path / "x.db"))
    unit = [t for t in sp.trials if t.point["rank"] == 2]
    batched = solve_batch([t.params for t in unit], [t.seed for t in unit])
    single = [solve_trial(t.params, t.seed) for t in unit]
    drop = lambda d: {k: v for k, v in d.items() if k != "solver_seconds"}  # noqa: E731
    assert_same_numbers([drop(b) for b in batched], [drop(x) for x in single])
    assert len(batched[0]["history_iter"]) >= 2 and batched[0]["history_iter"][0] == 0
    from benign.experiments import NotBatchable

    mixed = [dict(unit[0].params), dict(unit[1].params, instance="sensing:n=5,r=1,m=30,seed=1")]
    with pytest.raises(NotBatchable):
        solve_batch(mixed, [0, 1])


def test_sweep_records_what_solve_returns_and_finds_the_truth(tmp_path):
    from benign.solvers import solve

    db = str(tmp_path / "s.db")
    summary = run_sweep(SPEC, db=db)
    assert summary["batched"] and summary["ok"] == 6
    df = load_results(SPEC, db=db)
    assert set(df["batched"]) == {3}
    for _, row in df.iterrows():
        inst = benign.build(f"sensing:n=5,r=1,m=24,seed={row['seed']}")
        res = solve(benign.make_objective(inst, "l2"), "gd", rank=int(row["rank"]), seed=int(row["seed"]),
                    max_iter=400, history_every=50)
        assert_same_numbers((row["relative_error"], int(row["iterations"]), row["status_out"]),
                            (res.relative_error, res.iterations, res.status))
        # independent check of the recorded error: dense ||X X^T - Z Z^T||_F / ||Z Z^T||_F
        Z = inst.truth_left
        dense = np.linalg.norm(res.x @ res.x.T - Z @ Z.T) / np.linalg.norm(Z @ Z.T)
        assert row["relative_error"] == pytest.approx(dense, rel=1e-6, abs=1e-14)
    # m = 24 Gaussian measurements of a rank-1 5x5 PSD matrix (5 degrees of freedom): GD at the exact rank
    # recovers it; over-parameterised (rank 2) it converges sublinearly and is still on its way at 400 iterations
    exact = df[df["rank"] == 1]
    assert exact["success"].all() and (exact["status_out"] == "converged").all()
    over = df[df["rank"] == 2]
    assert (over["relative_error"] < 0.1).all() and not over["success"].any()


def test_solver_options_are_checked_up_front_and_runtime_failures_recorded(tmp_path):
    spec = {"sweep": {"seeds": 2}, "grid": {"m": [24]},
            "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "method": "gd", "options": {"stepp": 0.1}}}
    with pytest.raises(ValueError, match="did you mean 'step'"):
        run_sweep(spec, db=str(tmp_path / "bad.db"))
    assert not (tmp_path / "bad.db").exists()
    spec["trial"]["options"] = {"step": -0.1}  # a range, not only a name: refused before any trial runs
    with pytest.raises(ValueError, match="setting step of method 'gd': step must be > 0.0, got -0.1"):
        run_sweep(spec, db=str(tmp_path / "bad.db"))
    assert not (tmp_path / "bad.db").exists()
    spec["trial"] = {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "init": "spectral", "rank": 6}
    db = str(tmp_path / "f.db")
    s = run_sweep(spec, db=db)  # spectral init needs rank <= n: raised inside the trial, recorded, sweep goes on
    assert (s["ok"], s["failed"]) == (0, 2)
    df = load_results(spec, db=db)
    assert set(df["error_type"]) == {"ValueError"} and "spectral init needs rank" in df["error_message"].iloc[0]


def test_convex_sweep_recovers_the_truth_and_refuses_loop_settings(tmp_path):
    spec = {"sweep": {"seeds": 2}, "grid": {"m": [30]},
            "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "method": "convex"}}
    db = str(tmp_path / "cvx.db")
    s = run_sweep(spec, db=db)
    df = load_results(spec, db=db)
    # trace minimisation, 30 Gaussian measurements of a 5 x 5 rank-1 PSD matrix: exact recovery, to the solver's
    # accuracy (the residual and error are checked by the baseline, not its status)
    assert s["ok"] == 2 and (df["status_out"] == "converged").all() and (df["relative_error"] < 1e-5).all()
    # every trial convex: settings only a local method uses are refused (the defaults pass)
    for bad, needle in (({"max_iter": 10}, "ignores max_iter"), ({"options": {"stall_window": 5}},
                                                                 "ignores options.stall_window"),
                        ({"init": "small", "history": 4}, "ignores history, init")):
        with pytest.raises(ValueError, match=needle):
            run_sweep(dict(spec, trial=dict(spec["trial"], **bad)), db=str(tmp_path / "bad.db"))
    assert not (tmp_path / "bad.db").exists()
    load_spec(dict(spec, trial=dict(spec["trial"], init="random", history=0, options={"stall_window": 1000})),
              db=str(tmp_path / "x.db"))
    # the rule is per spec: a validate call outside a load leaves nothing for the next load
    from benign.experiments.solve_trial import validate

    validate(dict(spec["trial"], instance="sensing:n=5,r=1,m=30,seed=0", max_iter=10))
    assert len(load_spec(spec, db=str(tmp_path / "x.db")).trials) == 2
    # a grid over methods shares one [trial] table: the convex points skip what only gd uses
    mixed = {"sweep": {"seeds": 1}, "grid": {"m": [30], "method": ["gd", "convex"]},
             "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "method": "{method}", "max_iter": 2000,
                       "options": {"stall_window": 50}}}
    s = run_sweep(mixed, db=str(tmp_path / "mixed.db"))
    df = load_results(mixed, db=str(tmp_path / "mixed.db")).set_index("method")
    assert s["ok"] == 2 and (df["relative_error"] < 1e-5).all() and df.loc["convex", "status_out"] == "converged"


def test_certified_sweep(tmp_path):
    spec = {"sweep": {"seeds": 2}, "grid": {"rank": [1]},
            "trial": {"instance": "sensing:n=5,r=1,m=24,seed={seed}", "method": "gd", "max_iter": 400,
                      "certify": True},
            "metrics": {"is_global": "verdict == 'global_min'"}}
    db = str(tmp_path / "c.db")
    run_sweep(spec, db=db)
    df = load_results(spec, db=db)
    r1 = df
    # exact rank, m = 24 measurements of 5 degrees of freedom: GD ends at the global minimum, certified
    assert r1["is_global"].all() and (r1["spurious"] == False).all()  # noqa: E712
    assert (r1["lambda_min"] > 0).all() and (r1["relative_error"] < 1e-6).all()


def test_solve_sweeps_run_units_on_threads_with_the_same_numbers(tmp_path):
    """``solve`` is registered threadsafe (unless it certifies or goes through CVXPY): an in-process CPU sweep
    overlaps its units on CPU count + 1 threads (at most ``MAX_DEFAULT_THREADS``), with the numbers of a one-thread
    run, exactly (the threaded path runs on the CPU only)."""
    from benign.experiments.runner import MAX_DEFAULT_THREADS, default_threads, usable_cpus
    from benign.experiments.trials import get_trial

    kind = get_trial("solve")
    expect = max(1, min(usable_cpus() + 1, MAX_DEFAULT_THREADS)) if ON_CPU else 1
    assert default_threads(kind, load_spec(SPEC, db=str(tmp_path / "x.db")).trials) == expect
    convex = {"instance": SPEC["trial"]["instance"], "method": "convex"}  # (no loop settings: refused for convex)
    for trial in (dict(SPEC["trial"], certify=True), convex):
        sp = load_spec(dict(SPEC, trial=trial), db=str(tmp_path / "x.db"))
        assert not kind.threadsafe_for(sp.trials[0].params) and default_threads(kind, sp.trials) == 1
    if not ON_CPU:
        return
    spec = dict(SPEC, sweep={"seeds": 4, "batch_size": 2})  # 4 units
    s = run_sweep(spec, db=str(tmp_path / "t.db"))
    assert s["mode"] == f"in-process({min(expect, 4)} threads)" and s["ok"] == 8
    run_sweep(spec, db=str(tmp_path / "one.db"), threads=1)
    cols = ["m", "rank", "seed", "status_out", "loss", "relative_error", "grad_norm", "iterations", "history_loss"]
    a = load_results(spec, db=str(tmp_path / "one.db"))[cols]
    b = load_results(spec, db=str(tmp_path / "t.db"))[cols]
    assert a.equals(b)


@pytest.mark.slow
def test_solve_sweep_identical_in_process_two_workers_and_cluster(tmp_path):
    from distributed import LocalCluster

    spec = dict(SPEC, sweep={"seeds": 4, "batch_size": 2})
    run_sweep(spec, db=str(tmp_path / "a.db"))
    run_sweep(spec, db=str(tmp_path / "b.db"), workers=2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        run_sweep(spec, db=str(tmp_path / "c.db"), scheduler=cluster.scheduler_address)
    cols = ["m", "rank", "seed", "status", "status_out", "loss", "relative_error", "grad_norm", "iterations",
            "history_loss", "success"]
    a = load_results(spec, db=str(tmp_path / "a.db"))[cols]
    for other in ("b.db", "c.db"):  # on a GPU each process picks its own kernels: equal to rounding there
        b = load_results(spec, db=str(tmp_path / other))[cols]
        if ON_CPU:
            assert a.equals(b)
        else:
            assert_same_numbers(b.to_dict("list"), a.to_dict("list"))


def test_default_batch_strategy_is_map_on_the_cpu_and_vmap_on_an_accelerator(monkeypatch, tmp_path):
    """``solve_batch`` without a strategy takes ``default_strategy()`` where it runs; the CPU default is exact."""
    import benign.solvers.stacked as stacked
    from benign._jax import jax

    sp = load_spec(SPEC, db=str(tmp_path / "x.db"))
    unit = [t for t in sp.trials if t.point["rank"] == 1]
    params, seeds = [t.params for t in unit], [t.seed for t in unit]
    if ON_CPU:
        assert stacked.default_strategy() == "map"
        drop = lambda rows: [{k: v for k, v in r.items() if k != "solver_seconds"} for r in rows]  # noqa: E731
        assert drop(solve_batch(params, seeds)) == drop(solve_batch(params, seeds, strategy="map"))
    seen = []
    real = stacked.solve_stacked

    def spy(*args, strategy="map", **kw):
        seen.append(strategy)
        return real(*args, strategy=strategy, **kw)

    monkeypatch.setattr("benign.solvers.solve_stacked", spy)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert stacked.default_strategy() == "vmap"
    solve_batch(params, seeds)
    solve_batch(params, seeds, strategy="map")
    assert seen == ["vmap", "map"]
