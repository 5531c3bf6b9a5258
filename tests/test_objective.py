"""Objective: closed-form derivatives vs autodiff and finite differences; dense Hessian; published values."""
from __future__ import annotations

import numpy as np
import pytest

from benign._jax import jnp
from benign import instances as I
from benign.objective import make_objective
from conftest import all_operators, instance_for, rel

SMOOTH = ["l2", "lp:l=4", "mixed:lam=5,l=4", "l2:scale=mean"]
CASES = [(name, op, sym, loss) for name, op, sym in all_operators() for loss in SMOOTH]


def _point(obj, r=2, seed=5, scale=0.7):
    rng = np.random.default_rng(seed)
    return jnp.asarray(scale * rng.standard_normal((obj.rows, r)))


def _objective(op, sym, loss, balance=0.0):
    inst = instance_for(op, sym)
    return make_objective(inst, loss, balance=balance if not sym else 0.0)


@pytest.mark.parametrize("name,op,sym,loss", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_closed_forms_match_autodiff_and_fd(name, op, sym, loss):
    obj = _objective(op, sym, loss, balance=0.5)
    X = _point(obj)
    D = _point(obj, seed=6)
    g = obj.grad(X)
    assert rel(g, obj.grad_autodiff(X)) <= 1e-10
    hv = obj.hvp(X, D)
    assert rel(hv, obj.hvp_autodiff(X, D)) <= 1e-10
    # central finite differences (step chosen for O(h^2) truncation vs rounding)
    h = 1e-5
    fd_dir = (obj.value(X + h * D) - obj.value(X - h * D)) / (2 * h)
    assert abs(float(fd_dir) - float(jnp.sum(g * D))) <= 1e-6 * max(1.0, abs(float(fd_dir)))
    fd_hvp = (obj.grad(X + h * D) - obj.grad(X - h * D)) / (2 * h)
    assert rel(fd_hvp, hv) <= 1e-6
    # dense Hessian: symmetric, consistent with the HVP
    H = np.asarray(obj.hessian(X))
    assert np.allclose(H, H.T, atol=1e-12 * np.abs(H).max())
    assert rel(H @ np.asarray(D).reshape(-1), np.asarray(hv).reshape(-1)) <= 1e-10


def test_symmetric_hessian_quadratic_form_formula():
    """MATH.md §3: Hess[U,U] = sum psi''(rho_i) <A_i, UX^T + XU^T>^2 + 2 <S_bar, UU^T>, S_bar = sym(A*(psi'(rho)))."""
    rng = np.random.default_rng(7)
    inst = I.sensing(5, 2, 40, seed=3)
    obj = make_objective(inst, "mixed:lam=2,l=4")
    X = jnp.asarray(rng.standard_normal((5, 2)))
    U = jnp.asarray(rng.standard_normal((5, 2)))
    mats = inst.operator.matrices()
    rho = np.asarray(obj.residual(X))
    Xn, Un = np.asarray(X), np.asarray(U)
    d = np.einsum("ijk,jk->i", mats, Un @ Xn.T + Xn @ Un.T)
    S = np.einsum("i,ijk->jk", rho + 2 * rho ** 3, mats)
    Sbar = 0.5 * (S + S.T)
    quad = np.sum((1 + 2 * 3 * rho ** 2) * d ** 2) + 2 * np.sum(Sbar * (Un @ Un.T))
    assert abs(quad - float(jnp.sum(U * obj.hvp(X, U)))) <= 1e-10 * abs(quad)
    assert rel(obj.grad(X), 2 * Sbar @ Xn) <= 1e-12


def test_l1_subgradient_matches_autodiff_away_from_kinks():
    inst = I.sensing(4, 1, 30, seed=1, noise="outliers", p=0.2)
    obj = make_objective(inst, "l1")
    X = jnp.asarray(np.random.default_rng(0).standard_normal((4, 1)))
    assert np.all(np.abs(np.asarray(obj.residual(X))) > 1e-8)
    assert rel(obj.grad(X), obj.grad_autodiff(X)) <= 1e-12
    # psi'' = 0 a.e.: the HVP is the curvature term 2 S_bar U alone
    Xn = np.asarray(X)
    S = np.einsum("i,ijk->jk", np.sign(np.asarray(obj.residual(X))), inst.operator.matrices())
    assert rel(obj.hvp(X, X), (S + S.T) @ Xn) <= 1e-12
    assert rel(obj.hvp(X, X), obj.hvp_autodiff(X, X)) <= 1e-12
    huber = make_objective(inst, "huber:delta=0.5")
    assert rel(huber.grad(X), huber.grad_autodiff(X)) <= 1e-12


def test_weighted_family_hessian_at_truth():
    """MATH.md §8 / seed 001: n = 3, eps = 0.3, Hessian at X* has eigenvalues {2.18, 4, 4.36}."""
    inst = I.yalcin(3, 0.3)
    for loss in ("l2", "mixed:lam=5,l=4"):  # at the truth the residual is 0: lambda does not change the Hessian
        obj = make_objective(inst, loss)
        H = np.asarray(obj.hessian(jnp.asarray(inst.truth_point)))
        ev = np.sort(np.linalg.eigvalsh(H))
        assert np.allclose(ev, [2.18, 4.0, 4.36], atol=1e-12)
        assert float(obj.value(jnp.asarray(inst.truth_point))) == 0.0


def test_balancing_term_value():
    inst = I.sensing(4, 1, 20, seed=2, d2=3)
    obj = make_objective(inst, "l2", balance=2.0)
    rng = np.random.default_rng(1)
    U, V = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    X = jnp.asarray(np.concatenate([U, V]))
    base = make_objective(inst, "l2")
    gap = U.T @ U - V.T @ V
    assert abs(float(obj.value(X) - base.value(X)) - 0.5 * np.sum(gap ** 2)) <= 1e-10


def test_point_validation():
    inst = I.sensing(4, 1, 20, seed=2)
    obj = make_objective(inst, "l2")
    with pytest.raises(ValueError, match="4 rows"):
        obj.check_point(np.ones((3, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        obj.check_point(np.array([1.0, np.nan, 0, 0]))
    assert obj.check_point([1, 0, 0, 1]).shape == (4, 1)
    nn = make_objective(I.sensing(4, 1, 20, seed=2, truth="nonneg"), "l2")
    assert nn.nonnegative
    with pytest.raises(ValueError, match="nonnegative"):
        nn.check_point(-np.ones((4, 1)))


def test_factored_distance_matches_dense():
    for inst in (I.sensing(5, 2, 30, seed=1), I.sensing(5, 2, 30, seed=1, d2=4)):
        obj = make_objective(inst, "l2")
        X = np.random.default_rng(3).standard_normal((obj.rows, 3))
        dense = np.linalg.norm(np.asarray(obj.matrix(jnp.asarray(X))) - inst.truth_matrix())
        assert abs(float(obj.distance(jnp.asarray(X))) - dense) <= 1e-10 * dense
        assert abs(I.factored_distance(inst, X) - dense) <= 1e-10 * dense
        assert abs(float(obj.relative_error(jnp.asarray(X))) - dense / np.linalg.norm(inst.truth_matrix())) < 1e-10
        assert float(obj.distance(jnp.asarray(inst.truth_point))) == 0.0 or \
            float(obj.distance(jnp.asarray(inst.truth_point))) < 1e-13 * np.linalg.norm(inst.truth_matrix())
        # full relative accuracy for tiny errors (no cancellation): a 1e-9 perturbation is measured to 1e-6 relative
        T = np.asarray(inst.truth_point)
        P = T + 1e-9 * np.random.default_rng(0).standard_normal(T.shape)
        dense = np.linalg.norm(np.asarray(obj.matrix(jnp.asarray(P))) - inst.truth_matrix())
        assert abs(float(obj.distance(jnp.asarray(P))) - dense) <= 1e-6 * dense
        assert abs(I.factored_distance(inst, P) - dense) <= 1e-6 * dense


@pytest.mark.parametrize("spec,loss,kw", [
    ("sensing:n=5,r=2,m=40,seed=0", "l2", {}), ("completion:n=6,r=2,rate=0.6,seed=2", "lp:l=4", {}),
    ("yalcin:n=5,eps=0.3", "mixed:lam=5,l=4", {}), ("sensing:n=5,r=1,m=30,seed=3", "huber:delta=0.5", {}),
    ("sensing:n=5,r=1,m=30,seed=3", "l1", {}),
    ("sensing:n=5,d2=4,r=2,m=40,seed=4", "l2", {"factorization": "asymmetric", "balance": 0.5})])
def test_loss_change_is_the_difference_without_cancellation(spec, loss, kw):
    """``loss_change(obj, X, D)`` equals ``f(X + D) - f(X)`` where the plain difference is accurate (a step of size
    0.3), and follows the first-order model ``<grad f, D>`` at a step of 1e-9, where the plain difference has lost
    most of its digits."""
    from benign.objective import loss_change

    obj = make_objective(I.build(spec), loss, **kw)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((obj.rows, 2))
    D = rng.standard_normal(X.shape)
    D /= np.linalg.norm(D)
    big, size = loss_change(obj, jnp.asarray(X), jnp.asarray(0.3 * D))
    plain = float(obj.value(X + 0.3 * D)) - float(obj.value(X))
    assert abs(float(big) - plain) <= 1e-12 * float(obj.value(X)) and float(size) >= abs(float(big))
    small, _ = loss_change(obj, jnp.asarray(X), jnp.asarray(1e-9 * D))
    slope = 1e-9 * float(np.sum(np.asarray(obj.grad(X)) * D))
    assert abs(float(small) - slope) <= 1e-6 * abs(slope)
