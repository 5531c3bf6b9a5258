"""Nonnegative certificates (KKT, critical cone, flat orbit) and the copositivity test."""
from __future__ import annotations

import numpy as np
import pytest

from benign import instances as I
from benign import operators as ops
from benign._jax import jnp
from benign.certify import certify
from benign.certify.copositive import copositive, kaplan
from benign.objective import make_objective


def _full(n):
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return ops.entry_sampling(i.ravel(), j.ravel(), (n, n))


def _f(obj, X):
    return float(obj.value(jnp.asarray(X)))


def test_face_point_with_strict_complementarity():
    """f = 1/2||x x^T - z z^T||^2, z = (1, -1), fully observed: x = (1, 0) is a KKT point (G = (0, 2)) and a strict
    local minimum over x >= 0, while the unconstrained problem is not even stationary there."""
    inst = I.from_arrays(_full(2), np.array([[1.0], [-1.0]]))
    obj = make_objective(inst, "l2", nonnegative=True)
    x = np.array([[1.0], [0.0]])
    cert = certify(obj, x)
    assert cert.verdict == "strict_local_min" and cert.spurious is None  # the truth is infeasible: undecided
    assert cert.details["sets"] == {"positive": 1, "active": 1, "degenerate": 0, "degenerate_coords": []}
    assert cert.details["second_order_method"] == "subspace" and abs(cert.lambda_min - 4.0) <= 1e-12
    assert certify(make_objective(inst, "l2"), x).verdict == "not_critical"
    rng = np.random.default_rng(0)  # independent: feasible neighbours are worse
    for _ in range(200):
        D = rng.standard_normal((2, 1))
        D[1] = abs(D[1])
        assert _f(obj, x + 1e-3 * D) > _f(obj, x)


def test_flat_rotation_orbit_is_quotiented():
    """The same point with r = 2 and a single nonzero row: rotations keep X >= 0 (a flat orbit of dimension 1);
    strict modulo the orbit -> strict_local_min, not degenerate."""
    inst = I.from_arrays(_full(2), np.array([[1.0], [-1.0]]))
    obj = make_objective(inst, "l2", nonnegative=True)
    X = np.array([[1 / np.sqrt(2), 1 / np.sqrt(2)], [0.0, 0.0]])
    cert = certify(obj, X)
    assert cert.verdict == "strict_local_min" and cert.details["orbit_dim"] == 1 and cert.symmetry_zeros == 1
    th = 0.3  # independent: f is constant along the orbit
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    assert abs(_f(obj, X @ R) - _f(obj, X)) <= 1e-14 and np.all(X @ R >= 0)


def test_zero_is_a_cone_saddle_with_verified_escape():
    inst = I.from_arrays(_full(2), np.array([[1.0], [1.0]]), nonnegative=True)
    obj = make_objective(inst, "l2")
    cert = certify(obj, np.zeros((2, 2)))
    assert cert.verdict == "strict_saddle" and cert.details["second_order_method"] == "enumeration"
    D = cert.escape_direction
    assert np.all(D >= 0) and cert.details["escape_check"]["verified"]
    t = cert.details["escape_check"]["t"]
    assert _f(obj, t * D) < _f(obj, np.zeros((2, 2)))
    glob = certify(obj, np.full((2, 2), 1 / np.sqrt(2)))  # X X^T = z z^T, equal positive columns
    assert glob.verdict == "global_min" and glob.symmetry_zeros == 1


@pytest.mark.parametrize("offdiag,verdict", [(2.0, "strict_local_min"), (-2.0, "strict_saddle")])
def test_copositive_not_psd_curvature_at_zero(offdiag, verdict):
    """b = vec(B) with -B = [[1, c], [c, 1]]: the Hessian at X = 0 is 2 <-B, D D^T>. For c = 2 it is indefinite but
    copositive (entries >= 0): a local minimum over X >= 0 that the smooth test calls a saddle; for c = -2 the cone
    contains d = (1, 1) with curvature < 0."""
    negB = np.array([[1.0, offdiag], [offdiag, 1.0]])
    inst = I.from_arrays(_full(2), np.zeros((2, 1)), noise=(-negB).ravel())
    obj = make_objective(inst, "l2", nonnegative=True)
    cert = certify(obj, np.zeros((2, 2)))
    assert cert.verdict == verdict and cert.details["sets"]["degenerate"] == 4
    assert certify(make_objective(inst, "l2"), np.zeros((2, 2))).verdict == "strict_saddle"
    if verdict == "strict_saddle":
        D = cert.escape_direction
        assert np.all(D >= 0) and cert.details["escape_check"]["verified"]
    # with enumeration disabled the test is only heuristic: a witness is still a proof, but copositivity is not
    heur = certify(obj, np.zeros((2, 2)), max_enum=1)
    assert "heuristic" in heur.details["second_order_method"]
    assert heur.verdict == ("degenerate" if verdict == "strict_local_min" else "strict_saddle")


def test_not_critical_nonneg_point_escape_stays_feasible():
    inst = I.sensing(4, 1, 30, seed=0, truth="nonneg")
    obj = make_objective(inst, "l2")
    X = np.abs(np.random.default_rng(0).standard_normal((4, 2)))
    cert = certify(obj, X)
    assert cert.verdict == "not_critical"
    chk = cert.details["escape_check"]
    assert chk["verified"] and np.all(X + chk["t"] * cert.escape_direction >= -1e-15)


def test_nonneg_global_and_validation():
    inst = I.sensing(4, 1, 30, seed=1, truth="nonneg")
    obj = make_objective(inst, "l2")
    cert = certify(obj, inst.truth_point)
    assert cert.verdict == "global_min" and cert.spurious is False
    with pytest.raises(ValueError, match="nonnegative"):
        certify(obj, -np.ones((4, 1)))


# ------------------------------------------------------------------------------------ copositivity

HORN = np.array([[1, -1, 1, 1, -1], [-1, 1, -1, 1, 1], [1, -1, 1, -1, 1], [1, 1, -1, 1, -1],
                 [-1, 1, 1, -1, 1]], dtype=float)


def test_kaplan_on_the_horn_matrix_and_random_matrices():
    """The Horn matrix is copositive but not PSD; random symmetric matrices are checked against a dense sample of
    the simplex (a negative sample value proves non-copositivity; Kaplan's witness must be in the orthant)."""
    assert np.linalg.eigvalsh(HORN)[0] < 0 and kaplan(HORN).copositive is True
    rng = np.random.default_rng(0)
    samples = np.abs(rng.standard_normal((20000, 4)))
    for _ in range(30):
        A = rng.standard_normal((4, 4)) + 0.8
        A = 0.5 * (A + A.T)
        res = kaplan(A)
        sampled_min = np.min(np.einsum("si,ij,sj->s", samples, A, samples))
        if res.copositive:
            assert sampled_min >= -1e-12
        else:
            x = res.witness
            assert np.all(x >= 0) and x @ A @ x < 0
            # the witness attains the minimum over the cone's unit sphere: no normalised sample goes below it
            unit = samples / np.linalg.norm(samples, axis=1, keepdims=True)
            assert res.value <= np.min(np.einsum("si,ij,sj->s", unit, A, unit)) + 1e-12
        if sampled_min < -1e-9:
            assert res.copositive is False


def test_kaplan_returns_the_smallest_curvature_on_the_cone():
    """S = I/2 - (5/4) 11^T (q = 4): every single coordinate has curvature -0.75, found first, but the cone's
    minimum is lambda_min = 1/2 - 5 = -4.5, along the positive eigenvector 1/2: that is the witness."""
    S = 0.5 * np.eye(4) - 1.25 * np.ones((4, 4))
    res = kaplan(S)
    assert res.copositive is False and res.sets_checked == 15
    assert res.value == pytest.approx(-4.5, rel=1e-12)
    np.testing.assert_allclose(res.witness, np.full(4, 0.5), rtol=1e-12)


def test_copositive_with_free_block():
    """Q on R^1 x R_+^2: the Schur complement reduction; a witness has a free part and a nonnegative part."""
    Q = np.array([[2.0, 1.0, -1.0], [1.0, 1.0, 0.5], [-1.0, 0.5, 1.0]])
    res = copositive(Q, 1)
    # brute force over x_F in R, x_D on a grid of the nonnegative quadrant
    t = np.linspace(-3, 3, 241)
    g = np.linspace(0, 1, 41)
    vals = [np.array([a, b, c]) @ Q @ np.array([a, b, c]) for a in t for b in g for c in g]
    # minimising over the free coordinate leaves (b^2 + c^2)/2 + 2bc >= 0 on b, c >= 0: copositive
    assert res.copositive is True and min(vals) >= -1e-12
    Q2 = Q.copy()
    Q2[1, 2] = Q2[2, 1] = -1.5  # now (b^2 + c^2)/2 - 2bc < 0 at b = c: not copositive, with a witness
    res2 = copositive(Q2, 1)
    x = res2.witness
    assert res2.copositive is False and np.all(x[1:] >= 0) and x @ Q2 @ x < 0


def test_not_critical_escape_check_states_its_model():
    """A non-critical nonnegative point: the projected descent direction is checked against the model
    t <g, D> + t^2 D.HD / 2 (the curvature from one Hessian-vector product, as for smooth losses), and the record's
    conventions say how the curvature tolerance is formed on the nonnegative coordinates."""
    from benign.certify import export

    inst = I.build("sensing:n=5,r=1,m=30,seed=0,truth=nonneg")
    obj = make_objective(inst, "l2", nonnegative=True)
    X = np.asarray(inst.truth_point) + 0.2
    cert = certify(obj, X)
    esc = cert.details["escape_check"]
    assert cert.verdict == "not_critical" and esc["verified"] and esc["model_agrees"]
    D = np.asarray(cert.escape_direction)
    g = np.asarray(obj.grad(jnp.asarray(X)))
    curv = float(np.sum(D * np.asarray(obj.hvp(jnp.asarray(X), jnp.asarray(D)))))
    t = esc["t"]
    assert esc["predicted"] == pytest.approx(t * float(np.sum(g * D)) + 0.5 * t * t * curv, rel=1e-12)
    assert abs(esc["decrease"] - esc["predicted"]) <= 1e-3 * abs(esc["predicted"])  # measured: 3e-5 relative
    assert "max |eigenvalue of Q|" in export(cert, inst, X, obj)["conventions"]["curvature_tolerance"]
