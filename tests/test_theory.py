"""Theorem evaluators against exact Hessian eigenvalues and certified second-order points."""
from __future__ import annotations

import numpy as np
import pytest

from benign import instances as I
from benign import operators as ops
from benign import theory as T
from benign._jax import jnp
from benign.certify import certify
from benign.certify.published import gradient_descent, newton_polish, weighted_spurious_path
from benign.objective import make_objective
from benign.rip import full_rank_rip


def kernel_instance(n: int, r_star: int, delta: float, seed: int) -> I.Instance:
    """Symmetric sensing whose kernel on symmetric matrices has eigenvalues spread over [1 - delta, 1 + delta]
    (so the exact full-rank RIP constant is delta)."""
    rng = np.random.default_rng(seed)
    P = ops.symmetric_basis(n)
    d = P.shape[1]
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = np.concatenate([[1 - delta, 1 + delta], rng.uniform(1 - delta, 1 + delta, d - 2)])
    H = P @ (Q * lam) @ Q.T @ P.T
    return I.from_arrays(ops.from_kernel(H), rng.standard_normal((n, r_star)))


def _critical(obj, starts):
    out = []
    for X0 in starts:
        X, _ = newton_polish(obj, X0, maxiter=80)
        if float(np.linalg.norm(np.asarray(obj.grad(jnp.asarray(X))))) <= 1e-9:
            out.append(X)
    return out


@pytest.mark.parametrize("loss,lam", [("l2", 0.0), ("mixed:lam=1,l=4", 1.0)])
def test_thm3_thm6_bounds_hold_at_critical_points(loss, lam):
    """Critical points from Newton's method (saddles included) on n = 4, r* = 2, delta ~ 0.3: wherever Thm 3 / Thm 6
    applies, the exact smallest Hessian eigenvalue is below the theorem's bound."""
    inst = I.sensing(4, 2, 400, seed=3, cond=20)
    delta = full_rank_rip(inst.operator)["delta"]
    assert delta < 0.5
    obj = make_objective(inst, loss)
    Z = inst.truth_left
    U, s, _ = np.linalg.svd(Z, full_matrices=False)
    rng = np.random.default_rng(0)
    starts = [U[:, [1]] * s[1] + 0.05 * rng.standard_normal((4, 1)) for _ in range(2)]
    starts += [np.concatenate([U[:, [k]] * s[k], np.zeros((4, 1))], 1) + 0.02 * rng.standard_normal((4, 2))
               for k in (0, 1)]
    pts = _critical(obj, starts) + [np.zeros((4, 1)), np.zeros((4, 2))]
    applied = 0
    for X in pts:
        check = T.thm3(delta, X, Z) if lam == 0 else T.thm6(delta, X, Z, lam, 4, inst.m)
        if not check.holds:
            continue
        applied += 1
        lmin = np.linalg.eigvalsh(np.asarray(obj.hessian(jnp.asarray(X))))[0]
        assert lmin <= check.bound + 1e-9 * max(1.0, abs(check.bound))
        assert check.bound < 0  # the theorem's conclusion: a strict saddle
        assert certify(obj, X).verdict == "strict_saddle"
    assert applied >= 3


def test_thm6_reduces_to_thm3_without_the_high_order_term():
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    a, b = T.thm3(0.3, X, Z), T.thm6(0.3, X, Z, 0.0, 4, 50)
    assert abs(a.bound - b.bound) <= 1e-12 and abs(a.margin - b.margin) <= 1e-12
    assert abs(T.c_of_l(4, 100) - (15 / 4 - 1) / 100) <= 1e-15


def test_local_theorems_fail_at_spurious_points_and_hold_at_the_truth():
    """Zhang--Zhang and the rank-1 local guarantee exclude spurious second-order points: at certified spurious points
    their conditions must fail (delta: the scale-optimal full-rank constant, valid since SOPs are scale-invariant)."""
    cases = []
    for n in (3, 5):
        inst = I.yalcin(n, 0.3)
        x = weighted_spurious_path(n, 0.3, [0.0])[0].point
        cases.append((inst, x, full_rank_rip(inst.operator)["delta_scaled"]))
    zsl = I.zsl_half()
    cases.append((zsl, np.array([[0.0], [1 / np.sqrt(2)]]), full_rank_rip(zsl.operator)["delta"]))
    for inst, x, delta in cases:
        obj = make_objective(inst, "l2")
        cert = certify(obj, x)
        assert cert.spurious is True
        assert not T.zhang_zhang(delta, x, inst.truth_left).holds
        f0 = float(obj.value(jnp.zeros_like(jnp.asarray(x))))
        assert not T.rank1_local(delta, cert.loss, f0).holds
        assert T.zhang_zhang(delta, inst.truth_left, inst.truth_left).holds
    assert abs(cases[-1][2] - 0.5) <= 1e-12
    sharp = T.sharp_rank1(cases[-1][2])
    assert not sharp.holds and abs(sharp.margin) <= 1e-12  # delta = 1/2: the threshold, and a spurious SOP exists


@pytest.mark.parametrize("r", [1, 2])
def test_no_spurious_second_order_points_when_the_conditions_hold(r):
    """delta = 0.4 < 1/2 (rank 1) and over-parameterised r = 2 (Zhang 2021 and 2022 hold): every second-order
    point reached by gradient descent from random starts is certified global."""
    inst = kernel_instance(3, 1, 0.4, seed=r)
    delta = full_rank_rip(inst.operator)["delta"]
    assert abs(delta - 0.4) <= 1e-10
    checks = [T.zhang2021(delta, r, 1), T.zhang2022(delta, r, 1, n=3)] + ([T.sharp_rank1(delta)] if r == 1 else [])
    assert all(c.holds for c in checks)
    obj = make_objective(inst, "l2")
    rng = np.random.default_rng(r)
    for _ in range(4):
        X, _ = gradient_descent(obj, rng.standard_normal((3, r)), step=0.02, gtol=1e-6)
        X, _ = newton_polish(obj, X)
        cert = certify(obj, X)
        assert cert.verdict == "global_min" and cert.spurious is False


def test_thm5_condition_and_global_second_order_points():
    """Thm 5 needs sqrt(r)/(2 sqrt 2) (1+d)^{1/2}(1-d)^{7/2} >= ||M*||_F tr M*/lambda^2 (= 1 at rank one): r = 9,
    delta = 0.01, n = 10. Where it holds, the second-order points reached from random starts are certified global."""
    inst = kernel_instance(10, 1, 0.01, seed=0)
    delta = full_rank_rip(inst.operator)["delta"]
    assert not T.thm5(delta, inst.truth_left, 4).holds
    check = T.thm5(delta, inst.truth_left, 9)
    assert check.holds and check.margin > 0 and abs(check.details["lhs"] - 1.0) <= 1e-12
    obj = make_objective(inst, "l2")
    rng = np.random.default_rng(0)
    for _ in range(1):
        X, _ = gradient_descent(obj, 0.3 * rng.standard_normal((10, 9)), step=0.05, gtol=1e-7)
        cert = certify(obj, X, gtol=1e-5)
        assert cert.verdict == "global_min" and cert.spurious is False


def test_formulas_and_validation():
    assert abs(T.zhang2021(0.3, 2, 2).bound - 0.5) <= 1e-15
    z = T.zhang2022(0.5, 2, 1)
    assert abs(z.bound - 1.0) <= 1e-15 and z.holds and abs(z.margin - 1.0) <= 1e-15  # (3 - 1)^2 / 4 = 1
    assert T.bhojanapalli(0.2).holds and not T.bhojanapalli(0.21).holds
    assert T.recht(0.1).holds and abs(T.recht(0.05).margin - 0.05) <= 1e-15
    assert not T.sharp_rank1(0.3, r=2, r_star=1).applicable
    with pytest.raises(ValueError, match="delta"):
        T.thm3(1.0, np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="tau"):
        T.zhang_zhang(0.5, np.ones((3, 1)), np.ones((3, 1)), tau=0.8)
    out = T.evaluate(I.zsl_half(), np.array([0.0, 1 / np.sqrt(2)]), loss=make_objective(I.zsl_half()).loss)
    names = {c.name for c in out}
    assert {"thm3", "thm5", "zhang_zhang", "sharp_rank1", "rank1_local", "bhojanapalli"} <= names


def test_strict_conditions_are_not_declared_on_a_rounded_delta():
    """An orthogonal change of basis of ``zsl-half`` keeps the exact full-rank constant at 1/2; eigvalsh may return
    0.4999999999999998. The evaluators use ``delta_upper`` (delta plus its rounding bound), so ``delta < 1/2`` is
    never declared to hold there, and the certificate (a spurious second-order point) is not contradicted."""
    import benign

    th = 4.002148315014479  # a rotation whose computed delta rounds below 1/2
    Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    A0 = np.asarray(benign.build("zsl-half").operator.full_rows()).reshape(-1, 2, 2)
    inst = I.from_arrays(ops.from_matrices(np.einsum("ab,ibc,dc->iad", Q, A0, Q)), Q @ np.array([[1.0], [0.0]]))
    rip = full_rank_rip(inst.operator)
    assert abs(rip["delta"] - 0.5) <= 1e-14 and 0 < rip["rounding"] <= 1e-12
    assert rip["delta_upper"] == rip["delta"] + rip["rounding"] > 0.5
    X = Q @ np.array([[0.0], [np.sqrt(0.5)]])
    checks = {c.name: c for c in T.evaluate(inst, X)}
    for name in ("sharp_rank1", "zhang2021", "zhang2022"):
        assert not checks[name].holds and checks[name].margin < 0, name
    cert = certify(make_objective(inst, "l2"), X, instance=inst)
    assert cert.verdict == "degenerate" and cert.spurious is True


def test_theorems_are_not_applied_outside_their_setting():
    """Noisy data (the theorems assume b = A(M*)) and losses other than l2 (the point is certified for another
    objective): every such check says it does not apply, with the reason, instead of 'holds' (a noisy global
    minimum at distance 6.9 from M* was told 'a second-order critical point is the ground truth')."""
    from benign.losses import make_loss

    noisy = I.build("sensing:n=3,r=1,m=60,seed=1,noise=gaussian,sigma=3")
    X = np.array([[-3.203467460545197], [-0.009793112915007954], [1.673283093621233]])
    checks = T.evaluate(noisy, X)
    assert checks and all(not c.applicable and not c.holds and "noisy" in c.details["not_applicable"]
                          for c in checks)
    clean = I.build("sensing:n=3,r=1,m=60,seed=1")
    # (recht is about the convex relaxation, whatever the factored loss; Thm 6 holds for either scale of mixed)
    for loss, kept in ((make_loss("l1"), {"recht"}), ("l1", {"recht"}), (make_loss("mixed", lam=1.0, l=4),
                       {"recht", "thm6"}), ("mixed:lam=1,l=4,scale=mean", {"recht", "thm6"})):
        checks = {c.name: c for c in T.evaluate(clean, X, loss=loss)}
        assert {n for n, c in checks.items() if c.applicable} == kept, loss
    # evaluators whose own setting fails say why
    over = {c.name: c for c in T.evaluate(clean, np.column_stack([X[:, 0], np.zeros(3)]))}
    assert not over["sharp_rank1"].applicable and "r = r* = 1" in over["sharp_rank1"].details["not_applicable"]
    assert all(c.applicable for c in T.evaluate(clean, X))  # noiseless, l2, rank 1: every one applies
    zero = T.thm3(0.1, np.ones((3, 1)), np.zeros((3, 1)))  # M* = 0: the condition divides by tr(M*)
    assert not zero.applicable and not zero.holds
    for check in (T.thm5(0.1, np.zeros((3, 1)), 1), T.zhang_zhang(0.1, np.ones((3, 1)), np.zeros((3, 1)))):
        assert not check.applicable and not check.holds and "lambda_{r*}(M*) = 0" in check.details["not_applicable"]
    # a point certified under X >= 0 is not a point of the unconstrained landscape the theorems describe (seed 000's
    # spurious nonnegative minimum sat next to "no spurious second-order critical point" holding)
    checks = {c.name: c for c in T.evaluate(clean, X, nonnegative=True)}
    assert {n for n, c in checks.items() if c.applicable} == {"recht"}
    assert "X >= 0" in checks["sharp_rank1"].details["not_applicable"]
    with pytest.raises(TypeError, match="delta"):
        T.evaluate(clean, X, delta="0.1")
    with pytest.raises(TypeError, match="instance"):
        T.evaluate("sensing:n=3,r=1,m=60")
