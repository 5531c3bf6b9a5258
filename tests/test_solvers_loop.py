"""The shared loop (stopping rules, history, multi-start), initial points, numerical kernels and validation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benign._jax import jnp
from benign import instances as I
from benign.objective import make_objective
from benign.solvers import GradientDescent, initial_point, solve, solve_many
from benign.solvers.base import matrix_distance, relative_error
from benign.solvers.trust_region import lanczos_min, steihaug_cg


@pytest.fixture(scope="module")
def well():
    inst = I.build("sensing:n=10,r=2,m=150,seed=0")
    return inst, make_objective(inst, "l2")


# ---------------------------------------------------------------------------------------- kernels

@pytest.mark.parametrize("spec", ["sensing:n=7,r=2,m=60,seed=1", "sensing:n=6,d2=5,r=2,m=60,seed=1"])
def test_matrix_distance_is_accurate_near_the_truth(spec):
    """The QR form has no sqrt(eps) floor: at a 1e-11 perturbation of the truth it matches the dense distance."""
    inst = I.build(spec)
    obj = make_objective(inst)
    rng = np.random.default_rng(0)
    T = inst.truth_point
    Ms = inst.truth_matrix()
    for scale in (1.0, 1e-6, 1e-11):
        X = np.concatenate([T, np.zeros((T.shape[0], 1))], axis=1) + scale * rng.standard_normal((T.shape[0], 3))
        d1 = inst.shape[0]
        M = X @ X.T if inst.symmetric else X[:d1] @ X[d1:].T
        dense = np.linalg.norm(M - Ms)
        assert abs(float(matrix_distance(obj, jnp.asarray(X))) - dense) <= 1e-13 * np.linalg.norm(Ms) + 1e-3 * dense
        assert float(relative_error(obj, jnp.asarray(X))) == pytest.approx(dense / np.linalg.norm(Ms), rel=1e-3)


def _unbalanced(obj, g: float):
    """``obj`` with its asymmetric truth refactored as ``(L G, R G^-T)`` (the same ``M*``), ``G`` ill-conditioned
    (``diag(g, 1/g, ...)`` times a rotation): factors whose norms are far above ``||M*||``."""
    from dataclasses import replace

    L, R = obj.split(np.asarray(obj.truth))
    r = L.shape[1]
    c, s_ = np.cos(0.7), np.sin(0.7)
    rot = np.eye(r)
    rot[:2, :2] = [[c, -s_], [s_, c]]
    G = np.diag(np.geomspace(g, 1.0 / g, r)) @ rot
    return replace(obj, truth=jnp.asarray(np.concatenate([L @ G, R @ np.linalg.inv(G).T], axis=0)))


@pytest.mark.parametrize("spec,g", [("sensing:n=7,r=2,m=60,seed=1", 1.0), ("sensing:n=6,d2=5,r=2,m=60,seed=1", 1.0),
                                    ("completion:n=12,r=1,rate=0.6,seed=2", 1.0),
                                    ("sensing:n=20,d2=18,r=2,m=200,seed=4", 100.0),
                                    ("sensing:n=20,d2=18,r=2,m=200,seed=4", 1e4)])
def test_error_screen_never_rejects_a_point_within_rtol(spec, g):
    """``_may_reach`` (the Gram-formula screen in front of the exact error) passes every point whose exact error is
    within ``rtol`` -- down to errors of 1e-13, where the Gram formula itself is pure rounding, and also for a truth
    given by unbalanced factors (``g > 1``), whose Gram sums are far larger than ``||M*||^2`` -- and rejects points
    that are clearly farther."""
    from benign.solvers.base import truth_basis
    from benign.solvers.loop import _may_reach

    obj = make_objective(I.build(spec))
    if g != 1.0:
        obj = _unbalanced(obj, g)
    basis = truth_basis(obj)
    L, R = obj.split(np.asarray(obj.truth))
    U0, sv, Vt = np.linalg.svd(L @ R.T if not obj.symmetric else L @ L.T)
    k = L.shape[1]
    T = np.asarray(obj.truth) if obj.symmetric else np.concatenate([U0[:, :k] * np.sqrt(sv[:k]),
                                                                    Vt[:k].T * np.sqrt(sv[:k])], axis=0)
    rng = np.random.default_rng(3)
    passed = rejected = 0
    for scale in np.concatenate([[0.0], np.geomspace(1.0, 1e-13, 27)]):
        X = jnp.asarray(T + scale * rng.standard_normal(T.shape))
        err = float(relative_error(obj, X))
        for rtol in (1e-3, 1e-6, 1e-8, 1e-10, 1e-12):
            screen = bool(_may_reach(obj, X, basis, rtol))
            if err <= rtol:
                assert screen, (scale, err, rtol)
                passed += 1
            elif err > 1e3 * max(rtol, 1e-7):  # far above the screen's rounding allowance (balanced factors)
                assert g != 1.0 or not screen, (scale, err, rtol)
                rejected += not screen
    assert passed > 20
    if g == 1.0:  # (unbalanced factors widen the allowance by (||L|| ||R|| / ||M*||)^2: the screen passes more)
        assert rejected > 20


def test_rtol_rule_stops_at_the_first_iteration_within_rtol(well):
    """With the screen the run still stops at the first iteration whose exact error is within ``rtol``: the full
    history (``history_every=1``) records the exact error of every iteration."""
    inst, obj = well
    for rtol in (1e-4, 1e-9, 1e-12):
        res = solve(obj, "gd", seed=4, rtol=rtol, gtol=0.0, history_every=1, stall_window=0)
        err = np.asarray(res.history["error"])
        assert res.status == "converged" and err[-1] <= rtol and np.all(err[:-1] > rtol)
        assert res.relative_error == err[-1]
        # a thinned history: the screen alone decides where the exact error is computed, and the run is the same
        thin = solve(obj, "gd", seed=4, rtol=rtol, gtol=0.0, history_every=100_000, stall_window=0)
        assert thin.iterations == res.iterations and thin.relative_error == res.relative_error
        assert np.array_equal(thin.x, res.x)


def test_steihaug_cg_against_dense_solutions():
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    g = rng.standard_normal(12)
    H = Q @ np.diag(np.linspace(1.0, 5.0, 12)) @ Q.T
    hvp = lambda d: jnp.asarray(H) @ d  # noqa: E731
    # interior Newton step
    p, Hp, its, hit = steihaug_cg(hvp, jnp.asarray(g), 1e6, 1e-12, 100)
    assert not bool(hit) and np.allclose(np.asarray(p), -np.linalg.solve(H, g), atol=1e-10)
    assert np.allclose(np.asarray(Hp), H @ np.asarray(p), atol=1e-10)
    # small radius: on the boundary, and at least the Cauchy decrease
    radius = 0.1
    p, Hp, its, hit = steihaug_cg(hvp, jnp.asarray(g), radius, 1e-12, 100)
    p = np.asarray(p)
    model = lambda s: g @ s + 0.5 * s @ H @ s  # noqa: E731
    cauchy = -radius * g / np.linalg.norm(g)
    assert bool(hit) and np.linalg.norm(p) == pytest.approx(radius, rel=1e-12)
    assert model(p) <= model(cauchy) + 1e-14
    # indefinite: negative curvature is followed to the boundary
    Hn = Q @ np.diag(np.linspace(-2.0, 5.0, 12)) @ Q.T
    p, _, _, hit = steihaug_cg(lambda d: jnp.asarray(Hn) @ d, jnp.asarray(g), 1.0, 1e-12, 100)
    p = np.asarray(p)
    assert bool(hit) and np.linalg.norm(p) == pytest.approx(1.0, rel=1e-12)
    assert g @ p + 0.5 * p @ Hn @ p < 0


def test_lanczos_extreme_eigenpairs():
    rng = np.random.default_rng(4)
    B = rng.standard_normal((5, 4))
    H = rng.standard_normal((20, 20))
    H = 0.5 * (H + H.T)
    lam, V = np.linalg.eigh(H)
    lmin, lmax, u = lanczos_min(lambda d: (jnp.asarray(H) @ d.reshape(-1)).reshape(d.shape),
                                jnp.asarray(B), 20)
    u = np.asarray(u).reshape(-1)
    assert float(lmin) == pytest.approx(lam[0], abs=1e-10) and float(lmax) == pytest.approx(lam[-1], abs=1e-10)
    assert np.linalg.norm(H @ u - lam[0] * u) <= 1e-8


# ---------------------------------------------------------------------------------------- loop

def test_history_thinning_and_bookkeeping(well):
    _, obj = well
    X0 = initial_point(obj, 2, seed=3)
    res = solve(obj, "gd", x0=X0, history_every=7)
    h = res.history
    assert set(h) == {"iteration", "loss", "error", "grad_norm", "step"}
    k = res.iterations
    expect = list(range(0, k + 1, 7)) + ([k] if k % 7 else [])
    assert h["iteration"].tolist() == expect
    assert h["loss"][0] == pytest.approx(float(obj.value(X0)), rel=1e-14)
    assert h["grad_norm"][0] == pytest.approx(float(np.linalg.norm(np.asarray(obj.grad(X0)))), rel=1e-12)
    assert h["loss"][-1] == res.loss and h["grad_norm"][-1] == res.grad_norm
    assert np.all(h["step"][1:] == res.options["step"])
    assert res.grad_norm <= 1e-10 * h["grad_norm"][0] < h["grad_norm"][-2]
    json.dumps(res.to_dict(include_history=True))  # JSON-ready


def test_history_buffer_sizes():
    """A thinned history keeps a power of two, at least 16; a full one (every iteration) at least ``min_hist`` (so
    that runs with different ``max_iter`` share one compiled program)."""
    from benign.solvers.loop import make_control

    kw = dict(gtol=0.0, rtol=None, stall_rtol=0.0, stall_window=0, diverge_factor=10.0)
    assert make_control(**kw, max_iter=5000, every=5000, min_hist=16384).hist_len == 16
    assert make_control(**kw, max_iter=150, every=10, min_hist=16384).hist_len == 16
    assert make_control(**kw, max_iter=400, every=20, min_hist=16384).hist_len == 32  # 21 records
    assert make_control(**kw, max_iter=200, every=1, min_hist=16384).hist_len == 16384
    assert make_control(**kw, max_iter=10, every=1, min_hist=16384).hist_len == 16384
    assert make_control(**kw, max_iter=40_000, every=1, min_hist=16384).hist_len == 65536
    assert make_control(**kw, max_iter=200, every=1).hist_len == 256


def test_rtol_stall_and_max_iterations(well):
    inst, obj = well
    loose = solve(obj, "gd", seed=1, rtol=1e-3)
    full = solve(obj, "gd", seed=1)
    assert loose.status == "converged" and "rtol" in loose.message
    # the message names the test that stopped the run, with its numbers (not every test that could have)
    assert loose.message == f"converged: relative_error = {loose.relative_error:.3g} <= rtol = 0.001"
    assert full.message.startswith(f"converged: ||grad f||_F = {full.grad_norm:.3g} <= gtol") and "rtol" not in \
        full.message
    assert loose.relative_error <= 1e-3 < loose.history["error"][-2] and loose.iterations < full.iterations
    stall = solve(obj, "gd", seed=1, gtol=0.0, stall_window=50, max_iter=20_000)
    assert stall.status == "stalled" and stall.iterations % 50 == 0 and stall.relative_error <= 1e-12
    capped = solve(obj, "gd", seed=1, max_iter=5)
    assert capped.status == "max_iterations" and capped.iterations == 5
    none = I.from_arrays(inst.operator, inst.truth_left)
    blind = make_objective(none, "l2")
    object.__setattr__(blind, "truth", None)  # an objective without a known truth
    res = solve(blind, "gd", seed=1, rank=2)
    assert np.isnan(res.relative_error) and np.all(np.isnan(res.history["error"]))


@pytest.mark.parametrize("kw", [{"tscale": 1e55}, {"sigma": 1e110}])
def test_a_gradient_that_overflows_at_the_start_is_divergence_not_convergence(kw):
    """A finite loss whose gradient norm overflows (measurements ~1e110) used to pass the gradient test as
    inf <= gtol * max(1, inf) = inf, "converged" after 0 iterations; it is divergence at the start, said so. (The
    generators refuse such sizes, so the instance is assembled from its parts.)"""
    base = I.sensing(5, 1, 20, seed=0)
    noise = kw.get("sigma", 0.0) * np.random.default_rng(0).standard_normal(20)
    inst = I.from_arrays(base.operator, base.truth_left * kw.get("tscale", 1.0), noise=noise)
    obj = make_objective(inst, "l2")
    for method in ("gd", "scaled-gd"):
        res = solve(obj, method)
        assert np.isfinite(res.details["initial_loss"])
        assert res.status == "diverged" and res.iterations == 0, (method, res.status, res.message)
        assert res.message.startswith("diverged at the start:") and "(the gradient)" in res.message
    batch = solve_many(obj, "gd", starts=2)  # the batched loop applies the same rule
    assert [r.status for r in batch] == ["diverged", "diverged"]


def test_progress_chunks_give_the_same_run():
    inst = I.build("sensing:n=10,r=2,m=150,seed=1,cond=100")
    obj = make_objective(inst, "l2")
    seen = []
    a = solve(obj, "gd", seed=0, progress=lambda k, total: seen.append((k, total)))
    b = solve(obj, "gd", seed=0)
    assert a.iterations > 2000 and len(seen) >= 2 and seen[-1][0] == a.iterations
    assert a.iterations == b.iterations and np.array_equal(a.x, b.x)
    assert (a.loss, a.relative_error, a.grad_norm, a.status) == (b.loss, b.relative_error, b.grad_norm, b.status)
    assert all(np.array_equal(a.history[k], b.history[k], equal_nan=True) for k in b.history)
    assert {k: v for k, v in a.details.items() if not k.endswith("seconds")} == \
        {k: v for k, v in b.details.items() if not k.endswith("seconds")}
    many = solve_many(obj, "scaled-gd", starts=2, seed=4, history_every=7, progress=lambda k, total: None)
    plain = solve_many(obj, "scaled-gd", starts=2, seed=4, history_every=7)
    for u, v in zip(many, plain):  # (a vmapped run's recorded errors are the same to rounding: last bits)
        assert u.iterations == v.iterations and np.array_equal(u.x, v.x) and u.relative_error == v.relative_error
        assert all(np.array_equal(u.history[k], v.history[k]) for k in v.history if k != "error")
        np.testing.assert_allclose(u.history["error"], v.history["error"], rtol=1e-12, atol=1e-14)


def test_final_state_unpacks_to_numpy():
    """A whole run returns a :class:`Final` (point, method state, history, one vector of scalars); ``unpack`` gives a
    NumPy State with exact integer fields and None for what only the iteration reads, batched or not."""
    from benign.solvers import loop
    from benign.solvers.api import make_solver, run_keys

    inst = I.build("sensing:n=6,r=1,m=40,seed=2")
    obj = make_objective(inst, "l2")
    X0 = np.asarray(initial_point(obj, 1, seed=0))
    solver = make_solver("gd", {}).resolve(obj, type("S", (), {"sigma": 6.0, "gain": 1.0, "rows": 6})(), X0)
    control = loop.make_control(gtol=0.0, rtol=None, stall_rtol=0.0, stall_window=0, diverge_factor=1e12,
                                max_iter=37, every=10)
    one, _, _ = loop.run(solver, obj, X0, run_keys(0, 1)[0], control, batched=False)
    assert one.k.dtype == np.int64 and int(one.k) == 37 and one.status.dtype == np.int32
    assert int(one.status) == loop.MAX_ITERATIONS and one.x.shape == (6, 1) and one.hist.shape == (4, 16)
    assert one.g is None and one.key is None and one.basis is None and one.best is None
    assert float(one.err) == float(obj.relative_error(one.x)) and float(one.ctx.f0) == float(obj.value(X0))
    two, _, _ = loop.run(solver, obj, np.stack([X0, 2 * X0]), run_keys(0, 2), control, batched=True)
    assert two.k.shape == (2,) and two.x.shape == (2, 6, 1) and two.hist.shape == (2, 4, 16)
    assert np.allclose(two.x[0], one.x, rtol=1e-12, atol=1e-14) and int(two.k[1]) == 37  # vmap: to rounding


def test_solve_many_matches_solve(well):
    inst, obj = well
    many = solve_many(obj, "gd", starts=3, seed=11)
    one = solve(obj, "gd", seed=11)
    assert len(many) == 3 and [r.details["start"] for r in many] == [0, 1, 2]
    assert many[0].iterations == one.iterations and np.allclose(many[0].x, one.x, rtol=1e-10, atol=1e-12)
    assert not np.allclose(many[1].history["loss"][0], many[2].history["loss"][0])
    for r in many:
        assert r.status == "converged" and r.relative_error <= 1e-8
        assert r.history["iteration"][-1] == r.iterations
    # explicit starts (same batch size: no new compilation), with different lengths of run
    X0 = initial_point(obj, 2, seed=5, count=3)
    X0[1] = np.asarray(inst.truth_point) + 1e-3
    runs = solve_many(obj, GradientDescent(), x0s=X0)
    assert runs[1].iterations < runs[0].iterations and runs[1].status == runs[0].status == "converged"
    single = solve(obj, "gd", x0=X0[1])
    assert runs[1].iterations == single.iterations and np.allclose(runs[1].x, single.x, rtol=1e-10, atol=1e-12)


def test_initial_points(well):
    inst, obj = well
    a = initial_point(obj, 3, "random", seed=2)
    assert a.shape == (10, 3) and np.array_equal(a, initial_point(obj, 3, "random", seed=2))
    assert not np.array_equal(a, initial_point(obj, 3, "random", seed=3))
    batch = initial_point(obj, 3, "random", seed=2, count=4)
    assert batch.shape == (4, 10, 3) and np.array_equal(batch[0], a)
    assert np.max(np.abs(initial_point(obj, 3, "small", seed=2))) < 1e-2  # default alpha = 1e-3
    nn = make_objective(I.build("sensing:n=10,r=2,m=150,seed=0,truth=nonneg"), "l2")
    assert np.all(initial_point(nn, 2, "random", seed=0) >= 0)
    # spectral: the top-2 eigenvectors of the dense sym(A*(b)), rescaled by least squares
    spec = initial_point(obj, 2, "spectral", seed=0)
    mats = inst.operator.matrices()
    B = np.einsum("i,ijk->jk", inst.b, mats)
    lam, V = np.linalg.eigh(0.5 * (B + B.T))
    top = V[:, -2:]
    Q = np.linalg.qr(spec)[0]
    assert np.linalg.norm(Q @ Q.T - top @ top.T) <= 1e-8
    P = spec @ spec.T
    a_P = np.einsum("ijk,jk->i", mats, P)
    assert a_P @ (a_P - inst.b) == pytest.approx(0.0, abs=1e-8 * np.linalg.norm(a_P) ** 2)  # optimal scale


def test_random_and_small_share_the_gaussian_draw(well):
    _, obj = well
    r = initial_point(obj, 2, "random", scale=0.5, seed=7)
    s = initial_point(obj, 2, "small", scale=1e-3, seed=7)
    assert np.allclose(r / 0.5, s / 1e-3, rtol=1e-12)
    g = r / 0.5
    assert abs(g.mean()) < 1.0 and 0.3 < g.std() < 2.0


@pytest.mark.parametrize("call,needle", [
    (lambda o: solve(o, "gdd"), "did you mean 'gd'"),
    (lambda o: solve(o, "gd", stepp=1.0), "did you mean 'step'"),
    (lambda o: solve(o, "gd", step=-1.0), "step must be > 0"),
    (lambda o: solve(o, "gd", x0=np.zeros((10, 2)), rank=3), "disagrees"),
    (lambda o: solve(o, "gd", x0=np.zeros((9, 2))), "must have 10 rows"),
    (lambda o: solve(o, "gd", init="spectrall"), "did you mean 'spectral'"),
    (lambda o: solve(o, "gd", init_scale=0.0), "init_scale must be > 0"),
    (lambda o: solve(o, "gd", max_iter=-1), "max_iter must be >= 0"),
    (lambda o: solve(o, "perturbed-gd", rule="jim"), "did you mean 'jin'"),
    (lambda o: solve(o, "projected-gd"), "nonnegative"),
    (lambda o: solve(o.with_loss(__import__("benign").make_loss("l1")), "trust-region"), "l1"),
    (lambda o: solve(o, "convex", max_dim=5), "max_dim = 5"),
    (lambda o: solve_many(o, "convex", starts=2), "takes no starting point"),
    (lambda o: solve(o, "convex", max_iter=10, seed=3), "the convex baseline ignores seed, max_iter"),
    (lambda o: solve(o, "convex", gtol=1e-3, stall_window=5), "ignores gtol, stall_window"),
    (lambda o: solve(o, "convex", init="small", history_every=2), "ignores init, history_every"),
    (lambda o: solve(object(), "gd"), "Objective"),
    (lambda o: solve(o, "gd", seed=2**63), "seed must be <= 9223372036854775807"),
    (lambda o: solve(o, "gd", seed=-1), "seed must be >= 0"),
])
def test_validation_errors(well, call, needle):
    _, obj = well
    with pytest.raises((ValueError, TypeError), match=None) as info:
        call(obj)
    assert needle in str(info.value)


def test_unconstrained_method_on_nonnegative_objective_is_refused():
    nn = make_objective(I.build("sensing:n=10,r=2,m=150,seed=0,truth=nonneg"), "l2")
    with pytest.raises(ValueError, match="projected-gd"):
        solve(nn, "gd")


def test_gradient_test_is_scale_invariant_on_small_data():
    """The floor of the relative gradient test follows the data's scale: at tscale = 1e-4 (gradients ~1e-12) GD and
    the trust region run as at tscale = 1 (same iterations, same relative error), where a floor of 1 let the start
    pass the test (converged after 1 iteration at relative error 1.0)."""
    import benign
    from benign.solvers.loop import gradient_floor

    runs = {}
    for t in (1.0, 1e-4):
        obj = benign.make_objective(benign.build(f"sensing:n=4,r=1,m=20,seed=0,tscale={t:g}"), "l2")
        floor = float(gradient_floor(obj))
        assert (floor == 1.0) if t == 1.0 else (0 < floor < 1e-10)
        mean = benign.make_objective(benign.build(f"sensing:n=4,r=1,m=20,seed=0,tscale={t:g}"), "l2:scale=mean")
        assert float(gradient_floor(mean)) == floor  # the loss's scale c is left out: mean runs stop as before
        for method in ("gd", "trust-region"):
            runs[t, method] = solve(obj, method, seed=0)
    for method in ("gd", "trust-region"):
        big, small = runs[1.0, method], runs[1e-4, method]
        assert small.status == big.status == "converged" and small.relative_error <= 1e-8
        assert abs(small.iterations - big.iterations) <= 1, (method, small.iterations, big.iterations)


def test_a_start_at_a_noiseless_minimum_is_not_divergence():
    """At the truth of a noiseless instance f(X0) is ~1e-30, so 'f > 1e12 f(X0)' read any perturbation as divergence
    (both perturbed-GD rules stopped at iteration 0 with 'try a smaller step'); the rule's scale is max(f(X0), f(0)):
    Jin's rule now perturbs and returns the minimum (converged), the noise rule hovers at its noise floor."""
    inst = I.build("sensing:n=5,r=2,m=60,seed=0")
    obj = make_objective(inst, "l2")
    Z = np.asarray(obj.truth)
    jin = solve(obj, "perturbed-gd", x0=Z, rule="jin", max_iter=1000)
    assert jin.status == "converged" and jin.details["perturbations"] >= 1 and np.array_equal(jin.x, Z)
    noise = solve(obj, "perturbed-gd", x0=Z, rule="noise", max_iter=1000)
    assert noise.status != "diverged" and noise.details["perturbations"] > 0 and noise.relative_error < 1e-4
    huge = solve(obj, "gd", x0=Z + 0.1, step=1e3)  # a real divergence is still one
    assert huge.status == "diverged" and np.all(np.isfinite(huge.x))


def test_problem_scale_when_the_extreme_eigenvalues_have_opposite_signs():
    """sigma = ||sym(A*(b))||_2: with extreme eigenvalues -28.6 and 29.6 the power iteration's Rayleigh quotient
    settled nowhere and gave 16.7 (default steps 1.8x too long); ||S v|| is used where it has not settled."""
    from benign.solvers.init import problem_scale

    inst = I.build("sensing:n=5,r=2,m=60,seed=0,noise=outliers,p=0.2")
    obj = make_objective(inst, "l2")
    A, b = np.asarray(inst.operator.matrices()), np.asarray(inst.b)
    S = np.einsum("i,ijk->jk", b, A)
    eig = np.linalg.eigvalsh(0.5 * (S + S.T))
    assert eig[0] < -0.9 * eig[-1] < 0  # the hard case
    sigma = problem_scale(obj, 2, 0).sigma
    assert 0.98 * np.abs(eig).max() <= sigma <= np.abs(eig).max() * (1 + 1e-12)  # measured: 29.41 against 29.64


def test_problem_scale_is_remembered_only_for_the_same_immutable_objective():
    """A second call on the same objective (JAX arrays) returns the stored scale; another objective, seed or rank
    computes its own; an objective on the host (NumPy arrays, mutable) is recomputed -- and follows a changed ``b``."""
    from benign.solvers.init import problem_scale

    spec = "sensing:n=6,r=2,m=40,seed=3"
    obj = make_objective(I.build(spec), "l2")
    first = problem_scale(obj, 2, 0)
    assert problem_scale(obj, 2, 0) is first
    twin = make_objective(I.build(spec), "l2")  # equal data, another object: computed again, the same numbers
    again = problem_scale(twin, 2, 0)
    assert again is not first and again == first
    assert problem_scale(obj, 2, 1) != first and problem_scale(obj, 1, 0) != first
    host = make_objective(I.build(spec, device=False), "l2")
    h1 = problem_scale(host, 2, 0)
    assert h1 == first and problem_scale(host, 2, 0) is not h1
    host.b[:] *= 2.0  # NumPy data can change in place: the scale follows it
    assert problem_scale(host, 2, 0).sigma == pytest.approx(2.0 * h1.sigma, rel=1e-12)
