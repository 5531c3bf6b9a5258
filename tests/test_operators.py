"""Operators: adjoint identity, factored fast paths, normalisation, completion never densifies."""
from __future__ import annotations

import numpy as np
import pytest

from benign._jax import jax, jnp
from benign import instances as I
from benign import operators as ops
from conftest import all_operators, rel

CASES = all_operators()


@pytest.mark.parametrize("name,op,sym", CASES, ids=[c[0] for c in CASES])
def test_adjoint_identity_and_fast_paths(name, op, sym):
    rng = np.random.default_rng(1)
    d1, d2 = op.shape
    M = jnp.asarray(rng.standard_normal((d1, d2)))
    y = jnp.asarray(rng.standard_normal(op.m))
    lhs = float(jnp.dot(op.forward(M), y))
    rhs = float(jnp.sum(M * op.adjoint(y)))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))
    U = jnp.asarray(rng.standard_normal((d1, 3)))
    V = jnp.asarray(rng.standard_normal((d2, 3)))
    assert rel(op.forward_factored(U, V), op.forward(U @ V.T)) < 1e-13
    assert rel(op.adjoint_matmul(y, V), op.adjoint(y) @ V) < 1e-13
    assert rel(op.adjoint_rmatmul(y, U), op.adjoint(y).T @ U) < 1e-13
    # the summed products of the gradient and the Hessian-vector product (one pass per side where the operator has
    # it; completion switches to its scatter loop from rank _SCATTER_LOOP_MIN_RANK: both ranks are checked)
    y2 = jnp.asarray(rng.standard_normal(op.m))
    for r in (3, ops._SCATTER_LOOP_MIN_RANK + 1):
        U, V, U2, V2 = (jnp.asarray(rng.standard_normal((d, r))) for d in (d1, d2, d1, d2))
        left = op.adjoint(y) @ V + op.adjoint(y2) @ V2
        right = op.adjoint(y).T @ U + op.adjoint(y2).T @ U2
        assert rel(op.adjoint_terms((y, y2), (V, V2), (U, U2), stack=True), np.concatenate([left, right])) < 1e-13
        assert rel(op.adjoint_terms((y,), (V,), (U,), stack=True),
                   np.concatenate([op.adjoint(y) @ V, op.adjoint(y).T @ U])) < 1e-13
        if d1 == d2:
            assert rel(op.adjoint_terms((y, y2), (V, V2), (U, U2)), left + right) < 1e-13
    # explicit matrices agree with forward: A(M)_i = <A_i, M> (full inner product, not the diagonal)
    mats = op.matrices()
    assert rel(np.einsum("ijk,jk->i", mats, np.asarray(M)), op.forward(M)) < 1e-13


def test_kernel_roundtrip_and_psd_check():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((5, 9))
    H = B.T @ B
    op = ops.from_kernel(H)
    assert op.m == 5
    assert rel(ops.kernel(op), H) < 1e-10
    with pytest.raises(ValueError, match="positive semidefinite"):
        ops.from_kernel(-H - np.eye(9))
    with pytest.raises(ValueError, match="symmetric"):
        ops.from_kernel(B.T @ B + np.triu(np.ones((9, 9)), 1))
    with pytest.raises(ValueError, match="side n\\^2"):
        ops.from_kernel(np.eye(5))


def test_symmetry_and_psd_tests_are_relative_to_the_scale():
    """The same matrices at any scale are judged alike: at 1e-13 clearly asymmetric matrices were called symmetric
    (an absolute 1e-12 floor) and replaced by their symmetric parts (A(M) wrong by 18%); a kernel scaled by 1e-20
    lost its antisymmetric part, and an indefinite one at 1e-9 had its negative eigenvalue dropped silently."""
    rng = np.random.default_rng(0)
    G = rng.standard_normal((3, 2, 2))
    M = rng.standard_normal((2, 2))
    for scale in (1e-13, 1.0, 1e9):
        op = ops.from_matrices(scale * G)
        assert not op.symmetric
        assert rel(op.forward(jnp.asarray(M)), np.einsum("ijk,jk->i", scale * G, M)) < 1e-13
    B = rng.standard_normal((6, 4))
    H = B.T @ B  # not vanishing on antisymmetric 2 x 2 matrices
    for scale in (1e-20, 1.0):
        op = ops.from_kernel(scale * H)
        assert not op.symmetric and rel(ops.kernel(op), scale * H) < 1e-10
    D = np.diag([1.0, 1.0, 1.0, -0.5])
    for scale in (1e-9, 1.0):
        with pytest.raises(ValueError, match="positive semidefinite"):
            ops.from_kernel(scale * D)
    with pytest.raises(ValueError, match="positive semidefinite"):  # the documented rtol ||H||_2 = 1e-10
        ops.from_kernel(np.diag([1.0, 1.0, 1.0, -5e-9]))
    ops.from_kernel(np.diag([1.0, 1.0, 1.0, -5e-11]))  # within it: accepted


def test_settings_of_another_noise_model_are_refused():
    with pytest.raises(ValueError, match="outlier apply to noise='outliers' only"):
        I.sensing(4, 2, 10, outlier="sign")
    with pytest.raises(ValueError, match="outlier apply to noise='outliers' only"):
        I.with_noise(I.sensing(4, 2, 10), 7, outlier="sign")
    assert I.sensing(4, 2, 10, noise="outliers", p=0.2, outlier="sign").meta["outlier"] == "sign"
    with pytest.raises(ValueError, match="asym=0 asks for a symmetric instance"):
        I.build("sensing:n=4,d2=4,r=2,m=10,asym=0")


def test_gaussian_normalisation():
    """E||A(M)||^2 = ||M||_F^2 for symmetric M (both symmetric and asymmetric Gaussian sensing)."""
    rng = np.random.default_rng(3)
    n, m = 6, 4000
    S = rng.standard_normal((n, n))
    M = jnp.asarray(S + S.T)
    for sym in (True, False):
        op = ops.gaussian_sensing(rng, m, n, n, sym)
        ratio = float(jnp.sum(op.forward(M) ** 2) / jnp.sum(M ** 2))
        assert abs(ratio - 1.0) < 4 * np.sqrt(2.0 / m) + 0.02


def test_generators_and_gaussian_draws_are_the_documented_ones():
    """The instance generators are the children 0, 1, 2 of SeedSequence(seed), and symmetric Gaussian sensing is
    0.5 (G + G^T) with G = N(0, 1) / sqrt(m) drawn from the operator's generator, exactly."""
    for seed in (0, 5, 2**40):
        kids = np.random.SeedSequence(seed).spawn(3)
        for g, kid in zip(I._rngs(seed), kids):
            assert np.array_equal(g.standard_normal(8), np.random.default_rng(kid).standard_normal(8))
    m, n = 9, 4
    G = np.random.default_rng(3).standard_normal((m, n, n)) / np.sqrt(m)
    op = ops.gaussian_sensing(np.random.default_rng(3), m, n, device=False)
    assert np.array_equal(op.matrices(), 0.5 * (G + G.transpose(0, 2, 1)))
    Ga = np.random.default_rng(4).standard_normal((m, n, n - 1)) / np.sqrt(m)
    assert np.array_equal(ops.gaussian_sensing(np.random.default_rng(4), m, n, n - 1, False, device=False).matrices(), Ga)


def test_small_products_match_matmul():
    """``small_matmul``: NumPy inputs take ``@``; small JAX products are written out (same value to rounding); large
    ones (or a long inner dimension) take ``@``."""
    rng = np.random.default_rng(0)
    for shape_a, shape_b in (((20, 2), (2, 20)), ((20, 20), (20, 2)), ((3, 40), (40, 2)), ((60, 60), (60, 3))):
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        assert np.array_equal(ops.small_matmul(a, b), a @ b)
        got = np.asarray(jax.jit(ops.small_matmul)(jnp.asarray(a), jnp.asarray(b)))
        np.testing.assert_allclose(got, a @ b, rtol=1e-13, atol=1e-13 * np.abs(a).max() * np.abs(b).max())


def test_entry_sampling_counts_and_rate():
    rng = np.random.default_rng(4)
    r, c = ops.sample_entries(rng, 50, 40, count=300)
    assert r.size == 300 and len(set(zip(r.tolist(), c.tolist()))) == 300
    r, c = ops.sample_entries(rng, 200, 200, rate=0.1)
    assert abs(r.size / 40000 - 0.1) < 0.01
    with pytest.raises(ValueError, match="count"):
        ops.sample_entries(rng, 3, 3, count=10)
    with pytest.raises(ValueError, match="rate"):
        ops.sample_entries(rng, 3, 3, rate=1.5)


def _max_intermediate(fn, *args) -> int:
    jaxpr = jax.make_jaxpr(fn)(*args)
    biggest = 0

    def walk(jx):
        nonlocal biggest
        for eqn in jx.eqns:
            for v in eqn.outvars:
                biggest = max(biggest, int(np.prod(getattr(v.aval, "shape", ()) or (1,))))
            for p in eqn.params.values():
                inner = getattr(p, "jaxpr", p)  # ClosedJaxpr -> Jaxpr
                if hasattr(inner, "eqns"):
                    walk(inner)
    walk(jaxpr.jaxpr)
    return biggest


def test_completion_never_allocates_dense():
    """n = 200,000: an n x n float64 array would need 320 GB. Value, gradient and HVP run in O(|Omega| r)."""
    n, r = 200_000, 2
    inst = I.completion(n, r, seed=0, count=20_000)
    obj = inst.objective("l2")
    X = jnp.asarray(np.random.default_rng(0).standard_normal((n, r)))
    assert np.isfinite(float(obj.value(X)))
    assert obj.grad(X).shape == (n, r)
    assert obj.hvp(X, X).shape == (n, r)
    for fn in (lambda Y: obj.value(Y), lambda Y: obj.grad(Y), lambda Y: obj.hvp(Y, Y)):
        biggest = _max_intermediate(fn, X)
        # the walk reached the jitted body (the (m, r) gathers of the factors are there) ...
        assert biggest >= inst.m * r
        # ... and nothing larger than the factors or the gathered rows was formed (the HVP evaluates
        # A(D X^T + X D^T) as one factored product of [D, X] and [X, D]: 2r columns)
        assert biggest <= max(n, inst.m) * 2 * r
    assert I.relative_error(inst, X) > 0
