"""Bad input to the Python API is refused early, naming the value (found by an audit of the public entry points)."""
from __future__ import annotations

import numpy as np
import pytest

import benign
from benign.solvers import solve


@pytest.fixture(scope="module")
def obj():
    return benign.make_objective(benign.build("sensing:n=6,r=2,m=60,seed=0"), "l2")


def _nan_point():
    X = np.ones((6, 2))
    X[0, 0] = np.nan
    return X


@pytest.mark.parametrize("method", ["value", "grad", "hessian", "relative_error", "value_and_grad", "residual"])
@pytest.mark.parametrize("X,error,needle", [
    (_nan_point(), ValueError, "non-finite value"),
    (np.ones((6, 2)) + 1j, TypeError, "must be real"),
    (np.ones((6, 0)), ValueError, "at least one column"),
    (np.ones((5, 2)), ValueError, "must have 6 rows"),
    (np.ones((6, 2, 1)), ValueError, "1 or 2 dimensions"),
    (np.array([["a", "b"]] * 6), TypeError, "numeric array"),
])
def test_objective_methods_check_the_point(obj, method, X, error, needle):
    with pytest.raises(error, match=needle):
        getattr(obj, method)(X)


def test_objective_accepts_lists_vectors_and_checks_directions(obj):
    X = np.random.default_rng(0).standard_normal((6, 2))
    assert float(obj.value(X.tolist())) == float(obj.value(X))
    assert np.asarray(obj.grad(X[:, 0])).shape == (6, 1)  # a vector is one column
    with pytest.raises(ValueError, match="point's shape"):
        obj.hvp(X, np.ones((6, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        obj.hvp(X, _nan_point())


def test_generators_refuse_non_finite_and_truthy_strings():
    with pytest.raises(ValueError, match="tscale must be finite"):
        benign.sensing(5, m=40, tscale=float("nan"))
    with pytest.raises(ValueError, match="scale must be finite"):
        benign.sensing(5, m=40, noise="outliers", p=0.5, scale=float("inf"))
    with pytest.raises(TypeError, match="asym must be True or False"):
        benign.sensing(5, m=40, asym="no")
    inst = benign.sensing(5, m=40)
    with pytest.raises(ValueError, match="did you mean 'noise'"):
        benign.with_noise(inst, 0, nois="gaussian", sigma=1.0)
    with pytest.raises(TypeError, match="nonnegative must be True or False"):
        benign.make_objective(inst, nonnegative="no")
    with pytest.raises(TypeError, match="must be real"):
        benign.from_matrices(np.ones((3, 2, 2)) + 1j)


def test_solver_settings_are_typed(obj):
    with pytest.raises(TypeError, match="armijo='false'.*true or false"):
        solve(obj, "gd", armijo="false")  # a non-empty string is not read as True
    with pytest.raises(TypeError, match="expected a number"):
        solve(obj, "gd", step="big")
    assert solve(obj, "gd", step=np.float64(0.01), max_iter=3).iterations == 3  # NumPy scalars are numbers
    with pytest.raises(ValueError, match="raise history_every"):
        solve(obj, "gd", max_iter=2 ** 40)


def test_rip_functions_check_their_arguments():
    from benign.rip import full_rank_rip

    inst = benign.build("sensing:n=4,r=1,m=20,seed=0")
    with pytest.raises(TypeError, match="instance.operator"):
        full_rank_rip(inst)
    with pytest.raises(TypeError, match="symmetric must be True or False"):
        full_rank_rip(inst.operator, symmetric="no")


def test_counterexample_flags_are_booleans():
    from benign.counterexamples import counterexample

    with pytest.raises(TypeError, match="build must be True or False"):
        counterexample(np.array([[0.0], [0.7]]), np.array([[1.0], [0.0]]), build="no")


def test_sweep_spec_takes_numpy_integers_and_bounds_seeds(tmp_path):
    from benign.experiments import load_spec

    spec = {"sweep": {"name": "x", "seeds": np.int64(2), "batch_size": np.int64(4)},
            "grid": {"m": [np.int64(30)]},
            "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "method": "gd", "rank": 1}}
    assert len(load_spec(spec, db=str(tmp_path / "a.db")).trials) == 2
    with pytest.raises(ValueError, match="at most 2\\*\\*63 - 1"):
        load_spec(dict(spec, sweep={"name": "x", "seeds": [0, 2 ** 63]}), db=str(tmp_path / "b.db"))


def test_overflowing_measurements_are_refused():
    inst = benign.sensing(5, m=40)
    with pytest.raises(ValueError, match="not finite"):
        benign.from_arrays(inst.operator, np.ones((5, 1)) * 1e200)
    # finite measurements whose squares overflow: the loss would be inf at every point; the noise is named as the cause
    with pytest.raises(ValueError, match="overflow float64.*scale the noise down"):
        benign.from_arrays(inst.operator, np.ones((5, 1)), noise=np.full(40, 1e160))
    with pytest.raises(ValueError, match="overflow float64.*scale the truth"):  # the truth overflows, not the noise
        benign.from_arrays(inst.operator, np.ones((5, 1)) * 1e78, noise=np.ones(40))
    with pytest.raises(ValueError, match="no entry is finite"):
        benign.from_arrays(inst.operator, np.ones((5, 1)) * 1e300)


@pytest.mark.parametrize("make,needle", [
    (lambda v: benign.sensing(5, m=40, noise="gaussian", sigma=v), r"sigma = 1e\+51 is too large"),
    (lambda v: benign.with_noise(benign.sensing(5, m=40), 0, noise="outliers", p=0.5, scale=v),
     r"scale = 1e\+51 is too large"),
    (lambda v: benign.sensing(5, m=40, tscale=v ** 0.5), r"tscale = 3.16228e\+25 is too large"),
    (lambda v: benign.completion(5, rate=0.5, tscale=v ** 0.5), r"tscale = 3.16228e\+25 is too large")])
def test_the_generators_apply_the_spec_limits(make, needle):
    """The Python generators refuse the sizes a spec refuses (one rule, ``specs.check_magnitude``: noise and outlier
    sizes up to 1e50, truth scales up to 1e25), while the largest accepted ones stay representable."""
    with pytest.raises(ValueError, match=needle):
        make(1e51)
    inst = make(1e50)
    assert np.isfinite(inst.b).all() and np.isfinite(float(np.sum(np.asarray(inst.b) ** 2)))


def test_wrong_object_types_are_named():
    from benign.hunt import hunt

    with pytest.raises(TypeError, match="spec string"):
        benign.build(None)
    with pytest.raises(TypeError,
                       match=r"instance must be a benign Instance \(e.g. benign.build\(spec\)\), got str"):
        benign.make_objective("sensing:n=4,r=1,m=10")
    with pytest.raises(TypeError, match="got a string"):
        hunt("zsl-half", rank=1)
    inst = benign.build("zsl-half")
    with pytest.raises(TypeError, match="progress must be a callable"):
        hunt(inst, rank=1, progress=3)
    with pytest.raises(TypeError, match="solver_options must be a dict"):
        hunt(inst, rank=1, solver_options=[1])
    with pytest.raises(TypeError, match="progress must be a callable"):
        solve(benign.make_objective(inst), "gd", progress=5)


def test_hunt_checks_certificate_settings_before_solving():
    from benign.hunt import hunt

    with pytest.raises(ValueError, match="unknown setting 'fto'.*did you mean 'ftol'"):
        hunt(benign.build("yalcin:n=5,eps=0.3"), rank=1, starts=2, certify_options={"fto": 1e-9})


def test_solve_stacked_says_which_member_differs():
    from benign.solvers import NotStackable, solve_stacked

    a = benign.make_objective(benign.build("sensing:n=6,r=1,m=20,seed=0"))
    b = benign.make_objective(benign.build("sensing:n=6,r=1,m=20,seed=1"), "huber")
    with pytest.raises(NotStackable, match="member 1 differs from member 0.*huber"):
        solve_stacked([a, b], "gd")


def test_an_overflowing_start_is_reported_as_such(obj):
    res = solve(obj, "gd", x0=np.ones((6, 2)) * 1e200)
    assert res.status == "diverged" and res.iterations == 0 and "starting point is not finite" in res.message
    big_step = solve(obj, "gd", step=1e6, max_iter=10)
    assert big_step.status == "diverged" and "smaller step" in big_step.message


def test_hunt_accepts_the_common_certificate_settings():
    from benign.hunt import hunt

    cat = hunt(benign.build("yalcin:n=5,eps=0.3"), rank=1, starts=2, certify_options={"gtol": 1e-5, "verify": False})
    assert cat.to_dict()["instances"] == 1


def test_instances_that_cannot_fit_in_memory_are_refused_before_drawing():
    """A dense operator or an entry sample larger than the machine's memory is a ValueError naming the size (not
    NumPy's MemoryError from inside the draw), from the generators and from the spec parser alike."""
    from benign import instances as I
    from benign.specs import parse_instance

    with pytest.raises(ValueError, match=r"dense Gaussian sensing with m = 100000 .* needs at least 14\.2 PiB"):
        I.sensing(100000, 2, 100000)
    with pytest.raises(ValueError, match=r"needs at least 14\.2 PiB"):
        parse_instance("sensing:n=100000,r=2,m=100000")
    with pytest.raises(ValueError, match=r"sampling 5000000000000000 entries .* needs at least"):
        parse_instance("completion:n=100000000,r=2,count=5000000000000000")  # over 100 PiB
    with pytest.raises(ValueError, match=r"sampling .* entries of a 100000000 x 100000000 matrix"):
        I.completion(100000000, 2, rate=0.5)
    parse_instance("sensing:n=100000,r=2,m=100000,op=rankone")  # O(m n) memory: accepted


def test_certify_checks_instance_and_seed():
    from benign import instances as I
    from benign.certify import certify
    from benign.objective import make_objective

    inst = I.build("sensing:n=6,r=1,m=20,seed=0")
    for loss in ("l2", "l1"):
        obj = make_objective(inst, loss)
        with pytest.raises(TypeError,
                           match=r"instance must be a benign Instance or None \(e.g. benign.build\(spec\)\), got str"):
            certify(obj, inst.truth_point, instance="inst")
    obj = make_objective(inst, "l2")
    with pytest.raises(ValueError, match=r"\(7 x 7, m = 20\) is not the objective's \(6 x 6, m = 20\)"):
        certify(obj, inst.truth_point, instance=I.build("sensing:n=7,r=1,m=20,seed=0"))
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        certify(obj, inst.truth_point, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer, got 1.5"):
        certify(obj, inst.truth_point, seed=1.5)


def test_instance_seeds_lie_in_the_documented_range():
    from benign import instances as I
    from benign.specs import parse_instance

    with pytest.raises(ValueError, match="seed must be <= 9223372036854775807"):
        I.sensing(5, 1, 10, seed=2**64)
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 9223372036854775807\]"):
        parse_instance("sensing:n=5,r=1,m=10,seed=9223372036854775808")


def test_a_point_that_overflows_float64_is_named_not_nan():
    """A finite point whose loss overflows (|X| ~ 1e160: X X^T ~ 1e320) is a ValueError from the objective's
    methods and from certify, not a silent NaN or a LinAlgError from inside the eigensolver."""
    from benign import instances as I
    from benign.certify import certify
    from benign.objective import make_objective

    obj = make_objective(I.build("sensing:n=6,r=2,m=30,seed=0"), "l2")
    X = np.full((6, 2), 1e160)
    for method in (obj.value, obj.grad, obj.hessian, obj.value_and_grad, lambda X: obj.hvp(X, X)):
        with pytest.raises(ValueError, match=r"overflows float64 at this point \(largest \|entry\| of X: 1e\+160\)"):
            method(X)
    with pytest.raises(ValueError, match="overflows float64"):
        certify(obj, np.full((6, 2), 1e200))
    assert np.isfinite(float(obj.value(np.ones((6, 2)))))


@pytest.mark.parametrize("kw,needle", [
    (dict(noise="none", sigma=0.5), "sigma applies to noise='gaussian' only"),
    (dict(noise="none", p=0.3), "p, scale and outlier apply to noise='outliers' only"),
    (dict(noise="gaussian", sigma=0.1, outlier="sign"), "p, scale and outlier apply to noise='outliers' only"),
    (dict(noise="outliers", p=0.1, sigma=0.2), "sigma applies to noise='gaussian' only"),
    (dict(noise="gaussian"), "noise='gaussian' needs sigma > 0"),
])
def test_noise_settings_of_another_model_are_refused(kw, needle):
    """As in a spec string: a setting the chosen noise model ignores is an error, not silently dropped."""
    from benign import instances as I

    with pytest.raises(ValueError, match=needle):
        I.sensing(5, 1, 20, **kw)


@pytest.mark.parametrize("spec,needle", [
    ("sensing:n=5,r=1,m=20,noise=gaussian", "noise=gaussian needs sigma"),
    ("sensing:n=5,r=1,m=20,noise=gaussian,sigma=0", "sigma must be > 0"),
    ("sensing:n=5,r=1,m=20,noise=outliers", "noise=outliers needs p"),
    ("sensing:n=5,r=1,m=20,sigma=0.1", "sigma applies to noise=gaussian only"),
])
def test_noise_specs_are_complete(spec, needle):
    from benign.specs import parse_instance

    with pytest.raises(ValueError, match=needle):
        parse_instance(spec)


def test_points_must_be_numeric_arrays(obj):
    for X, needle in ((None, "got None"), ("abc", "got 'abc'"), (np.ones((6, 2), bool), "got booleans")):
        with pytest.raises(TypeError, match=needle):
            obj.value(X)


def test_huber_delta_that_would_underflow_the_gradient_is_refused():
    from benign.losses import HUBER_DELTA_MIN, make_loss

    with pytest.raises(ValueError, match="huber delta must be >= 1e-100.*got 1e-300"):
        make_loss("huber", delta=1e-300)
    assert make_loss("huber", delta=HUBER_DELTA_MIN).huber_delta == HUBER_DELTA_MIN
    assert make_loss("l2", delta=1e-300).name == "l2"  # delta is huber's alone


def test_a_loss_is_validated_on_construction():
    """``Loss`` is exported: a misspelt name used to behave as huber, a negative delta gave a negative loss."""
    for kw, needle in ((dict(name="foo"), "unknown loss 'foo'"), (dict(name="huber", huber_delta=-1.0), "huber_delta"),
                       (dict(name="lp", l=3), "l must be an even integer"), (dict(scale="avg"), "loss scale"),
                       (dict(name="l2", lam=5.0), "lam applies to the mixed loss, not l2"),
                       (dict(name="l1", l=6), "l applies to the lp and mixed losses")):
        with pytest.raises(ValueError, match=needle):
            benign.Loss(**kw)
    assert benign.Loss(name="mixed", lam=1, l=2) == benign.make_loss("mixed", lam=1.0, l=2)


def test_huge_integers_are_refused_by_name():
    """Past int64, NumPy and JAX failed deep inside (OverflowError, "int too large to convert to float")."""
    for make, needle in ((lambda: benign.sensing(10**400, 1, 10), "n is out of the 64-bit integer range"),
                         (lambda: benign.completion(10**30, 1, count=5), "n is out of the 64-bit integer range"),
                         (lambda: benign.build("sensing:n=1e400,r=1,m=10"), "n is out of the 64-bit"),
                         (lambda: benign.build("completion:n=4,r=1,count=10**27".replace("10**27", "1" + "0" * 27)),
                          "count is out of the 64-bit"),
                         (lambda: benign.sensing(-10**400, 1, 10), "got a negative integer of 401 digits")):
        with pytest.raises(ValueError, match=needle):
            make()


def test_flags_and_objects_are_checked(obj):
    inst = benign.sensing(4, 1, 20, seed=0)
    for make, exc, needle in (
            (lambda: benign.sensing(4, 1, 20, device="no"), TypeError, "device must be True or False"),
            (lambda: benign.from_arrays(inst.operator, np.ones((4, 1)), nonnegative="no"), TypeError, "nonnegative"),
            (lambda: benign.from_arrays(np.eye(4), np.ones((4, 1))), TypeError, "operator must be a benign Operator"),
            (lambda: benign.from_arrays(inst.operator, np.ones((4, 1)), meta=[1, 2]), TypeError, "meta must be"),
            (lambda: benign.make_objective(inst, factorization=""), ValueError, "factorization must be one of"),
            (lambda: benign.kernel(inst), TypeError, "op must be a benign Operator"),
            (lambda: benign.with_noise("x", 1, noise="gaussian", sigma=0.1), TypeError, "inst must be"),
            (lambda: benign.relative_error(benign.make_objective(inst), np.ones(4)), TypeError, "inst must be"),
            (lambda: benign.relative_error(inst, np.full((4, 1), np.nan)), ValueError, "non-finite"),
            (lambda: benign.factored_distance(inst, np.ones((5, 2))), ValueError, "X must have 4 rows"),
            (lambda: benign.parse_point(1.0), TypeError, "a point to parse must be a string"),
            (lambda: benign.entry_sampling([0, 1], [1, 0], (2,)), ValueError, r"shape must be a pair"),
            (lambda: benign.from_kernel(np.eye(4), rtol=-1), ValueError, "rtol must be >= 0"),
            (lambda: obj.value([[1, 0], [0], [1, 1], [0, 0]]), ValueError, "X must be a rectangular array"),
            (lambda: benign.slice_2d(inst, np.ones((4, 1)), np.ones((4, 1)), np.ones((4, 1)), [0.0], [0.0]),
             TypeError, "obj must be a benign Objective")):
        with pytest.raises(exc, match=needle):
            make()


def test_a_nonnegative_slice_checks_the_direction_shape():
    """A direction of the wrong shape was reshaped to the point's when X >= 0 was imposed."""
    nobj = benign.make_objective(benign.sensing(4, 1, 20, seed=0, truth="nonneg"))
    for D in (np.arange(4.0).reshape(2, 2), np.ones((1, 4)), np.ones(8)):
        with pytest.raises(ValueError, match="D must have 4 rows"):
            benign.slice_1d(nobj, np.ones((4, 1)), D, [0.0, 1.0], hessian=False)
    out = benign.slice_1d(nobj, np.ones((4, 1)), -np.ones((4, 1)), [0.0, 1.0], hessian=False)  # signs allowed
    assert out["f"][1] == pytest.approx(float(nobj.value(np.zeros((4, 1)))))
    with pytest.raises(TypeError, match="hessian must be True or False"):
        benign.slice_1d(nobj, np.ones((4, 1)), np.ones((4, 1)), [0.0], hessian="no")


def test_point_files_are_checked_before_writing(tmp_path):
    from benign.io import load_point, save_instance, save_point

    inst = benign.sensing(4, 1, 20, seed=0)
    other = benign.make_objective(benign.sensing(5, 1, 20, seed=0))
    for call, exc, needle in (
            (lambda: save_point(str(tmp_path / "p.npy"), np.full((4, 1), np.nan)), ValueError, "non-finite"),
            (lambda: save_point(str(tmp_path / "p.csv"), np.ones((1, 3))), ValueError, "read back from .csv"),
            (lambda: save_point(None, np.ones((4, 1))), TypeError, "path must be a path"),
            (lambda: save_instance(str(tmp_path / "i"), inst, point=np.ones((7, 3))), ValueError, "point must have"),
            (lambda: save_instance(str(tmp_path / "i"), inst, point=np.full((4, 1), np.inf)), ValueError, "non-fin"),
            (lambda: save_instance(str(tmp_path / "i"), inst, point=np.ones((4, 1)), objective=other), ValueError,
             "does not belong to the instance"),
            (lambda: load_point(None), TypeError, "point file must be a path")):
        with pytest.raises(exc, match=needle):
            call()
    assert not any(tmp_path.iterdir())  # nothing half-written
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    assert np.array_equal(load_point(save_point(str(tmp_path / "p.csv"), X)), X)
    assert np.array_equal(load_point(save_instance(str(tmp_path / "i"), inst, point=X)), X)


def test_solver_arguments_are_checked_even_when_unused(obj):
    X0 = np.ones((6, 1))
    with pytest.raises(ValueError, match="unknown init 'bogus'"):
        solve(obj, "gd", x0=X0, init="bogus", max_iter=1)
    with pytest.raises(ValueError, match="init_scale must be finite"):
        solve(obj, "gd", x0=X0, init_scale=float("nan"), max_iter=1)
    with pytest.raises(ValueError, match="x0s holds no starting point"):
        benign.solve_many(obj, "gd", x0s=np.ones((0, 6, 1)))


def test_an_f_star_above_the_start_is_refused():
    """f_star above f(X0) made the ftol test pass at iteration 0 ("converged" at relative error 3.3) and froze
    Polyak steps at 0."""
    o1 = benign.make_objective(benign.sensing(5, 1, 40, seed=0, noise="outliers", p=0.1), "l1")
    with pytest.raises(ValueError, match=r"f_star = 500 is not below f\(X0\) = "):
        solve(o1, "subgradient", rank=1, f_star=500.0, ftol=1e-6)
    with pytest.raises(ValueError, match=r"is not below f\(X0\) of start \d"):
        benign.solve_many(o1, "subgradient", starts=3, rank=1, schedule="polyak", f_star=1e6)
    # read by neither Polyak steps nor ftol: refused as unused (test_solver_options), not checked against f(X0)
    with pytest.raises(ValueError, match="f_star=500.0 of method 'subgradient' is read by schedule='polyak' and"):
        solve(o1, "subgradient", rank=1, f_star=500.0, max_iter=5)


def test_parallel_slice_directions_are_refused():
    inst = benign.sensing(4, 1, 20, seed=0)
    obj = benign.make_objective(inst)
    D = np.arange(1.0, 5.0).reshape(4, 1)
    with pytest.raises(ValueError, match="D2 is parallel to D1"):
        benign.slice_2d(obj, inst.truth_point, D, -2.5 * D, [0.0, 1.0], [0.0, 1.0], hessian=False)


def test_sweep_and_hunt_refuse_up_front_what_the_runs_would_refuse():
    """Refused by the validation of a sweep trial (before any trial runs) and by hunt (before any start is solved),
    not by every run: gtol >= 1, a spectral start with a scale, the smooth certifier settings on the l1 loss."""
    from benign.experiments.solve_trial import validate
    from benign.hunt import hunt

    for params, needle in (({"gtol": 1.0}, "gtol must be < 1.0"),
                           ({"init": "spectral", "init_scale": 0.1}, "spectral start has its own scale"),
                           ({"loss": "l1", "certify": True, "certify_options": {"gtol": 1e-5}},
                            r"l1 certifier does not take certify_options.gtol=1e-05")):
        with pytest.raises(ValueError, match=needle):
            validate({"instance": "sensing:n=4,r=1,m=20,seed=0", **params})
    with pytest.raises(ValueError, match="l1 certifier does not take gtol"):
        hunt(benign.build("sensing:n=4,r=1,m=20,seed=0"), "l1", rank=1, starts=2, certify_options={"gtol": 1e-5})


def test_atomic_writes_keep_links_and_modes(tmp_path):
    import os

    from benign.atomic import write_text

    real = tmp_path / "real.txt"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text(str(link), "new")
    assert link.is_symlink() and real.read_text() == "new" and (os.stat(real).st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]
