"""``benign certify`` and ``benign landscape``: JSON keys, the exported record, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import fresh_cli, run_inprocess

BENIGN = [sys.executable, "-m", "benign.cli"]


def run(*args):
    return subprocess.run(BENIGN + list(args), capture_output=True, text=True, timeout=180)


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


def test_export_too_large_is_refused_before_certifying(capsys, monkeypatch):
    """An instance whose explicit form exceeds the export limit is refused (one line, status 2) before the
    certificate is computed, not after."""
    import benign.certify

    def never(*args, **kwargs):
        raise AssertionError("certified before refusing the export")

    monkeypatch.setattr(benign.certify, "certify", never)
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=45,r=1,m=1000,seed=0", "--point",
                                   "truth", "--export", "never-written.json")
    assert code == 2 and "--export: explicit export would hold m*d1*d2 = 2025000 numbers" in err, err
    assert "certified before" not in err


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
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", "zsl-half", "--point", "0,0.7071067811865476",
                                   "--dir1", "1,0", "--range", "-1,1", "--grid", "41", "--no-hessian", "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["alphas"][20] == 0.0 and abs(out["f"][20] - 0.375) <= 1e-15  # the point itself is a grid value


def test_cli_errors_are_one_line(capsys, monkeypatch):
    for args, needle in ((("certify", "zsl-half", "--point", "1,2,3"), "rows"),
                         (("certify", "zsl-half"), "point is required"),
                         (("certify", "zsl-half", "--point", "0,1", "--method", "eig"), "--method"),
                         (("landscape", "zsl-half", "--point", "0,1", "--dir1", "1,0", "--range", "1,0"), "a < b"),
                         (("certify", "sensing:n=6,r=1,m=40,seed=0", "--point", "truth", "--nonneg"),
                          "entries of both signs (min -3.5), so it is not a point of the constraint X >= 0: certify "
                          "it without the constraint (--no-nonneg)")):
        code, _, err = run_inprocess(capsys, monkeypatch, *args)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_hunt_saves_the_loss_that_certify_then_uses(tmp_path, capsys, monkeypatch):
    """A spurious minimum of the mixed loss, saved by ``hunt --save-dir``, is judged by that loss by default (it is
    not a critical point of l2: judged by l2 it would be ``not_critical``), and its stored point is the default."""
    code, out, err = run_inprocess(capsys, monkeypatch, "hunt", "yalcin:n=5,eps=0.3", "--loss", "mixed:lam=5,l=4",
                                   "--rank", "1", "--starts", "12", "--save-dir", str(tmp_path), "--json")
    assert code == 0, err
    data = json.loads(out)
    saved = data["saved"]
    assert saved
    # some of these starts diverge under the default step: counted, but not catalogued (no critical point)
    diverged = data["solver_status"].get("diverged", 0)
    assert diverged and sum(e["count"] for e in data["entries"]) == 12 - diverged
    # the same hunt on the same folder resumes from its catalogue (the command line's early settings check agrees
    # with the hunter's); other settings are refused before anything is built (JAX never imported)
    hunt_args = ["hunt", "yalcin:n=5,eps=0.3", "--loss", "mixed:lam=5,l=4", "--rank", "1", "--save-dir",
                 str(tmp_path)]
    code, again, err = run_inprocess(capsys, monkeypatch, *hunt_args, "--starts", "12", "--json")
    assert code == 0, err
    assert json.loads(again)["entries"] == data["entries"]
    words, err = fresh_cli(*hunt_args, "--starts", "13")
    assert words == ["2", "False"] and "other settings (starts differ" in err, err
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", saved[0], "--json")
    assert code == 0, err
    cert = json.loads(out)
    assert cert["loss_spec"] == "mixed:lam=5,l=4" and cert["verdict"] == "strict_local_min" and cert["spurious"]
    assert err == ""
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", saved[0], "--loss", "l2", "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"] == "not_critical"
    assert "was saved with loss mixed:lam=5,l=4; using --loss l2" in err
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", saved[0], "--dir1", "truth", "--grid", "3",
                                   "--range=-1,1", "--no-hessian", "--json")
    assert code == 0, err
    f = json.loads(out)["f"]
    assert abs(f[1] - cert["loss"]) <= 1e-12 * cert["loss"]  # t = 0: the saved point, under the saved loss


def test_saved_settings_yield_to_the_options_given(tmp_path, capsys, monkeypatch):
    """A symmetric instance saved for the asymmetric factorisation with a balance: certify uses both by default;
    another --factorization drops the saved balance; landscape uses the saved objective and refuses a direction
    that does not fit it in one line."""
    import benign
    from benign.io import save_instance

    inst = benign.build("sensing:n=4,r=1,m=40,seed=0")
    obj = benign.make_objective(inst, "huber:delta=0.5", factorization="asymmetric", balance=0.5)
    Z = np.asarray(inst.truth_point)
    path = save_instance(str(tmp_path / "asym"), inst, point=np.vstack([Z, 0.5 * Z]), objective=obj)
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", path, "--json")
    assert code == 0, err
    cert = json.loads(out)
    assert cert["loss_spec"] == "huber:delta=0.5"
    assert abs(cert["loss"] - float(obj.value(np.vstack([Z, 0.5 * Z])))) <= 1e-12 * cert["loss"]
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", path, "--balance", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["loss"] < cert["loss"]  # the saved balance term was in the loss above
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", path, "--factorization", "symmetric",
                                   "--point", "truth", "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"] == "global_min"
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", path, "--dir1", "1,0,0,0,0,0,0,0", "--grid",
                                   "3", "--range=-1,1", "--no-hessian", "--json")
    assert code == 0, err
    f0 = json.loads(out)["f"][1]  # t = 0: the saved point, under the saved objective
    assert abs(f0 - cert["loss"]) <= 1e-12 * cert["loss"]
    # the asymmetric factorisation of M* = Z Z^T has the truth [Z; Z] (balanced): the slice towards it ends at f = 0
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", path, "--dir1", "truth", "--grid", "3",
                                   "--range=-1,1", "--no-hessian", "--json")
    assert code == 0, err
    assert abs(json.loads(out)["f"][2]) <= 1e-12 * cert["loss"]
    code, _, err = run_inprocess(capsys, monkeypatch, "landscape", path, "--dir1", "1,0,0,0", "--grid", "3")
    assert code == 2 and "--dir1 must have the point's shape (8, 1), got (4, 1)" in err


def test_truth_point_is_balanced_under_a_balancing_term(capsys, monkeypatch):
    """--point truth with --balance > 0 is the balanced factorisation of M* (the stored factors need not be
    balanced, and then the balancing term's gradient is not zero there): the truth certifies as global."""
    from benign.certify.checks import truth_point
    from benign.instances import build
    from benign.objective import make_objective

    inst = build("completion:n=12,d2=9,r=2,rate=0.6,seed=1")
    B = truth_point(make_objective(inst, balance=0.5), 3)
    U, V = B[:12], B[12:]
    assert np.allclose(U.T @ U, V.T @ V, atol=1e-12) and np.allclose(U @ V.T, inst.truth_matrix(), atol=1e-12)
    assert not np.any(B[:, 2])  # padded with a zero column
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", "completion:n=12,d2=9,r=2,rate=0.6,seed=1",
                                   "--point", "truth", "--balance", "0.5", "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"] == "global_min"


def test_theory_says_why_it_is_empty_and_refuses_large_n_before_certifying(capsys, monkeypatch):
    """--theory with delta >= 1 explains the empty list; with n > 30 it is refused before the certificate runs."""
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=10,r=2,m=150,seed=0", "--point",
                                   "truth", "--theory", "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["theory"] == [] and "is >= 1" in out["theory_note"]
    import benign.certify

    def never(*args, **kwargs):
        raise AssertionError("certified before refusing --theory")

    monkeypatch.setattr(benign.certify, "certify", never)
    code, out, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=40,r=2,m=150,seed=0", "--point",
                                   "truth", "--theory")
    assert code == 2 and "--theory needs n <= 30" in err and "certified before" not in err


def test_landscape_json_is_self_contained(capsys, monkeypatch):
    """The slice's JSON names what its numbers are values of: instance, loss, factorisation, the point and the
    directions (resolved: 'truth' becomes the explicit direction), the range and the index convention; f is
    recomputed here from those alone (the sensing matrices of the named instance, NumPy)."""
    from benign.instances import build

    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", "yalcin:n=3,eps=0.3", "--point", "1,0,0.5",
                                   "--dir1", "truth", "--dir2", "0,1,0", "--grid", "3", "--range=-0.5,1",
                                   "--loss", "l2", "--no-hessian", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["slice"] == "f[i][j] = f(point + alphas[i] dir1 + betas[j] dir2)"
    assert rec["instance"] == build("yalcin:n=3,eps=0.3").name and rec["loss_spec"] == "l2"
    assert rec["range"] == [-0.5, 1.0] and rec["grid"] == 3 and rec["factorization"] == "symmetric"
    A = build("yalcin:n=3,eps=0.3").operator.matrices()
    b = np.asarray(build("yalcin:n=3,eps=0.3").b)
    X, D1, D2 = (np.asarray(rec[k]) for k in ("point", "dir1", "dir2"))
    for i, a in enumerate(rec["alphas"]):
        for j, bb in enumerate(rec["betas"]):
            Y = X + a * D1 + bb * D2
            rho = np.einsum("ijk,jk->i", A, Y @ Y.T) - b
            assert abs(0.5 * rho @ rho - rec["f"][i][j]) <= 1e-12 * max(1.0, abs(rec["f"][i][j]))


def test_truth_point_under_the_asymmetric_factorisation(capsys, monkeypatch):
    """--point truth (and truth:r=K) with --factorization asymmetric on a symmetric instance is [Z; Z] (padded):
    a global minimum; a nonnegative instance's X >= 0 does not follow it to the asymmetric factorisation."""
    for point in ("truth", "truth:r=2"):
        code, out, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=5,r=1,m=60,seed=1,truth=nonneg",
                                       "--factorization", "asymmetric", "--point", point, "--json")
        assert code == 0, err
        rec = json.loads(out)
        assert rec["verdict"] == "global_min" and rec["loss"] <= 1e-20, rec["verdict"]
    # a rectangular truth has no symmetric factorisation: 'truth' is refused in one line, and a rank below the truth's
    code, _, err = run_inprocess(capsys, monkeypatch, "certify", "sensing:n=5,d2=5,r=1,m=60,seed=1",
                                 "--factorization", "symmetric", "--point", "truth")
    assert code == 2 and "the ground truth is not a point of this objective" in err
    code, _, err = run_inprocess(capsys, monkeypatch, "landscape", "sensing:n=5,r=2,m=60,seed=1", "--point",
                                 "1,0,0,0,0", "--dir1", "truth", "--grid", "2")
    assert code == 2 and "--dir1 'truth': search rank 1 is below the truth's rank 2" in err
    import benign

    inst = benign.build("sensing:n=5,r=1,m=60,seed=1,truth=nonneg")
    assert benign.make_objective(inst).nonnegative
    assert not benign.make_objective(inst, factorization="asymmetric").nonnegative
    with pytest.raises(ValueError, match="symmetric factorisation only"):
        benign.make_objective(inst, factorization="asymmetric", nonnegative=True)


@pytest.mark.parametrize("args,needle", [
    (["--loss", "l1", "--point", "truth", "--dir1", "1,0,0"], "l1 loss has no Hessian"),
    (["--point", "1,0,1", "--dir1", "1,0,0", "--range=-1e100,1e100", "--grid", "3", "--no-hessian"],
     "f is not finite (float64 overflow) at 2 of 3 grid points"),
    (["--point", "1,0", "--dir1", "truth"], "--point"),
    (["--point", "1,0,1", "--dir1", "1,0,0", "--range=-inf,1"], "--range needs finite numbers"),
    (["--point", "1,0,1", "--dir1", "1,0,0", "--dir2", "0,1,0", "--grid", "30000", "--no-hessian"],
     "more than 4,000,000"),
    (["--point", "1,0,1", "--dir1", "1,0,0", "--out", "fig.pgf"], "the figure format is taken from the extension"),
])
def test_landscape_refuses_in_one_line(args, needle, capsys, monkeypatch):
    code, out, err = run_inprocess(capsys, monkeypatch, "landscape", "sensing:n=3,r=1,m=10,seed=0", *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_a_file_named_truth_something_is_a_file(tmp_path, cli):
    """Only ``truth`` and ``truth:r=K`` name the ground truth: ``truth_guess.npy`` is read as the file it is."""
    path = tmp_path / "truth_guess.npy"
    np.save(path, np.array([[1.0], [2.0], [0.5]]))
    for command in ("certify", "landscape"):
        extra = ["--dir1", "1,0,0", "--grid", "3"] if command == "landscape" else []
        from_file = json.loads(cli(command, "sensing:n=3,r=1,m=10", "--point", str(path), *extra, "--json").stdout)
        truth = json.loads(cli(command, "sensing:n=3,r=1,m=10", "--point", "truth", *extra, "--json").stdout)
        if command == "certify":
            assert from_file["verdict"] == "not_critical" and from_file["relative_error"] > 0.5
            assert truth["verdict"] == "global_min"
        else:
            assert from_file["f"] != truth["f"] and from_file["point"] != truth["point"]
    bad = cli("certify", "sensing:n=3,r=1,m=10", "--point", "truthy")
    assert bad.returncode == 2 and "cannot read 'truthy'" in bad.stderr


def test_export_keeps_a_name_without_an_extension(cli, tmp_path):
    """--export writes JSON to a name without an extension as given (a device such as /dev/stdout is one), and
    refuses another extension (tests/test_cli_core.py)."""
    path = tmp_path / "record"
    res = cli("certify", "zsl-half", "--point", "0,1", "--export", str(path), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(path.read_text())["format"] == "benign-certificate" and not (tmp_path / "record.json").exists()


def test_l1_escape_check_reads_verified_in_the_table(capsys, monkeypatch):
    """The l1 curve check (gamma0, no t) is shown as verified, not as "NOT verified"."""
    code, out, _ = run_inprocess(capsys, monkeypatch, "certify", "yalcin:n=3,eps=0.3", "--loss", "l1",
                                 "--point", "0.9,0.1,-0.4")
    assert code == 0 and "verified for gamma <=" in out and "NOT verified" not in out
