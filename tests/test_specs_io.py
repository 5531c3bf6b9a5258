"""Spec strings, bad-input errors, files."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from benign import instances as I
from benign.io import load_instance, load_point, save_instance, save_point
from benign.specs import parse_instance, parse_loss, parse_point
from conftest import rel


@pytest.mark.parametrize("spec,match", [
    ("sensing:n=5,r=6,m=10", "larger than the dimension"),
    ("sensing:n=5,r=1,m=0", "m must be >= 1"),
    ("sensing:n=5,r=1,m=-3", "m must be >= 1"),
    ("sensing:n=5,r=1,m=10,noise=outliers,p=1", r"p must lie in \[0, 1\)"),
    ("sensing:n=5,r=1,m=10,noise=outliers,p=-0.1", r"p must lie in \[0, 1\)"),
    ("sensing:n=5,r=1,m=10,sed=3", "did you mean 'seed'"),
    ("sensing:n=5,r=1,m=10,noise=gausian", "did you mean 'gaussian'"),
    ("sensing:n=5,m=2.5", "m must be an integer"),
    ("sensing:n=5", "needs m"),
    ("sensng:n=5,m=3", "did you mean 'sensing'"),
    ("completion:n=5,r=1", "exactly one of rate"),
    ("completion:n=5,r=1,rate=0", "rate must lie"),
    ("yalcin:n=3,eps=0", "eps must lie"),
    ("sensing:n=5,m=10,p=0.1", "noise=outliers"),
    ("sensing:n=5,m=10,r", "expected key=value"),
    ("missing_dir/nothing.npz", "does not exist"),
    ("sensing:n=5,m=10,noise=gaussian,sigma=1e300", "sigma = 1e\\+300 is too large"),
    ("sensing:n=5,m=10,noise=outliers,p=0.1,scale=1e151", "scale = 1e\\+151 is too large"),
    ("sensing:n=5,m=10,noise=gaussian,sigma=1e51", "sigma = 1e\\+51 is too large"),
    ("sensing:n=5,m=10,tscale=1e26", r"tscale = 1e\+26 is too large: the loss or its gradient would overflow float64 "
                                     r"\(at most 1e\+25\)"),
])
def test_bad_instance_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_instance(spec)


def test_integer_parameters_are_read_exactly():
    """Integers are read exactly, never through a float: seeds above 2^53 keep their value (a neighbour of 2^53 used
    to become 2^53, and 2^63 - 1 became 2^63 and was refused as out of range); a decimal form is read as an exact
    fraction, and one that is not an integer is refused however close it is."""
    for seed in (2 ** 53 + 1, 2 ** 63 - 1):
        assert parse_instance(f"sensing:n=3,r=1,m=8,seed={seed}").params["seed"] == seed
    assert parse_instance("sensing:n=3,r=1,m=8,seed=9007199254740993.0").params["seed"] == 2 ** 53 + 1
    assert parse_instance("sensing:n=3,r=1,m=8e1").params["m"] == 80
    for text in ("m=1.0000000000000001", "m=4503599627370497.5", "m=nan", "m=1e-3"):
        with pytest.raises(ValueError, match="m must be an integer"):
            parse_instance(f"sensing:n=3,r=1,{text}")


@pytest.mark.parametrize("spec,match", [
    ("lp:l=3", "even"), ("mixed:lam=5,l=5", "even"), ("mixed:lam=-1", "lam must be >= 0"), ("l3", "did you mean"),
    ("huber:delta=0", "delta must be > 0"), ("l2:scale=avg", "scale"), ("mixed:lamb=5", "did you mean 'lam'"),
])
def test_bad_loss_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_loss(spec)


def test_loss_specs_roundtrip():
    for text in ("l2", "lp:l=6", "mixed:lam=5,l=4", "l1", "huber:delta=0.5", "l2:scale=mean"):
        assert parse_loss(parse_loss(text).describe()) == parse_loss(text)


def test_points_inline_and_files(tmp_path):
    assert parse_point("1,0,1").shape == (3,)
    assert parse_point("1,0;0,1;1,1").shape == (3, 2)
    with pytest.raises(ValueError, match="different lengths"):
        parse_point("1,0;1")
    with pytest.raises(ValueError, match="cannot read"):
        parse_point("1,a")
    with pytest.raises(ValueError, match="non-finite"):
        parse_point("1,nan")
    X = np.arange(6.0).reshape(3, 2)
    for ext in (".npy", ".csv", ".npz"):
        path = save_point(str(tmp_path / f"p{ext}"), X)
        assert np.array_equal(load_point(path), X)
    bad = tmp_path / "bad.npy"
    bad.write_text("not an array")
    with pytest.raises(ValueError, match="cannot read"):
        load_point(str(bad))
    np.save(tmp_path / "nan.npy", np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="non-finite"):
        load_point(str(tmp_path / "nan.npy"))
    (tmp_path / "empty.csv").write_text("\n\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused by name, without NumPy's "input contained no data" warning
        with pytest.raises(ValueError, match="holds no numbers"):
            load_point(str(tmp_path / "empty.csv"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 2)))
    with pytest.raises(ValueError, match="point in .* holds no numbers"):
        load_point(str(tmp_path / "empty.npy"))
    with pytest.raises(ValueError, match="is a folder, not a file"):
        load_point(str(tmp_path))


@pytest.mark.parametrize("spec", ["sensing:n=4,r=2,m=20,seed=3,noise=outliers,p=0.2",
                                  "sensing:n=4,d2=3,r=1,m=20,op=rankone", "completion:n=6,r=2,count=20,seed=1",
                                  "yalcin:n=5,eps=0.3", "zsl-half", "sensing:n=4,r=1,m=9,truth=nonneg"])
def test_instance_file_roundtrip(spec, tmp_path):
    inst = I.build(spec)
    X = np.random.default_rng(0).standard_normal((inst.truth_point.shape[0], 2))
    path = save_instance(str(tmp_path / "inst.npz"), inst, point=X)
    back = load_instance(path)
    assert back.shape == inst.shape and back.m == inst.m and back.nonnegative == inst.nonnegative
    assert np.array_equal(back.b, inst.b)
    assert np.array_equal(back.truth_point, inst.truth_point)
    assert rel(back.operator.matrices(), inst.operator.matrices()) == 0.0
    assert np.array_equal(load_point(path), X)
    if inst.outlier_mask is not None:
        assert np.array_equal(back.outlier_mask, inst.outlier_mask)
    # the file is readable by NumPy alone, without pickle
    data = np.load(path, allow_pickle=False)
    assert json.loads(str(data["meta"]))["format"] == "benign-instance"
    assert I.build(path).m == inst.m


def _corrupt(path, out, **changes):
    """A copy of the instance file ``path`` with entries replaced (``None`` drops one; ``meta`` edits the JSON)."""
    data = dict(np.load(path, allow_pickle=False))
    meta = changes.pop("meta", None)
    if meta is not None:
        record = json.loads(str(data["meta"]))
        record.update(meta)
        for k in [k for k, v in meta.items() if v is None]:
            del record[k]
        data["meta"] = np.array(json.dumps(record))
    for key, value in changes.items():
        data.pop(key) if value is None else data.__setitem__(key, value(data[key]) if callable(value) else value)
    np.savez(out, **data)
    return str(out)


@pytest.mark.parametrize("changes, match", [
    ({"op_A": None}, "missing entry 'op_A'"), ({"b": None}, "missing entry 'b'"),
    ({"truth_left": None}, "missing entry 'truth_left'"), ({"meta": {"shape": None}}, "lacks 'shape'"),
    ({"meta": {"shape": [4, "x"]}}, "shape must be two integers"), ({"op_A": lambda a: a + 0j}, "must be real"),
    ({"op_A": lambda a: a[:, :-1]}, r"op_A .* must have shape \(\*, 16\)"),
    ({"truth_left": np.ones((3, 2))}, r"truth_left .* must have shape \(4, \*\)"),
    ({"noise": np.full(20, np.nan)}, "noise .* non-finite"), ({"noise": np.ones(3)}, r"noise .* \(20,\)"),
    ({"outlier_mask": np.ones(3, dtype=bool)}, "outlier_mask must have 20 entries"),
])
def test_corrupt_instance_files_are_refused_by_entry(tmp_path, changes, match):
    inst = I.build("sensing:n=4,r=2,m=20,seed=3,noise=outliers,p=0.2")
    path = save_instance(str(tmp_path / "inst.npz"), inst)
    bad = _corrupt(path, tmp_path / "bad.npz", **changes)
    with pytest.raises((ValueError, TypeError), match=match):
        load_instance(bad)


def test_instance_file_arrays_are_float64(tmp_path):
    inst = I.build("sensing:n=4,r=1,m=12,seed=0")
    path = save_instance(str(tmp_path / "inst.npz"), inst)
    back = load_instance(_corrupt(path, tmp_path / "f32.npz", op_A=lambda a: a.astype(np.float32)))
    assert np.asarray(back.operator.A).dtype == np.float64
    comp = save_instance(str(tmp_path / "c.npz"), I.build("completion:n=6,r=2,count=20,seed=1"))
    with pytest.raises(ValueError, match="indices outside"):
        load_instance(_corrupt(comp, tmp_path / "c_bad.npz", op_rows=lambda v: v + 6))


def test_seed_determinism_and_noise():
    a = I.sensing(5, 2, 30, seed=7, noise="outliers", p=0.3)
    b = I.sensing(5, 2, 30, seed=7, noise="outliers", p=0.3)
    c = I.sensing(5, 2, 30, seed=8, noise="outliers", p=0.3)
    assert np.array_equal(a.b, b.b) and not np.array_equal(a.b, c.b)
    assert a.outlier_mask.sum() > 0
    assert np.all(a.noise[~a.outlier_mask] == 0) and np.all(a.noise[a.outlier_mask] != 0)
    clean = I.sensing(5, 2, 30, seed=7)
    assert np.array_equal(np.asarray(clean.operator.A), np.asarray(a.operator.A))  # noise stream independent
    g = I.sensing(5, 2, 30, seed=7, noise="gaussian", sigma=0.1)
    assert 0 < np.std(g.noise) < 0.2


def test_condition_number_and_nonneg_truths():
    inst = I.sensing(8, 3, 50, seed=0, cond=100.0)
    ev = np.linalg.eigvalsh(inst.truth_matrix())[-3:]
    assert abs(ev[-1] / ev[0] - 100.0) < 1e-8
    nn = I.sensing(6, 2, 30, seed=0, truth="nonneg")
    assert nn.nonnegative and np.all(nn.truth_left >= 0)


def test_from_arrays_validation():
    from benign.operators import from_matrices

    op = from_matrices(np.random.default_rng(0).standard_normal((5, 3, 3)))
    with pytest.raises(ValueError, match="shape"):
        I.from_arrays(op, np.ones((4, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        I.from_arrays(op, np.array([[1.0], [np.nan], [0]]))
    with pytest.raises(ValueError, match="non-finite"):
        from_matrices(np.full((2, 2, 2), np.inf))
    with pytest.raises(ValueError, match="3 dimensions"):
        from_matrices(np.ones((2, 2)))
    # integer and 0/1 arrays are never truncated from other numbers
    from benign.operators import entry_sampling

    with pytest.raises(ValueError, match="rows must hold integers, got 0.9"):
        entry_sampling([0.9, 1.7], [0, 1], (2, 2))
    assert list(np.asarray(entry_sampling([0.0, 1.0], [0, 1], (2, 2)).rows)) == [0, 1]
    Z = np.ones((3, 1))
    with pytest.raises(ValueError, match="outlier_mask must hold 0/1 or booleans, got 0.5"):
        I.from_arrays(op, Z, outlier_mask=[0.5, 1, 0, 0, 1])
    for spec in ("sensing:n=6,r=1,m=20,cond=10", "sensing:n=6,m=20,cond=10", "completion:n=20,rate=0.5,cond=10"):
        with pytest.raises(ValueError, match="needs a truth of rank r >= 2"):  # refused by the spec parser (r = 1)
            parse_instance(spec)
    with pytest.raises(ValueError, match="rows must hold integers"):  # an object column is read as numbers
        entry_sampling(np.array([0.9, 1.7], dtype=object), [0, 1], (2, 2))


def test_with_noise_matches_generator():
    clean = I.sensing(5, 2, 30, seed=4)
    a = I.with_noise(clean, 4, noise="outliers", p=0.3)
    b = I.sensing(5, 2, 30, seed=4, noise="outliers", p=0.3)
    assert np.array_equal(a.b, b.b) and np.array_equal(a.outlier_mask, b.outlier_mask)
    back = I.with_noise(a, 4)
    assert np.allclose(back.b, clean.b, rtol=0, atol=1e-12 * np.abs(clean.b).max())
    assert back.meta["noise"] == "none" and "p" not in back.meta


@pytest.mark.parametrize("text,fact,rows", [("zsl-half", None, (2, "n")), ("yalcin:n=7,eps=0.3", None, (7, "n")),
                                            ("sensing:n=5,r=1,m=20", None, (5, "n")),
                                            ("sensing:n=5,r=1,m=20", "asymmetric", (10, "d1 + d2")),
                                            ("sensing:n=5,d2=3,r=1,m=20", None, (8, "d1 + d2")),
                                            ("sensing:n=6,r=1,m=40,asym=1", None, (12, "d1 + d2")),
                                            ("sensing:n=5,d2=3,r=1,m=20", "symmetric", None)])
def test_point_rows_match_the_built_objective(text, fact, rows):
    """The rows the CLI checks before building agree with the objective built from the same spec."""
    from benign.instances import build
    from benign.objective import make_objective
    from benign.specs import parse_instance, point_rows

    assert point_rows(parse_instance(text), fact) == rows
    if rows is not None:
        assert make_objective(build(text), "l2", factorization=fact).rows == rows[0]


@pytest.mark.parametrize("loss,kw", [
    ("lp:l=6,scale=mean", {}),
    ("huber:delta=0.25", {"factorization": "asymmetric", "balance": 0.5}),
    ("mixed:lam=0.1234567890123,l=4", {"nonnegative": True}),
])
def test_saved_objective_round_trips(tmp_path, loss, kw):
    """The objective saved with a point is rebuilt exactly (loss parameters to the last digit, not as displayed)."""
    from benign.io import holds_point, save_instance, saved_objective
    from benign.objective import make_objective

    spec = "sensing:n=4,r=1,m=30,seed=0" + (",truth=nonneg" if kw.get("nonnegative") else "")
    inst = I.build(spec)
    obj = make_objective(inst, loss, **kw)
    path = save_instance(str(tmp_path / "p"), inst, point=np.ones((obj.rows, 1)), objective=obj)
    assert holds_point(path)
    got = saved_objective(path)
    assert got["loss"] == obj.loss
    assert (got["factorization"], got["balance"], got["nonnegative"]) == (obj.factorization, obj.balance,
                                                                          obj.nonnegative)
    bare = save_instance(str(tmp_path / "bare"), inst)
    assert saved_objective(bare) is None and not holds_point(bare)
    with pytest.raises(ValueError, match="not a benign instance file"):
        saved_objective(save_point(str(tmp_path / "x.npz"), np.ones((4, 1))))


def test_files_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """An interrupted write (Ctrl-C inside NumPy's writer) leaves the file that was there, and no partial file."""
    from benign.atomic import atomic_path
    from benign.io import load_instance, save_instance

    inst = I.build("sensing:n=4,r=1,m=20,seed=0")
    path = str(tmp_path / "inst.npz")
    save_instance(path, inst)
    before = open(path, "rb").read()

    real = np.savez_compressed

    def interrupted(file, **arrays):
        real(file, **{k: v for k, v in list(arrays.items())[:1]})  # part of the file is on disk ...
        raise KeyboardInterrupt  # ... when the user presses Ctrl-C

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_instance(path, I.build("sensing:n=4,r=1,m=20,seed=1"))
    assert open(path, "rb").read() == before and sorted(p.name for p in tmp_path.iterdir()) == ["inst.npz"]
    monkeypatch.setattr(np, "savez_compressed", real)
    assert load_instance(path).name == inst.name
    with atomic_path(str(tmp_path / "sub" / "x.txt")) as tmp:  # the folder is created; the name keeps its extension
        assert tmp.endswith(".txt") and os.path.dirname(tmp) == str(tmp_path / "sub")
        open(tmp, "w").write("done")
    assert open(tmp_path / "sub" / "x.txt").read() == "done" and len(os.listdir(tmp_path / "sub")) == 1
