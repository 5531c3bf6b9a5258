"""The hunter: multi-start + certification + de-duplication modulo the symmetry."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import fresh_cli

from benign import instances as I
from benign.hunt import hunt, matrix_distance
from benign.objective import make_objective


def test_weighted_family_spurious_minima_found_and_certified():
    """yalcin(n=7, eps=0.3), l2 loss: GD from random starts reaches certified spurious strict minima and the truth."""
    inst = I.yalcin(7, 0.3)
    cat = hunt(inst, "l2", rank=1, starts=48, seed=0)
    verdicts = {e.verdict for e in cat.entries}
    assert "global_min" in verdicts
    assert len(cat.spurious_minima) >= 1
    obj = make_objective(inst, "l2")
    for e in cat.spurious_minima:
        # independently: a critical point with positive Hessian and a higher loss than the truth
        X = e.point
        assert np.linalg.norm(np.asarray(obj.grad(X))) < 1e-6
        assert np.linalg.eigvalsh(np.asarray(obj.hessian(X)))[0] > 0
        assert float(obj.value(X)) > 1e-3
    assert sum(e.count for e in cat.entries) == 48
    assert abs(sum(e.frequency for e in cat.entries) - 1.0) < 1e-12
    # distinct entries are distinct matrices; each one's separation is its relative distance to the nearest other
    scale = float(np.linalg.norm(np.asarray(obj.truth) @ np.asarray(obj.truth).T))
    for a, ea in enumerate(cat.entries):
        dists = []
        for b, eb in enumerate(cat.entries):
            if b != a:
                Ma, Mb = ea.point @ ea.point.T, eb.point @ eb.point.T
                dists.append(np.linalg.norm(Ma - Mb) / max(np.linalg.norm(Ma), np.linalg.norm(Mb), scale))
                assert matrix_distance(obj, ea.point, eb.point) > 1e-6
        assert ea.separation == pytest.approx(min(dists), rel=1e-9)
        assert ea.separation > 1e-4  # above the merge tolerance


def test_dedupe_is_modulo_rotation():
    inst = I.sensing(6, 2, 60, seed=1)
    obj = make_objective(inst, "l2")
    X = np.random.default_rng(0).standard_normal((6, 2))
    th = 0.7
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    assert matrix_distance(obj, X, X @ R) < 1e-12
    assert matrix_distance(obj, X, X + 1e-3) > 1e-4


def test_dedupe_merges_chains():
    """Single linkage: a point within the tolerance of any member joins (and joins together) groups, so points in
    different groups are farther apart than the tolerance whatever the order; a greedy pass against each group's
    first member splits the chain a - c - b (a and b too far apart, c close to both)."""
    from benign.hunt import _dedupe, _fro

    obj = make_objective(I.sensing(2, 1, 10, seed=0), "l2")
    a, c, b = (np.array([[1.0], [t]]) for t in (0.0, 0.06, 0.12))
    rtol = 0.1
    tol = lambda p, q: rtol * max(_fro(obj, p), _fro(obj, q))  # noqa: E731 (scale 0 below)
    assert matrix_distance(obj, a, b) > tol(a, b)
    assert matrix_distance(obj, a, c) <= tol(a, c) and matrix_distance(obj, b, c) <= tol(b, c)
    far = np.array([[0.0], [3.0]])
    for order in ([a, b, c, far], [a, c, b, far], [c, far, a, b], [far, b, a, c]):
        groups = _dedupe(obj, order, 0.0, rtol)
        assert sorted(len(g) for g in groups) == [1, 3], order
    # well-separated points stay apart, and every cross-group pair is beyond the tolerance
    rng = np.random.default_rng(0)
    pts = [base + 1e-3 * rng.standard_normal((2, 1)) for base in (a, far, -far + 1) for _ in range(4)]
    groups = _dedupe(obj, pts, 0.0, rtol)
    assert len(groups) == 3 and sorted(sum(groups, [])) == list(range(12))
    for g in groups:
        for h in groups:
            if g is not h:
                assert all(matrix_distance(obj, pts[i], pts[j]) > tol(pts[i], pts[j]) for i in g for j in h)


def test_cli_hunt_iteration_limit_and_note(cli):
    """--max-iter reaches the runs; the note names the iteration limit (not a step size) when that is how they
    ended; --dedupe-rtol reaches the merge (a large one merges everything; 1 or more is refused)."""
    from benign.cli.hunt import no_convergence_note

    out = json.loads(cli("hunt", "yalcin:n=5,eps=0.3", "--rank", "1", "--starts", "6", "--max-iter", "3",
                         "--json").stdout)
    assert out["solver_status"] == {"max_iterations": 6}
    assert "--max-iter" in out["note"] and "step" not in out["note"]
    merged = json.loads(cli("hunt", "yalcin:n=5,eps=0.3", "--rank", "1", "--starts", "6", "--max-iter", "3",
                            "--dedupe-rtol", "0.99", "--json").stdout)
    assert merged["distinct_points"] == 1 and merged["entries"][0]["count"] == 6
    assert "armijo" in no_convergence_note({"stalled": 2, "max_iterations": 1})
    assert "trust-region" in no_convergence_note({"max_iterations": 1}, "gd")
    for method in ("projected-gd", "subgradient"):  # trust-region would be refused there
        assert "trust-region" not in no_convergence_note({"max_iterations": 1}, method)
    assert "armijo" not in no_convergence_note({"stalled": 1}, "subgradient")
    some = no_convergence_note({"converged": 1, "stalled": 30, "diverged": 1})  # a note whenever a run did not
    assert some.startswith("31 of 32 runs did not converge") and "armijo" in some
    assert no_convergence_note({"converged": 32}) is None


def test_hunt_validation():
    with pytest.raises(ValueError, match="rank"):
        hunt(I.yalcin(3, 0.3), "l2", rank=0)
    with pytest.raises(ValueError, match="at least one instance"):
        hunt([], "l2", rank=1)


def test_cli_hunt_json(cli):
    res = cli("hunt", "yalcin:n=5,eps=0.3", "--rank", "1", "--starts", "16", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["starts_per_instance"] == 16 and out["distinct_points"] == len(out["entries"])
    # the loss as a spec at the top (as in solve and certify), a value in each entry
    assert out["loss_spec"] == "l2" and "loss" not in out and all(isinstance(e["loss"], float) for e in out["entries"])
    assert sum(e["count"] for e in out["entries"]) == 16
    assert ("note" in out) == (out["solver_status"].get("converged", 0) < 16)
    if len(out["entries"]) == 1:
        assert out["entries"][0]["separation"] is None
    human = cli("hunt", "yalcin:n=7,eps=0.3", "--rank", "1", "--starts", "16", env={"COLUMNS": "80"})
    assert human.returncode == 0, human.stderr
    # one line per distinct point, nothing cut short at 80 columns (verdict names in full, the nearest column)
    assert "nearest" in human.stdout and "…" not in human.stdout and "strict_local_min" in human.stdout
    assert "note:" not in human.stderr
    # a fixed step too long for this operator (the default is 1/(6 sigma) = 0.027): every run stalls, and the
    # output says so and what to try
    stalled = cli("hunt", "sensing:n=6,r=1,m=10,seed=4,truth=nonneg", "--rank", "1", "--starts", "4",
                  "--opt", "step=0.1", "--json")
    out = json.loads(stalled.stdout)
    assert not out["solver_status"].get("converged") and "armijo=true" in out["note"]
    bad = subprocess.run([sys.executable, "-m", "benign.cli", "hunt", "yalcin:n=5,eps=0.3", "--rank", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "rank" in bad.stderr


@pytest.mark.parametrize("spec,args,needle", [
    ("sensing:n=5,r=1,m=30", ["--starts", "100000000"], "more than 1,000,000"),
    ("sensing:n=5,r=1,m=30", ["--method", "convex"], "--method convex takes no starting point"),
    ("sensing:n=5,r=1,m=30", ["--instances", "2"], "--instances needs a spec with seed={seed}"),
    ("sensing:n=5,r=1,m=30,seed={sed}", ["--instances", "2"], "got {sed}"),
    ("sensing:n=5,r=1,m=30,truth=nonneg", ["--loss", "l1"], "does not model X >= 0"),
])
def test_cli_hunt_refuses_before_jax(spec, args, needle):
    """Sizes, methods, placeholders and an uncertifiable loss are refused at once (exit 2, before JAX loads)."""
    words, err = fresh_cli("hunt", spec, "--rank", "2", *args)
    assert words == ["2", "False"] and needle in err, (words, err)


def test_cli_hunt_refuses_a_catalogue_that_is_a_file_before_jax(tmp_path):
    (tmp_path / "catalogue").write_text("hi")
    words, err = fresh_cli("hunt", "sensing:n=5,r=1,m=30", "--rank", "1", "--save-dir", str(tmp_path))
    assert words == ["2", "False"] and "catalogue exists and is not a folder" in err, (words, err)


def test_checkpointed_hunt_resumes_after_a_crash(tmp_path, monkeypatch):
    """A hunt over several instances stores each instance's catalogue as it finishes; interrupted after two of three
    (an exception from the progress callback), the same hunt on the same folder loads those two and computes only the
    third, and the catalogue equals an uninterrupted run's. Other settings, or another instance at a stored index,
    are refused without touching the folder."""
    from benign.hunt_store import SETTINGS_FILE

    insts = [I.sensing(5, 1, 15, seed=s) for s in range(3)]
    kw = dict(rank=2, starts=6, seed=1, solver_options={"max_iter": 1000})  # (the default 10000: 4x the time)
    whole = hunt(insts, "l2", **kw)
    folder = str(tmp_path / "ck")

    def crash(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hunt(insts, "l2", checkpoint=folder, progress=crash, **kw)
    assert sorted(os.listdir(folder)) == [SETTINGS_FILE, "instance_00000.json", "instance_00001.json"]
    calls = []
    import benign.solvers
    from benign.serialize import to_jsonable

    real = benign.solvers.solve_many
    monkeypatch.setattr(benign.solvers, "solve_many", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = hunt(insts, "l2", checkpoint=folder, **kw)
    monkeypatch.undo()
    assert len(calls) == 1  # only the third instance was solved
    a, b = to_jsonable(whole.to_dict()), to_jsonable(resumed.to_dict())
    a.pop("seconds"), b.pop("seconds")
    assert a == b and len(a["entries"]) >= 3
    assert all(isinstance(e.certificate.lambda_min, (float, type(None))) for e in resumed.entries)
    with pytest.raises(ValueError, match="other settings \\(starts differ"):
        hunt(insts, "l2", checkpoint=folder, **{**kw, "starts": 7})
    with pytest.raises(ValueError, match="written for another instance"):
        hunt([I.sensing(5, 1, 15, seed=9)], "l2", checkpoint=folder, **kw)
    assert sorted(os.listdir(folder)) == [SETTINGS_FILE] + [f"instance_0000{i}.json" for i in range(3)]
