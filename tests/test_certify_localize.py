"""A spurious claim is withdrawn when the certified strict minimiser may be a global one (localization radius)."""
from __future__ import annotations

import numpy as np

from benign import instances as I
from benign.certify import certify
from benign.objective import make_objective
from benign.solvers import solve


def test_unconverged_point_near_degenerate_global_set_is_not_called_spurious():
    """Over-parameterised (r = 2 > r* = 1) nonnegative, fully observed: projected GD stopped early sits next to the
    set of global minimisers; its positive curvature does not make it a spurious minimum."""
    inst = I.completion(6, 1, seed=0, count=36, truth="nonneg")
    obj = make_objective(inst, "l2")
    res = solve(obj, "projected-gd", rank=2, seed=3, max_iter=10_000, gtol=0.0)
    assert 1e-8 < res.relative_error < 1e-2
    # the cone test alone sees positive curvature and a small (relative) KKT residual, but no KKT point next to the
    # end point can be proven to exist (the minimisers there are the degenerate global ones) ...
    from benign.certify.nonneg import certify_nonneg

    raw = certify_nonneg(obj, res.x, instance=inst)
    assert raw.verdict == "degenerate" and raw.lambda_min > 0 and not raw.details["existence"]["proved"]
    # ... but the minimiser it localises may be global: no spurious claim
    cert = certify(obj, res.x, instance=inst)
    assert cert.spurious is None
    loc = cert.details["localization"]
    assert loc["relative_error"] <= loc["spurious_rtol"]
    assert "spurious_undecided" in cert.details


def test_converged_spurious_minimum_keeps_its_claim():
    from benign.certify.published import weighted_spurious_point

    inst = I.yalcin(5, 0.3)
    obj = make_objective(inst, "l2")
    cert = certify(obj, weighted_spurious_point(5, 0.3, 0.0), instance=inst)
    assert cert.verdict == "strict_local_min" and cert.spurious is True
    loc = cert.details["localization"]
    assert loc["radius"] < 1e-6 * loc["distance_to_global_set_lower_bound"]
    assert loc["relative_error"] > loc["spurious_rtol"]


def test_degenerate_spurious_point_of_the_half_instance_keeps_its_claim():
    inst = I.zsl_half()
    obj = make_objective(inst, "l2")
    cert = certify(obj, np.array([[0.0], [2 ** -0.5]]), instance=inst)
    assert cert.verdict == "degenerate" and cert.spurious is True


def test_rank_below_truth_is_not_called_spurious():
    """Search rank 1 < r* = 2: f = 0 is unattainable, so "noiseless and f > 0" proves nothing; the best rank-1 point
    (top eigenpair of M* for a fully observed instance) must not be called spurious."""
    inst = I.completion(5, 2, seed=1, count=25, truth="gaussian")
    obj = make_objective(inst, "l2")
    w, V = np.linalg.eigh(inst.truth_matrix())
    X = np.sqrt(w[-1]) * V[:, -1:]
    cert = certify(obj, X, instance=inst)
    assert cert.verdict in ("strict_local_min", "degenerate")
    assert cert.spurious is None
    assert cert.details.get("global_reason", "").startswith("the ground truth is not a feasible point")


def test_unconverged_overparameterised_point_is_not_called_strict():
    """Smooth, r = 4 > r* = 2: GD stopped by its iteration budget next to the global set has a positive definite
    horizontal Hessian, but f still decreases along the straight path to the truth (checked here): the critical point
    next to X may be a global minimiser, which is degenerate, so the verdict is degenerate, not strict_local_min."""
    inst = I.sensing(10, 2, 150, seed=0)
    obj = make_objective(inst, "l2")
    res = solve(obj, "gd", rank=4, seed=1, max_iter=20_000)
    assert res.status == "max_iterations" and res.relative_error < 1e-3
    X = np.asarray(res.x)
    cert = certify(obj, X, instance=inst)
    assert cert.lambda_min > cert.tolerances.get("hess_abs_tol", cert.details["hess_abs_tol"])  # PD to tolerance
    assert cert.verdict == "degenerate" and cert.spurious is None and "strict_withdrawn" in cert.details
    # the independent check: f decreases along the segment to the rotation-aligned padded truth
    T = np.asarray(inst.padded_truth(4))
    U, _, Vt = np.linalg.svd(T.T @ X)
    Y = T @ (U @ Vt)
    values = [float(obj.value(X + t * (Y - X))) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(b < a for a, b in zip(values, values[1:])), values
    # at the search rank of the truth the same kind of point keeps its verdict (strict minimisers there)
    res2 = solve(obj, "gd", rank=2, seed=1, max_iter=200)
    cert2 = certify(obj, np.asarray(res2.x), instance=inst)
    assert "strict_withdrawn" not in cert2.details


def test_withdrawal_rules_apply_without_an_instance():
    """The objective knows the truth and (from f(truth) <= ftol f(0)) that the data are noiseless: certify(obj, X)
    without ``instance`` withdraws the same claims as with it."""
    inst = I.sensing(6, 1, 60, seed=1)
    obj = make_objective(inst, "l2")
    Z = np.asarray(inst.truth_point)
    w = np.random.default_rng(0).standard_normal(6)
    w -= Z[:, 0] * (Z[:, 0] @ w) / (Z[:, 0] @ Z[:, 0])
    X = np.column_stack([Z[:, 0], 0.03 * w / np.linalg.norm(w)])  # on the path into the degenerate global set
    with_inst, without = certify(obj, X, instance=inst, gtol=1e-4), certify(obj, X, gtol=1e-4)
    assert with_inst.verdict == without.verdict == "degenerate"
    assert "strict_withdrawn" in without.details and without.spurious is None


def test_nonnegative_strict_claim_withdrawn_next_to_the_degenerate_global_set():
    """An interior end point of an over-parameterised nonnegative run (r = 3 > r* = 2, every entry >= 0.03): the
    constraint is inactive, so the nonnegative certificate must not call strict what the smooth one withdraws."""
    inst = I.build("completion:n=5,r=2,rate=1,truth=nonneg,seed=3")
    X = np.array([[0.4235631301693791, 0.07494312376279777, 1.2274507970868618],
                  [0.2512099378260768, 0.28551173803439306, 0.18436280856815926],
                  [0.2359252997325431, 0.14181070603300353, 0.37496991859669965],
                  [0.9761042979898774, 0.6881499511942107, 1.526662329584855],
                  [0.2837570015384519, 0.3242599284292861, 0.03161954718031078]])
    from benign.certify.nonneg import certify_nonneg

    obj = make_objective(inst, "l2")
    raw = certify_nonneg(obj, X, instance=inst)  # positive curvature, but no existence proof of a minimiser nearby
    assert obj.nonnegative and raw.verdict == "degenerate" and not raw.details["existence"]["proved"]
    for cert in (certify(obj, X, instance=inst), certify(obj, X)):
        assert cert.verdict == "degenerate" and cert.spurious is None
        assert "strict_withdrawn" in cert.details
    smooth = certify(make_objective(inst, "l2", nonnegative=False), X, instance=inst)
    assert smooth.verdict == "degenerate"
