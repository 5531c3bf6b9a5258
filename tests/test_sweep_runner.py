"""Sweep runner and store: resume after SIGKILL, failures, batching, and identical results in every mode."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from benign.experiments import execute_unit, load_results, load_spec, register_trial, run_sweep, sweep_status
from benign.experiments.store import Store

HERE = os.path.dirname(os.path.abspath(__file__))
NUMBERS = ["a", "n", "seed", "status", "value", "first", "positive", "n_out", "big"]


def toy_spec(tmp_path, seeds=4, **trial):
    return {"sweep": {"name": "toy", "trial": "sweep_toys:quad", "seeds": seeds, "batch_size": 3},
            "grid": {"a": [1, 2, 3], "n": [2, 5]}, "trial": trial, "metrics": {"big": "value > 2 * a"}}


def expected(df):
    """Independent recomputation of the toy trial's numbers for every row."""
    for _, row in df.iterrows():
        x = np.random.default_rng([int(row["seed"]), int(row["a"]), int(row["n"])]).standard_normal(int(row["n"]))
        assert row["value"] == row["a"] * np.sum(x ** 2)
        assert row["first"] == x[0] and row["positive"] == (x[0] > 0) and row["n_out"] == row["n"]
        assert row["big"] == (row["value"] > 2 * row["a"])


def test_in_process_run_resume_and_store_contents(tmp_path):
    spec = toy_spec(tmp_path)
    db = str(tmp_path / "r.db")
    # before the run: nothing stored, and reading does not create the results file
    assert len(load_results(spec, db=db)) == 0 and not os.path.exists(db)
    assert (load_results(spec, db=db, include_pending=True)["status"] == "pending").all()
    assert not os.path.exists(db)
    s1 = run_sweep(spec, db=db, limit=7, progress=True)  # the Rich bar (on stderr) must not get in the way
    assert (s1["ran"], s1["pending"], s1["mode"]) == (7, 17, "in-process")
    s2 = run_sweep(spec, db=db)
    assert (s2["skipped"], s2["ran"], s2["pending"]) == (7, 17, 0)
    s3 = run_sweep(spec, db=db)
    assert s3["ran"] == 0 and s3["skipped"] == 24
    df = load_results(spec, db=db)
    sp = load_spec(spec, db=db)
    assert list(df["key"]) == [t.key for t in sp.trials]
    expected(df)
    with Store(db) as st:
        assert st.count() == 24
        assert st.sweeps()["toy"]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failures_are_recorded_and_retried(tmp_path):
    marker = tmp_path / "fail-now"
    marker.write_text("x")
    spec = toy_spec(tmp_path, fail_seed=1, fail_file=str(marker))
    db = str(tmp_path / "f.db")
    s = run_sweep(spec, db=db)
    assert (s["ok"], s["failed"]) == (18, 6)
    st = sweep_status(spec, db=db)
    assert (st["done"], st["failed"], st["pending"], st["error_types"]) == (24, 6, 0, {"RuntimeError": 6})
    f = st["failures"][0]
    assert f["error_message"] == "boom at seed 1" and "sweep_toys.py" in f["traceback"] and f["seed"] == 1
    assert [x["point"] for x in st["failures"]] == [{"a": a, "n": n} for a in (1, 2, 3) for n in (2, 5)]
    df = load_results(spec, db=db)
    bad = df[df["status"] == "error"]
    assert set(bad["seed"]) == {1} and bad["value"].isna().all() and bad["big"].isna().all()
    again = run_sweep(spec, db=db)
    assert again["ran"] == 0 and again["stored_failed"] == 6  # failures are not re-run by default, but counted
    marker.unlink()
    s = run_sweep(spec, db=db, retry_failed=True)
    assert (s["ran"], s["ok"], s["failed"], s["stored_failed"]) == (6, 6, 0, 0)
    df = load_results(spec, db=db)
    assert (df["status"] == "ok").all() and len(df) == 24
    expected(df)


def test_batched_path_same_numbers_and_fallbacks(tmp_path):
    import sweep_toys

    register_trial("toy-batched", sweep_toys.quad, batch=sweep_toys.quad_batch, replace=True)
    base = toy_spec(tmp_path)
    spec = dict(base, sweep=dict(base["sweep"], trial="toy-batched"))
    s = run_sweep(spec, db=str(tmp_path / "b.db"))
    assert s["batched"] and s["ok"] == 24
    df = load_results(spec, db=str(tmp_path / "b.db"))
    assert sorted(set(df["batched"])) == [1, 3]  # 4 seeds in units of batch_size 3: 3 + 1
    expected(df)
    # NotBatchable -> one by one, same numbers
    spec2 = dict(spec, trial={"not_batchable": True})
    run_sweep(spec2, db=str(tmp_path / "b2.db"))
    df2 = load_results(spec2, db=str(tmp_path / "b2.db"))
    assert set(df2["batched"]) == {1}
    expected(df2)
    # one failing member -> the batch falls back and the error lands on that trial only
    recs = execute_unit(sweep_toys.quad, sweep_toys.quad_batch, [{"a": 1, "n": 2, "fail_seed": 5}] * 3, [4, 5, 6])
    assert [r["status"] for r in recs] == ["ok", "error", "ok"] and recs[1]["error_type"] == "RuntimeError"
    # --no-batch override
    s = run_sweep(spec, db=str(tmp_path / "b3.db"), batch=False)
    assert not s["batched"] and set(load_results(spec, db=str(tmp_path / "b3.db"))["batched"]) == {1}


def test_broken_batched_path_falls_back_with_a_warning(tmp_path):
    import sweep_toys

    register_trial("toy-broken", sweep_toys.quad, batch=sweep_toys.quad_batch_broken, replace=True)
    base = toy_spec(tmp_path)
    spec = dict(base, sweep=dict(base["sweep"], trial="toy-broken"))
    with pytest.warns(RuntimeWarning, match="broken batched path"):
        s = run_sweep(spec, db=str(tmp_path / "w.db"))
    assert s["ok"] == 24
    df = load_results(spec, db=str(tmp_path / "w.db"))
    assert set(df["batched"]) == {1}
    expected(df)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _no_errors(*frames) -> None:
    """No stored trial failed (a failure would drop its outputs and the comparison would say only "not in index")."""
    for df in frames:
        assert "error_message" not in df or df["error_message"].isna().all(), df["error_message"].unique()


def test_sigkill_then_resume_gives_one_row_per_trial(tmp_path):
    log = tmp_path / "calls.log"
    path = tmp_path / "kill.toml"
    path.write_text(f'[sweep]\ntrial = "sweep_toys:quad"\nseeds = 6\nbatch_size = 2\n'
                    f'[grid]\na = [1, 2, 3]\nn = [2, 5]\n[trial]\nsleep = 0.05\nlog = "{log}"\n'
                    f'[metrics]\nbig = "value > 2 * a"\n')
    db = tmp_path / "kill.db"
    proc = subprocess.Popen([sys.executable, "-m", "benign.cli", "sweep", "run", str(path)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                stored = sqlite3.connect(str(db)).execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
            if stored >= 8:
                break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(str(db)) as st:
        before = {r["key"] for r in st.rows()}
    assert 8 <= len(before) < 36
    calls_before = log.read_text().count("\n")
    res = subprocess.run([sys.executable, "-m", "benign.cli", "sweep", "run", str(path), "--json"], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    import json

    summary = json.loads(res.stdout)
    assert summary["skipped"] == len(before) and summary["ran"] == 36 - len(before) and summary["pending"] == 0
    # the re-run computed only the missing trials: none of the stored ones appears in its part of the log
    rerun = [tuple(int(v) for v in line.split(",")) for line in log.read_text().splitlines()[calls_before:]]
    spec = load_spec(str(path))
    stored_ids = {(t.point["a"], t.point["n"], t.seed) for t in spec.trials if t.key in before}
    assert len(rerun) == 36 - len(before) and not stored_ids & set(rerun)
    assert sqlite3.connect(str(db)).execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM trials").fetchone() == (36, 36)
    # same numbers as an uninterrupted run
    ref_db = str(tmp_path / "ref.db")
    run_sweep(str(path), db=ref_db)
    a = load_results(str(path))
    b = load_results(str(path), db=ref_db)
    _no_errors(a, b)
    assert a[NUMBERS].equals(b[NUMBERS])
    expected(a)


def test_identical_results_in_process_two_workers_and_cluster(tmp_path):
    from distributed import LocalCluster

    spec = toy_spec(tmp_path, seeds=3)
    ref = str(tmp_path / "ref.db")
    run_sweep(spec, db=ref)
    s2 = run_sweep(spec, db=str(tmp_path / "w2.db"), workers=2)
    assert s2["mode"] == "local-cluster(2)" and s2["ok"] == 18
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        s3 = run_sweep(spec, db=str(tmp_path / "c.db"), scheduler=cluster.scheduler_address)
    assert s3["mode"].startswith("scheduler") and s3["ok"] == 18
    a = load_results(spec, db=ref)
    for other in ("w2.db", "c.db"):
        b = load_results(spec, db=str(tmp_path / other))
        _no_errors(a, b)
        assert a[NUMBERS].equals(b[NUMBERS]) and list(a["key"]) == list(b["key"])
    workers = set(load_results(spec, db=str(tmp_path / "w2.db"))["worker"])
    assert len(workers) >= 1 and f":{os.getpid()}" not in "".join(workers)


def test_threads_give_the_same_numbers_and_default_to_one_for_an_undeclared_kind(tmp_path):
    spec = toy_spec(tmp_path, seeds=3)
    ref = run_sweep(spec, db=str(tmp_path / "one.db"))
    assert ref["mode"] == "in-process"  # sweep_toys:quad is not registered threadsafe: one unit at a time
    s3 = run_sweep(spec, db=str(tmp_path / "three.db"), threads=3)
    assert s3["mode"] == "in-process(3 threads)" and (s3["ok"], s3["pending"]) == (18, 0)
    a = load_results(spec, db=str(tmp_path / "one.db"))
    b = load_results(spec, db=str(tmp_path / "three.db"))
    _no_errors(a, b)
    assert a[NUMBERS].equals(b[NUMBERS]) and list(a["key"]) == list(b["key"])
    expected(b)
    # more threads than units: one per unit
    assert run_sweep(spec, db=str(tmp_path / "few.db"), limit=2, threads=8)["mode"] == "in-process"
    with pytest.raises(ValueError, match="threads must be >= 1"):
        run_sweep(spec, db=str(tmp_path / "e.db"), threads=0)


def test_an_interrupted_threaded_sweep_stores_whole_units_and_resumes(tmp_path):
    """Ctrl-C in one thread stops the threaded run: every stored unit is whole (3 trials of one grid point), the
    interrupted units are not stored, and a re-run completes the sweep with the numbers of an uninterrupted run."""
    marker = tmp_path / "interrupt-now"
    marker.write_text("x")
    spec = toy_spec(tmp_path, seeds=3, interrupt_file=str(marker), sleep=0.01)
    db = str(tmp_path / "i.db")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, db=db, threads=2)
    with Store(db) as st:
        rows = st.rows()
    points: dict = {}
    for r in rows:
        points.setdefault((r["point"]["a"], r["point"]["n"]), []).append(r["seed"])
    assert all(sorted(s) == [0, 1, 2] for s in points.values()) and len(rows) < 18
    assert not any(a == 2 for a, _ in points)  # the units that were interrupted
    marker.unlink()
    s = run_sweep(spec, db=db, threads=2)
    assert (s["skipped"], s["ran"], s["pending"]) == (len(rows), 18 - len(rows), 0)
    ref = str(tmp_path / "ref.db")
    run_sweep(spec, db=ref, threads=1)
    a, b = load_results(spec, db=ref), load_results(spec, db=db)
    _no_errors(a, b)
    assert a[NUMBERS].equals(b[NUMBERS]) and list(a["key"]) == list(b["key"])


def test_runner_argument_errors(tmp_path):
    spec = toy_spec(tmp_path)
    with pytest.raises(ValueError, match="either workers"):
        run_sweep(spec, db=str(tmp_path / "e.db"), workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="threads = 3 applies to in-process runs"):
        run_sweep(spec, db=str(tmp_path / "e.db"), workers=2, threads=3)
    with pytest.raises(ValueError, match="workers must be >= 0"):
        run_sweep(spec, db=str(tmp_path / "e.db"), workers=-1)


def test_a_scheduler_that_refuses_connections_is_reported_at_once(tmp_path):
    """A closed port (or an unknown host) is an error from the probe, before the spec is read (not Dask's "timed out"
    after 20 s of retries)."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for address, needle in ((f"tcp://127.0.0.1:{port}", "refused"), ("no-such-host.invalid:8786", "")):
        with pytest.raises(ValueError, match=f"cannot connect to the Dask scheduler at '{re.escape(address)}'.*"
                                             f"{needle}"):
            run_sweep(toy_spec(tmp_path), db=str(tmp_path / "e.db"), scheduler=address)
    assert not (tmp_path / "e.db").exists()


def test_the_scheduler_probe_waits_for_a_scheduler_that_is_starting():
    """A port that starts listening within the probe's retry window (a scheduler started just before the sweep)
    passes; a port out of range is refused by name."""
    import socket
    import threading

    from benign.experiments.runner import PROBE_RETRY, check_parallel

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        threading.Timer(PROBE_RETRY / 4, sock.listen).start()  # refused until then
        assert check_parallel(None, f"tcp://127.0.0.1:{port}", None) == (None, None)
    with pytest.raises(ValueError, match="the port must be in 1..65535, got 0"):
        check_parallel(None, "tcp://127.0.0.1:0", None)


def test_embedded_cluster_workers_allocate_accelerator_memory_on_demand(monkeypatch):
    from benign.experiments.runner import _GPU_MEMORY_VARIABLES, worker_environment

    for name in _GPU_MEMORY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert worker_environment() == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.2")  # the user's own setting wins
    assert worker_environment() == {}
