"""``benign certify`` and ``benign landscape``: JSON keys, the exported record, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

BENIGN = [sys.executable, "-m", "benign.cli"]


def run(*args):
    return subprocess.run(BENIGN + list(args), capture_output=True, text=True, timeout=180)


def run_inprocess(capsys, monkeypatch, *args):
    """The real entry point in this process (shares the compilation cache): (exit code, stdout, stderr)."""
    from benign.cli import main

    monkeypatch.setattr(sys, "argv", ["benign"] + list(args))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_certify_json_and_export(tmp_path):
    exp = tmp_path / "cert.json"
    res = run("certify", "zsl-half", "--point", "0,0.7071067811865476", "--json", "--export", str(exp), "--theory")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("verdict", "spurious", "loss", "grad_norm", "lambda_min", "lambda_max", "symmetry_zeros",
                "certificate_margin", "stationarity_gap", "tolerances", "theory"):
        assert key in out
    assert out["verdict"] == "degenerate" and out["spurious"] is True and abs(out["loss"] - 0.375) < 1e-14
    rec = json.loads(exp.read_text())
    assert rec["format"] == "benign-certificate" and rec["certificate"]["verdict"] == "degenerate"
    # the referee's check without benign: the sensing matrices and b give the same f at the exported point
    A = np.asarray(rec["instance"]["operator"]["sensing_matrices"])
    b = np.asarray(rec["instance"]["b"])
    x = np.asarray(rec["point"])
    rho = np.einsum("ijk,jk->i", A, x @ x.T) - b
    assert abs(0.5 * rho @ rho - rec["certificate"]["loss"]) <= 1e-14


def test_certify_lanczos_and_landscape(tmp_path, capsys, monkeypatch):
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=5,r=1,m=40,seed=0", "--point",
                                   "truth:r=2", "--json", "--method", "lanczos")
    assert code == 0, err
    out = json.loads(out)
    assert out["verdict"] == "global_min" and out["details"]["hessian_method"] == "lanczos"
    fig = tmp_path / "slice.png"
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", "yalcin:n=3,eps=0.3", "--loss",
                                   "mixed:lam=0.5,l=4", "--point", "0.9,0,-0.9", "--dir1", "truth", "--range", "0,1",
                                   "--grid", "5", "--out", str(fig), "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["kind"] == "1d" and len(out["f"]) == 5 and len(out["lambda_min"]) == 5
    assert abs(out["f"][-1]) < 1e-20 and fig.stat().st_size > 1000  # alpha = 1 is the ground truth


def test_cli_errors_are_one_line(capsys, monkeypatch):
    for args, needle in ((("certify", "zsl-half", "--point", "1,2,3"), "rows"),
                         (("certify", "zsl-half"), "point is required"),
                         (("certify", "zsl-half", "--point", "0,1", "--method", "eig"), "--method"),
                         (("landscape", "zsl-half", "--point", "0,1", "--dir1", "1,0", "--range", "1,0"), "a < b")):
        code, _, err = run_inprocess(capsys, monkeypatch, *args)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
