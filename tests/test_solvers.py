"""Local methods recover the ground truth; errors are measured densely with NumPy (independent of the solvers)."""
from __future__ import annotations

import numpy as np
import pytest

from benign import instances as I
from benign.objective import make_objective
from benign.solvers import GradientDescent, initial_point, solve


def dense_error(inst, X) -> float:
    """``||M(X) - M*||_F / ||M*||_F`` from dense matrices."""
    X = np.asarray(X)
    if inst.symmetric:
        M = X @ X.T
    else:
        d1 = inst.shape[0]
        M = X[:d1] @ X[d1:].T
    Ms = inst.truth_matrix()
    return float(np.linalg.norm(M - Ms) / np.linalg.norm(Ms))


@pytest.fixture(scope="module")
def well():
    inst = I.build("sensing:n=10,r=2,m=150,seed=0")
    return inst, make_objective(inst, "l2")


@pytest.mark.parametrize("method,options", [
    ("gd", {}), ("gd", {"armijo": True}), ("perturbed-gd", {}),
    ("scaled-gd", {}), ("prec-gd", {}), ("trust-region", {}),
])
def test_smooth_methods_recover_truth(well, method, options):
    inst, obj = well
    res = solve(obj, method, seed=1, **options)
    assert res.status == "converged"
    err = dense_error(inst, res.x)
    assert err <= 1e-8, (method, options, err, res.message)
    # the reported error is the dense one (the stable factored formula has no sqrt(eps) floor)
    assert abs(res.relative_error - err) <= 1e-12
    assert abs(res.loss - float(obj.value(res.x))) <= 1e-12 * max(1.0, abs(res.loss))
    assert res.history["loss"][-1] == res.loss and res.history["iteration"][-1] == res.iterations


def test_armijo_decreases_monotonically_and_fixed_step_matches_numpy(well):
    inst, obj = well
    res = solve(obj, "gd", seed=2, armijo=True)
    assert np.all(np.diff(res.history["loss"]) <= 0)
    # fixed-step GD: the iterates equal a plain NumPy loop with the closed-form gradient 2 sym(A*(rho)) X
    step = 2e-3
    X0 = np.random.default_rng(0).standard_normal((10, 2))
    res = solve(obj, GradientDescent(step=step), x0=X0, max_iter=25, gtol=0.0)
    A = inst.operator.matrices().reshape(inst.m, -1)
    X = X0.copy()
    for _ in range(25):
        rho = A @ (X @ X.T).ravel() - inst.b
        S = (rho @ A).reshape(10, 10)
        X = X - step * (S + S.T) @ X
    assert np.allclose(res.x, X, rtol=1e-10, atol=1e-12)


def test_too_large_step_diverges_with_finite_numbers(well):
    _, obj = well
    res = solve(obj, "gd", step=1.0, seed=0)
    assert res.status == "diverged" and "diverged" in res.message
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.loss) and np.isfinite(res.grad_norm)
    assert res.loss == pytest.approx(float(obj.value(res.x)), rel=1e-12)
    assert np.all(np.isfinite(res.history["loss"]))


def test_projected_gd_keeps_nonnegativity_and_recovers():
    inst = I.build("sensing:n=10,r=2,m=150,seed=0,truth=nonneg")
    obj = make_objective(inst, "l2")
    assert obj.nonnegative
    for opts in ({}, {"armijo": True}):
        res = solve(obj, "projected-gd", seed=0, **opts)
        assert res.status == "converged"
        assert np.all(res.x >= 0.0)
        assert dense_error(inst, res.x) <= 1e-8
        # KKT at the end: G_ij = 0 where X_ij > 0, G_ij >= 0 where X_ij = 0 (up to the stopping tolerance)
        G = np.asarray(obj.grad(res.x))
        tol = 10 * res.details["gradient_threshold"]
        assert np.all(np.abs(G[res.x > 0]) <= tol) and np.all(G[res.x == 0] >= -tol)


def test_projected_gd_stays_nonnegative_on_every_iterate():
    """A start with zeros and a step large enough to hit the boundary: every iterate stays >= 0."""
    inst = I.build("sensing:n=10,r=2,m=150,seed=3,truth=nonneg")
    obj = make_objective(inst, "l2")
    X0 = np.abs(np.random.default_rng(1).standard_normal((10, 2)))
    X0[::2, 1] = 0.0
    res = solve(obj, "projected-gd", x0=X0, max_iter=1, gtol=0.0)
    step = res.options["step"]
    expect = np.maximum(X0 - step * np.asarray(obj.grad(X0)), 0.0)
    assert np.allclose(res.x, expect, rtol=1e-12, atol=1e-14) and np.all(res.x[expect == 0] == 0)
    res = solve(obj, "projected-gd", x0=X0)
    assert np.all(res.x >= 0) and res.status == "converged" and dense_error(inst, res.x) <= 1e-8


@pytest.mark.parametrize("p", [0.1, 0.2])
def test_subgradient_recovers_under_outliers(p):
    """Ma--Fattahi: l1 loss, small initialisation alpha = 1e-3, r = r* = 2: exact recovery (error <= 1e-8)
    despite a fraction p of gross outliers (10 x RMS of the clean measurements)."""
    inst = I.build(f"sensing:n=10,r=2,m=300,seed=0,noise=outliers,p={p}")
    assert inst.outlier_mask.sum() > 0.5 * p * inst.m
    obj = make_objective(inst, "l1:scale=mean")
    res = solve(obj, "subgradient", init="small", init_scale=1e-3, seed=0)
    assert dense_error(inst, res.x) <= 1e-8, res


def test_subgradient_error_floor_scales_with_init():
    """Over-parameterised (r = 4 > r* = 2): the final error shrinks with the initial scale (MATH.md §4)."""
    inst = I.build("sensing:n=10,r=2,m=300,seed=1,noise=outliers,p=0.1")
    obj = make_objective(inst, "l1:scale=mean")
    big = solve(obj, "subgradient", init="small", init_scale=1e-3, rank=4, seed=0)
    tiny = solve(obj, "subgradient", init="small", init_scale=1e-5, rank=4, seed=0)
    e_big, e_tiny = dense_error(inst, big.x), dense_error(inst, tiny.x)
    assert e_big <= 1e-2 and e_tiny <= 1e-4 and e_tiny < e_big / 10


@pytest.mark.parametrize("loss", ["l2", "huber:delta=1"])
def test_subgradient_default_step_on_smooth_losses(loss):
    """On a loss other than l1 the subgradient is the gradient, and the default step is gradient descent's 1/(6 sigma)
    (the l1 heuristic diverged on l2 within two iterations): the run does not diverge and the error falls."""
    from benign.solvers.init import problem_scale
    from benign.solvers.subgradient import Subgradient, default_l1_step

    inst = I.build("sensing:n=10,r=1,m=60,seed=0")
    obj = make_objective(inst, loss)
    X0 = initial_point(obj, 1, "random", seed=0)
    scale = problem_scale(obj, 1, 0)
    step = float(Subgradient().resolve(obj, scale, X0).step)
    assert step == float(GradientDescent().resolve(obj, scale, X0).step)
    assert step < default_l1_step(obj, scale) / 4  # the l1 heuristic's step is about 8x longer here
    res = solve(obj, "subgradient", x0=X0)
    # measured: the error falls by 2800x (l2) and 85x (huber) in the 2000 geometrically shrinking steps
    assert res.status != "diverged" and dense_error(inst, res.x) < 0.05 * dense_error(inst, X0), res
    l1 = make_objective(inst, "l1")  # l1 keeps the Ma--Fattahi default
    assert float(Subgradient().resolve(l1, problem_scale(l1, 1, 0), X0).step) == default_l1_step(
        l1, problem_scale(l1, 1, 0))


def test_subgradient_keeps_its_best_iterate():
    """Polyak steps with f_star = 0 below the optimal value (outliers) go up and down: the run reports the iterate of
    least loss (checked against the per-iteration history) and final="best" returns it, its numbers recomputed."""
    from benign.objective import relative_error
    from benign.solvers import solve_stacked

    inst = I.build("sensing:n=10,r=2,m=300,seed=0,noise=outliers,p=0.1")
    obj = make_objective(inst, "l1:scale=mean")
    kw = dict(schedule="polyak", init="small", init_scale=1e-3, seed=0, max_iter=200)
    last = solve(obj, "subgradient", **kw)
    losses = np.asarray(last.history["loss"])  # every iteration (history_every = 1)
    k = int(np.argmin(losses))
    assert last.details["best_loss"] == losses[k] and last.details["best_iteration"] == last.history["iteration"][k]
    # measured: 1.043 at iteration 115 against 1.332 at 200 (relative error 0.23 against 0.62)
    assert 0 < k < last.iterations and losses[k] < last.loss
    assert "the best iterate (iteration" in last.message and "final=best" in last.message
    best = solve(obj, "subgradient", final="best", **kw)
    assert best.iterations == last.iterations and best.loss == last.details["best_loss"]
    f, g = obj.value_and_grad(best.x)
    assert float(f) == pytest.approx(best.loss, rel=1e-14)
    assert best.relative_error == pytest.approx(float(relative_error(obj, best.x)), rel=1e-12)
    assert best.grad_norm == pytest.approx(float(np.linalg.norm(g)), rel=1e-12)
    assert best.relative_error < last.relative_error and "the iterate returned is the best one" in best.message
    assert best.options["final"] == "best"
    stacked = solve_stacked([obj, obj], "subgradient", seeds=[0, 0], final="best",
                            **{k: v for k, v in kw.items() if k != "seed"})
    assert all(np.array_equal(s.x, best.x) and s.loss == best.loss for s in stacked)
    # a converged run's status speaks of its last iterate: final=best keeps that one. Stop by rtol at an iteration
    # that reaches a new least error without the least loss so far (found in the history above)
    errs = np.asarray(last.history["error"])
    k = next(j for j in range(1, len(errs)) if errs[j] < errs[:j].min() and losses[j] > losses[:j].min())
    conv = solve(obj, "subgradient", final="best", rtol=float(errs[k]), **kw)
    assert conv.status == "converged" and conv.iterations == k and conv.relative_error <= errs[k]
    assert conv.details["best_iteration"] < k and "the last iterate is returned" in conv.message
    with pytest.raises(ValueError, match="final"):
        solve(obj, "subgradient", final="first")


def test_polyak_subgradient_noiseless():
    inst = I.build("sensing:n=10,r=2,m=150,seed=0")
    obj = make_objective(inst, "l1")
    res = solve(obj, "subgradient", schedule="polyak", init="small", seed=0, max_iter=3000, rtol=1e-8)
    assert res.status == "converged" and dense_error(inst, res.x) <= 1e-8


def test_scaled_gd_iterations_insensitive_to_condition_number():
    counts = {}
    for kappa in (1, 100):
        inst = I.build(f"sensing:n=10,r=2,m=150,seed=1,cond={kappa}")
        obj = make_objective(inst, "l2")
        for method in ("gd", "scaled-gd"):
            res = solve(obj, method, init="spectral", rtol=1e-8, max_iter=20_000)
            assert res.status == "converged" and dense_error(inst, res.x) <= 1.01e-8
            counts[method, kappa] = res.iterations
    assert counts["scaled-gd", 100] <= 1.5 * counts["scaled-gd", 1]
    assert counts["gd", 100] >= 10 * counts["gd", 1]


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_spd_inverse_matches_numpy_and_is_nan_when_indefinite(r):
    """The preconditioner's inverse (the unrolled Cholesky used for r <= 4, and the library route used above)
    against numpy.linalg.inv, at condition numbers 1e0 .. 1e6 (error <= 1e-13 kappa relative), and NaN on an
    indefinite, singular or numerically singular matrix (pivot j <= PIVOT_RTOL P_jj: equal columns of X gave
    +-5.6e14 instead of NaN at the scale 10, and a direction unrelated to the gradient)."""
    import jax

    from benign.solvers.scaled import UNROLLED_MAX_RANK, _library_spd_inverse, _unrolled_spd_inverse, spd_inverse

    rng = np.random.default_rng(r)
    routes = [jax.jit(spd_inverse), jax.jit(lambda P: 0.5 * (_library_spd_inverse(P) + _library_spd_inverse(P).T))]
    if r <= UNROLLED_MAX_RANK:
        routes.append(jax.jit(lambda P: 0.5 * (_unrolled_spd_inverse(P) + _unrolled_spd_inverse(P).T)))
    for inv in routes:
        for kappa in (1.0, 1e3, 1e6):
            Q, _ = np.linalg.qr(rng.standard_normal((r, r)))
            P = (Q * np.geomspace(1.0, 1.0 / kappa, r)) @ Q.T
            P = 0.5 * (P + P.T)
            got, ref = np.asarray(inv(P)), np.linalg.inv(P)
            assert np.array_equal(got, got.T)
            assert np.abs(got - ref).max() <= 1e-13 * kappa * np.abs(ref).max()
        bad = np.eye(r)
        bad[-1, -1] = -1.0
        assert np.isnan(np.asarray(inv(bad))).any()
        assert np.isnan(np.asarray(inv(np.zeros((r, r))))).all()  # a zero pivot: NaN, as LAPACK
        if r > 1:  # numerically singular (a pivot at rounding level): NaN, whatever the scale
            for scale in (1e-6, 1.0, 10.0, 1e6):
                v = scale * rng.standard_normal((r, 1))
                assert np.isnan(np.asarray(inv(v @ v.T))).all(), scale
            assert np.isnan(np.asarray(inv(np.full((r, r), 10.0)))).all()  # X^T X of equal columns
            scaled = np.diag(np.geomspace(1.0, 1e-14, r))  # badly scaled, well conditioned once scaled: finite
            assert np.allclose(np.asarray(inv(scaled)) * np.diag(scaled)[:, None], np.eye(r), atol=1e-12)


def test_prec_gd_linear_when_overparameterised():
    """r = 3 > r* = 2: PrecGD keeps linear convergence, plain GD slows to a sublinear rate."""
    inst = I.build("sensing:n=10,r=2,m=150,seed=0")
    obj = make_objective(inst, "l2")
    prec = solve(obj, "prec-gd", rank=3, seed=0, max_iter=1000)
    gd = solve(obj, "gd", rank=3, seed=0, max_iter=1000)
    assert prec.status == "converged" and dense_error(inst, prec.x) <= 1e-8
    assert dense_error(inst, gd.x) > 1e-6


def test_saddle_at_zero_gd_stops_second_order_methods_escape(well):
    """X = 0 is a strict saddle (Hessian 2<-A*(b), UU^T>): GD stops there, perturbed GD and trust region escape."""
    inst, obj = well
    x0 = np.zeros((10, 2))
    H = np.asarray(obj.hessian(x0))
    assert np.linalg.eigvalsh(H)[0] < -1.0
    gd = solve(obj, "gd", x0=x0)
    assert gd.status == "converged" and gd.iterations == 0 and dense_error(inst, gd.x) == 1.0
    pgd = solve(obj, "perturbed-gd", x0=x0, seed=4)
    assert pgd.details["perturbations"] >= 1 and dense_error(inst, pgd.x) <= 1e-8
    tr = solve(obj, "trust-region", x0=x0, seed=4)
    assert tr.status == "converged" and tr.details["negative_curvature_steps"] >= 1
    assert dense_error(inst, tr.x) <= 1e-8
    # the final curvature check agrees with the dense Hessian
    lam = np.linalg.eigvalsh(np.asarray(obj.hessian(tr.x)))
    assert tr.details["lambda_min_estimate"] >= -1e-8 * lam[-1] and lam[0] >= -1e-8 * lam[-1]


def test_noise_rule_is_seeded(well):
    _, obj = well
    x0 = np.zeros((10, 2))  # gradient 0 < threshold: noise is added at once
    kw = dict(rule="noise", threshold=1e-3, sigma=1e-3, max_iter=300, gtol=0.0, stall_window=0)
    a = solve(obj, "perturbed-gd", x0=x0, seed=5, **kw)
    b = solve(obj, "perturbed-gd", x0=x0, seed=5, **kw)
    c = solve(obj, "perturbed-gd", x0=x0, seed=6, **kw)
    assert a.details["perturbations"] >= 1
    assert np.array_equal(a.x, b.x) and not np.allclose(a.x, c.x)


@pytest.mark.parametrize("method", ["scaled-gd", "trust-region"])
def test_asymmetric(method):
    inst = I.build("sensing:n=8,d2=6,r=2,m=150,seed=0")
    res = solve(make_objective(inst, "l2", balance=0.5), method, seed=0)
    assert res.status == "converged" and dense_error(inst, res.x) <= 1e-8


def test_completion_never_densified(monkeypatch):
    """Spectral init and GD on completion use only O(|Omega| r) primitives: the dense adjoint is never called."""
    from benign.operators import EntrySampling

    def boom(self, y):
        raise AssertionError("dense adjoint of a completion operator was formed")

    monkeypatch.setattr(EntrySampling, "adjoint", boom)
    monkeypatch.setattr(EntrySampling, "matrices", lambda self: boom(self, None))
    inst = I.build("completion:n=300,r=2,rate=0.05,seed=1")
    obj = make_objective(inst, "l2")
    res = solve(obj, "gd", init="spectral", seed=0)
    assert res.status == "converged" and res.relative_error <= 1e-8
    # the stable factored error equals the dense one
    assert abs(res.relative_error - dense_error(inst, res.x)) <= 1e-12


@pytest.mark.parametrize("method", ["gd", "perturbed-gd", "scaled-gd", "prec-gd", "trust-region", "subgradient",
                                    "projected-gd"])
def test_reported_options_run_the_same_solve(method):
    """``result.options`` holds every setting as a valid value (``None`` where a rule decides, never the compiled
    NaN "unset"), so ``solve(..., **result.options)`` is accepted and gives the same iterates."""
    inst = I.build("sensing:n=6,r=1,m=60,seed=0")
    obj = make_objective(inst, "l1" if method == "subgradient" else "l2", nonnegative=method == "projected-gd")
    res = solve(obj, method, seed=0, max_iter=300)
    assert not any(isinstance(v, float) and np.isnan(v) for v in res.options.values()), res.options
    again = solve(obj, method, seed=0, max_iter=300, **res.options)
    assert np.array_equal(again.x, res.x) and again.iterations == res.iterations


def test_scaled_gd_from_equal_columns_reports_divergence():
    """X0 with two equal columns: X^T X is singular up to rounding; the run ends at iteration 0 as diverged (its
    message names X^T X) instead of taking a step along a direction unrelated to the gradient."""
    obj = make_objective(I.build("sensing:n=10,r=2,m=150,seed=0"), "l2")
    res = solve(obj, "scaled-gd", x0=np.ones((10, 2)))
    assert res.status == "diverged" and res.iterations == 0 and "X^T X" in res.message
    assert np.array_equal(res.x, np.ones((10, 2)))


def test_lp_loss_gradient_convergence_says_why_the_error_is_large():
    """lp (l = 4) is flat where the residuals vanish: the gradient test passes with a relative error near
    g^(1/3), and the message says so (an l2 run's does not)."""
    inst = I.build("sensing:n=6,r=1,m=40,seed=2")
    res = solve(make_objective(inst, "lp:l=4"), "trust-region", seed=0)
    assert res.status == "converged" and res.relative_error > 1e-6
    assert "flat where the residuals vanish" in res.message and f"{res.relative_error:.3g}" in res.message
    assert "flat" not in solve(make_objective(inst, "l2"), "trust-region", seed=0).message
    # no note where flatness is not the reason: a run that reached the truth, noisy data (the error is the noise's)
    at_truth = solve(make_objective(inst, "lp:l=4"), "gd", x0=inst.truth_point, step=1e-3)
    assert at_truth.relative_error < 1e-6 and "flat" not in at_truth.message
    noisy = I.build("sensing:n=6,r=1,m=40,seed=2,noise=gaussian,sigma=0.1")
    res = solve(make_objective(noisy, "lp:l=4"), "trust-region", seed=0)
    assert res.status == "converged" and res.relative_error > 1e-6 and "flat" not in res.message
