"""``benign sweep run|status|report|export`` from the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

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
    assert "16/16 done" in human.stdout and "boom at seed 2" in human.stdout
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
