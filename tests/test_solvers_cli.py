"""``benign solve`` and the seed-001 perturbed-GD experiment."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import fresh_cli, run_inprocess

BENIGN = [sys.executable, "-m", "benign.cli"]


def run(*args):
    return subprocess.run(BENIGN + list(args), capture_output=True, text=True, timeout=300)


def test_cli_solve_json_save_history(tmp_path, cli):
    out, hist = tmp_path / "run.npz", tmp_path / "h.csv"
    res = cli("solve", "sensing:n=8,r=2,m=80,seed=0", "--method", "gd", "--opt", "armijo=true", "--seed", "3",
              "--json", "--save", str(out), "--history", str(hist), "--history-every", "5")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    for key in ("status", "loss", "relative_error", "grad_norm", "iterations", "seconds", "point", "method",
                "options", "message"):
        assert key in data
    assert data["status"] == "converged" and data["method"] == "gd" and data["options"]["armijo"] is True
    X = np.asarray(data["point"])
    from benign.io import load_instance, load_point

    inst = load_instance(str(out))
    assert np.array_equal(load_point(str(out)), X)
    Ms = inst.truth_matrix()
    assert np.linalg.norm(X @ X.T - Ms) / np.linalg.norm(Ms) == pytest.approx(data["relative_error"], abs=1e-12)
    rows = np.loadtxt(hist, delimiter=",", skiprows=1, ndmin=2)
    assert open(hist).readline().strip() == "iteration,loss,error,grad_norm,step"
    assert rows[0, 0] == 0 and rows[-1, 0] == data["iterations"] and rows[-1, 1] == pytest.approx(data["loss"])
    d = np.diff(rows[:, 0])  # every 5th iteration, then the last one
    assert np.all(d[:-1] == 5) and 1 <= d[-1] <= 5


def test_cli_solve_history_longer_than_kept(tmp_path, cli):
    """--max-iter past the history the loop keeps: thinned when no --history file is asked for, refused (naming the
    --history-every that fits) when one is."""
    from benign.solver_options import MAX_HISTORY

    max_iter = 3 * MAX_HISTORY
    res = cli("solve", "sensing:n=5,r=1,m=30,seed=0", "--max-iter", str(max_iter), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "converged"
    res = cli("solve", "sensing:n=5,r=1,m=30,seed=0", "--max-iter", str(max_iter), "--history",
              str(tmp_path / "h.csv"))
    assert res.returncode == 2 and f"--history-every {max_iter // MAX_HISTORY + 1} or more" in res.stderr


@pytest.mark.parametrize("args,needle", [
    (("solve", "sensing:n=5,r=1,m=30", "--method", "gdd"), "did you mean 'gd'"),
    (("solve", "sensing:n=5,r=1,m=30", "--opt", "step"), "expected key=value"),
    (("solve", "sensing:n=5,r=1,m=30", "--opt", "step=0.1", "--opt", "step=0.2"), "--opt step is given twice"),
    (("solve", "sensing:n=5,r=1,m=30", "--constraint", "maybe"), "--constraint"),
    (("solve", "sensing:n=5,r=1,m=30", "--method", "projected-gd"), "add --constraint nonneg"),
    (("solve", "sensing:n=5,r=1,m=30,truth=nonneg", "--method", "gd"), "or --constraint none"),
])
def test_cli_solve_bad_input(args, needle):
    res = run(*args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], res.stderr


def test_seed001_perturbed_gd_experiment():
    from benign.solvers.experiments import perturbed_gd_experiment

    out = perturbed_gd_experiment(0, iterations=2000)
    inst, X0 = out["instance"], out["x0"]
    mats = inst.operator.matrices()
    assert mats.shape == (20, 5, 5) and np.allclose(mats, mats.transpose(0, 2, 1))
    # G_ij ~ N(0, 1)/5 => off-diagonal entries of (G + G^T)/2 have variance 1/50
    off = mats[:, ~np.eye(5, dtype=bool)]
    assert 0.5 / 50 < off.var() < 2.0 / 50
    Ms = inst.truth_matrix()
    rho0 = np.einsum("ijk,jk->i", mats, X0 @ X0.T - Ms)
    assert [r["lam"] for r in out["runs"]] == [0.0, 1.0]
    for run_ in out["runs"]:
        lam = run_["lam"]
        assert run_["iteration"].tolist() == list(range(2001))
        # the curves start at the independently computed loss (1/m scaling, l = 4) and distance
        f0 = np.mean(0.5 * rho0 ** 2 + lam * rho0 ** 4 / 4)
        assert run_["loss"][0] == pytest.approx(f0, rel=1e-12)
        assert run_["distance"][0] == pytest.approx(np.linalg.norm(X0 @ X0.T - Ms), rel=1e-12)
        assert np.all(np.isfinite(run_["distance"])) and run_["distance"][-1] < run_["distance"][0]
    # seed 001's observation: the high-order term accelerates the decrease of the error
    d0, d1 = out["runs"][0]["distance"], out["runs"][1]["distance"]
    assert d1[1000] < d0[1000]


def test_cli_convex_refuses_the_options_it_would_ignore():
    res = run("solve", "sensing:n=6,r=1,m=40,seed=0", "--method", "convex", "--max-iter", "1", "--seed", "9",
              "--opt", "stall_window=5", "--json")
    assert res.returncode == 2
    assert "--method convex would ignore --seed, --max-iter, --opt stall_window" in json.loads(res.stdout)["error"]
    res = run("solve", "sensing:n=6,r=1,m=40,seed=0", "--method", "convex", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "converged" and res.stderr == ""


def test_cli_flags_a_converged_run_far_from_the_truth(cli):
    """A start with a huge gradient makes the relative gradient test loose: the run 'converges' far from the
    truth, and the output says so (and how to tell a spurious critical point from a loose test); a run that reaches
    the truth gets no note."""
    far = cli("solve", "sensing:n=10,r=2,m=150,seed=0", "--method", "scaled-gd", "--init-scale", "1000", "--json")
    out = json.loads(far.stdout)
    assert out["status"] == "converged" and out["relative_error"] > 1e-3 and "benign certify" in out["note"]
    near = json.loads(cli("solve", "sensing:n=10,r=2,m=150,seed=0", "--json").stdout)
    assert near["relative_error"] < 1e-6 and "note" not in near


def test_cli_default_method_follows_the_problem(capsys, monkeypatch):
    """Without --method, solve picks what hunt picks: projected-gd for a nonnegative instance (gd would refuse it),
    gd once --constraint none drops the sign constraint, subgradient for the l1 loss, and the constraint before the
    loss (the l1 loss on a nonnegative instance runs projected-gd; it was refused). In this process: the CLI's own
    entry point, one JAX import for all."""
    picks = {}
    for key, args in (("nonneg", ["sensing:n=8,r=2,m=150,seed=0,truth=nonneg"]),
                      ("none", ["sensing:n=8,r=2,m=150,seed=0,truth=nonneg", "--constraint", "none"]),
                      ("l1", ["sensing:n=8,r=1,m=150,seed=0", "--loss", "l1", "--max-iter", "50"]),
                      ("l1-nonneg", ["sensing:n=6,r=2,m=40,seed=0,truth=nonneg", "--loss", "l1", "--max-iter", "50"])):
        code, out, err = run_inprocess(capsys, monkeypatch, "solve", *args, "--json")
        assert code == 0, err
        picks[key] = json.loads(out)["method"]
    assert picks == {"nonneg": "projected-gd", "none": "gd", "l1": "subgradient", "l1-nonneg": "projected-gd"}


def test_cli_solve_asymmetric_factorization_and_balance(tmp_path, cli):
    """--factorization asymmetric on a symmetric instance solves over X = [U; V] (M = U V^T), with the balancing
    term of --balance; the relative error is against M* = Z Z^T, the saved file keeps both settings, and certify
    reads them back."""
    out = tmp_path / "asym.npz"
    res = cli("solve", "sensing:n=8,r=1,m=80,seed=0", "--factorization", "asymmetric", "--balance", "0.5",
              "--init", "spectral", "--json", "--save", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    X = np.asarray(data["point"])
    assert X.shape == (16, 1) and data["status"] == "converged"
    from benign.io import load_instance, saved_objective

    inst = load_instance(str(out))
    Ms = inst.truth_matrix()
    U, V = X[:8], X[8:]
    assert np.linalg.norm(U @ V.T - Ms) / np.linalg.norm(Ms) == pytest.approx(data["relative_error"], abs=1e-12)
    assert data["relative_error"] <= 1e-8
    assert np.linalg.norm(U.T @ U - V.T @ V) <= 1e-8 * np.linalg.norm(U) ** 2  # balanced by the mu term
    saved = saved_objective(str(out))
    assert saved["factorization"] == "asymmetric" and saved["balance"] == 0.5
    cert = cli("certify", str(out), "--json")
    assert cert.returncode == 0, cert.stderr
    assert json.loads(cert.stdout)["verdict"] == "global_min"


@pytest.mark.parametrize("args,needle", [
    (["sensing:n=8,r=1,m=80", "--balance", "1"], "--balance applies to the asymmetric factorisation only"),
    (["sensing:n=8,r=1,m=80", "--factorization", "asym"], "--factorization must be symmetric or asymmetric"),
    (["sensing:n=8,r=1,m=80,d2=6", "--factorization", "symmetric"], "needs a square instance, got 8 x 6"),
    (["sensing:n=8,r=1,m=80", "--factorization", "asymmetric", "--constraint", "nonneg"],
     "symmetric factorisation only"),
    (["sensing:n=8,r=1,m=80,d2=8", "--balance", "-1"], "--balance"),
    # the start, the method and the constraint against what the spec says, before anything is built
    (["sensing:n=6,r=1,m=60", "--x0", "1,2,3"], "--x0 must have 6 rows (n)"),
    (["sensing:n=3,r=1,m=60", "--x0", "1,2,3", "--rank", "2"], "--rank 2 disagrees with the 1 column(s) of --x0"),
    (["sensing:n=3,r=1,m=60,truth=nonneg", "--x0", "1,-2,3"], "--x0 must be >= 0"),
    (["sensing:n=6,r=1,m=60", "--loss", "l1", "--method", "trust-region"], "needs a twice-differentiable loss"),
    (["sensing:n=6,r=1,m=60,truth=nonneg", "--method", "gd"], "ignores the constraint X >= 0"),
    (["sensing:n=6,r=1,m=60", "--method", "projected-gd"], "needs the constraint X >= 0"),
    (["sensing:n=5,r=2,m=10,truth=nonneg,cond=10"], "cond cannot be combined with truth=nonneg"),
])
def test_cli_solve_factorization_errors_before_jax(args, needle):
    words, err = fresh_cli("solve", *args)
    assert words == ["2", "False"] and needle in err, (words, err)
