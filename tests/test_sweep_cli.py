"""``benign sweep run|status|report|export`` from the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import fresh_cli

HERE = os.path.dirname(os.path.abspath(__file__))


def cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "benign.cli", "sweep", *args], capture_output=True, text=True,
                          timeout=180, env=env)


SPEC = """
[sweep]
name = "cli-toy"
trial = "sweep_toys:quad"
seeds = 4
[grid]
a = [1, 2]
n = {range = [2, 4]}
[trial]
fail_seed = 2
[metrics]
big = "value > 2"
"""


def test_cli_run_status_report_export(tmp_path):
    spec = tmp_path / "toy.toml"
    spec.write_text(SPEC)
    res = cli("run", str(spec), "--json", "--limit", "5")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["total"], out["ran"], out["pending"]) == (16, 5, 11)
    assert out["db"] == str(tmp_path / "toy.db")
    piped = cli("run", str(spec), "--limit", "3", "--db", str(tmp_path / "piped.db"))  # stderr is a pipe: plain
    assert piped.returncode == 0, piped.stderr  # progress lines instead of a bar, and the summary on stdout
    assert "cli-toy: 3/16 trials (19%)" in piped.stderr and "trials/s" in piped.stderr
    assert "ran: 3" in piped.stdout
    res = cli("run", str(spec), "--json", "--threads", "2")
    out = json.loads(res.stdout)
    assert (out["skipped"], out["ran"], out["ok"] + 4, out["failed"]) == (5, 11, 12, 3)
    assert out["mode"] == "in-process(2 threads)"
    st = json.loads(cli("status", str(spec), "--json").stdout)
    assert (st["done"], st["failed"], st["error_types"]) == (16, 4, {"RuntimeError": 4})
    human = cli("status", str(spec))
    assert "16/16 done" in human.stdout and "boom at seed 2" in human.stdout and "no store" not in human.stdout
    elsewhere = str(tmp_path / "typo.db")  # a --db that names no store: 0 done, and said so
    assert json.loads(cli("status", str(spec), "--db", elsewhere, "--json").stdout)["db_exists"] is False
    assert f"no store at {elsewhere} yet" in cli("status", str(spec), "--db", elsewhere).stdout
    rep = json.loads(cli("report", str(spec), "--out", str(tmp_path / "rep"), "--json").stdout)
    assert os.path.isfile(rep["report"]) and any(p.endswith("big_heatmap.png") for p in rep["figures"])
    exp = json.loads(cli("export", str(spec), "--out", str(tmp_path / "r.csv"), "--json").stdout)
    assert exp["rows"] == 16 and os.path.isfile(exp["path"])


def test_cli_bad_spec_is_one_line_exit_2_and_runs_nothing(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC.replace("seeds = 4", "seeds = 4\nbatchsize = 3"))
    res = cli("run", str(spec))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "did you mean 'batch_size'" in res.stderr
    assert not (tmp_path / "bad.db").exists()
    res = cli("run", str(tmp_path / "missing.toml"), "--json")
    assert res.returncode == 2 and "does not exist" in res.stderr


def test_bad_sweep_input_fails_before_importing_jax(tmp_path):
    """A misspelt solve method, an out-of-range setting, conflicting options, a bad export format and a report or
    export of a sweep that has no results file answer before JAX is loaded (exit 2, one line)."""
    good = os.path.join(os.path.dirname(HERE), "examples", "gd_success.toml")
    text = open(good).read()
    (tmp_path / "method.toml").write_text(text.replace('method = "gd"', 'method = "gdd"'))
    (tmp_path / "range.toml").write_text(text.replace('method = "gd"', 'method = "gd"\noptions = {step = -1.0}'))
    # a bad value on a later grid point: the first trials' full solver check (JAX) waits until every trial passed
    (tmp_path / "late.toml").write_text(text.replace("[grid]", "[grid]\nit = [100, -1]")
                                        .replace("max_iter = 3000", 'max_iter = "{it}"'))
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("x")  # a [sweep] db below a file: refused before the trials' checks load JAX
    (tmp_path / "db.toml").write_text(text.replace("[sweep]", '[sweep]\ndb = "a_file/x.db"'))
    cases = [["run", str(tmp_path / "db.toml")], ["run", str(tmp_path / "method.toml")],
             ["run", str(tmp_path / "range.toml")],
             ["run", str(tmp_path / "late.toml")], ["status", str(tmp_path / "folder")],
             ["run", good, "--batch", "maybe"], ["run", good, "--workers", "2", "--scheduler", "x:1"],
             ["export", good, "--out", str(tmp_path / "r.xlsx")],
             ["run", good, "--scheduler", "foo"], ["run", good, "--workers", "1000"],
             ["status", good, "--db", str(tmp_path / "notes.db")],
             ["report", good, "--db", str(tmp_path / "notes.db"), "--out", str(tmp_path / "rep")],
             # nothing stored yet: no results file, said before the trials' checks
             ["report", good, "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "rep")],
             ["export", good, "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "r.csv")]]
    (tmp_path / "notes.db").write_text("x")  # (SQLite reads a file under 100 bytes as an empty database)
    for argv in cases:
        words, err = fresh_cli("sweep", *argv)
        assert words == ["2", "False"], (argv, words, err)
        assert err.strip().count("\n") == 0 and err.startswith("error:"), err


def test_a_file_that_is_not_a_results_store_is_refused(tmp_path):
    """Not SQLite, or another program's SQLite file: one line naming the file, exit 2, the file left as it was."""
    import sqlite3

    spec = tmp_path / "toy.toml"
    spec.write_text(SPEC)
    (tmp_path / "notes.txt").write_text("x\n")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE trials (a INTEGER)")
    other.commit()
    other.close()
    (tmp_path / "tiny.txt").write_text("x")  # under 100 bytes: SQLite alone would write its tables into it
    for name in ("notes.txt", "other.db", "tiny.txt"):
        before = (tmp_path / name).read_bytes()
        for cmd in ("run", "status"):
            res = cli(cmd, str(spec), "--db", str(tmp_path / name), "--json")
            assert res.returncode == 2 and "is not a benign results file" in res.stderr, res.stderr
            assert json.loads(res.stdout)["exit_code"] == 2
        assert (tmp_path / name).read_bytes() == before


def test_the_results_file_probe_reads_the_file_named(tmp_path):
    """The read-only probe escapes the path in its URI: '#' cut 'run#1.db' short, so it checked (or created) 'run'."""
    import sqlite3

    from benign.experiments.store import Store, check_results_file

    other = sqlite3.connect(tmp_path / "run")  # what the cut-short name would find: another program's database
    other.execute("CREATE TABLE other (a INTEGER)")
    other.commit()
    other.close()
    for name in ("run#1.db", "p%41.db", "a?b.db"):
        with Store(str(tmp_path / name)):
            pass
        check_results_file(str(tmp_path / name))  # a store: accepted
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "a?b.db", "p%41.db", "run", "run#1.db"]
