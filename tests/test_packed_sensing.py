"""Packed symmetric dense sensing: the copy ``P`` (upper triangles) agrees with the full ``A`` path.

For symmetric ``A_i``: ``A(M)_i = sum_j A_jj M_jj + sum_{j<k} A_jk (M_jk + M_kj) = P_i . pack(M)`` for every
``M``, and ``A*(y)`` is the symmetric matrix unpacked from ``P^T y``.
"""
from __future__ import annotations

import numpy as np
import pytest

from benign._jax import jax, jnp
from benign import instances as I
from benign import operators as ops
from conftest import assert_same_numbers, rel


def _symmetric_operators(n: int = 5, m: int = 13):
    rng = np.random.default_rng(7)
    G = rng.standard_normal((m, n, n))
    B = rng.standard_normal((n * n, n * n))
    # a kernel that vanishes on antisymmetric matrices gives symmetric A_i
    Psym = ops.symmetric_basis(n)
    K = Psym @ (B[: Psym.shape[1], : Psym.shape[1]] @ B[: Psym.shape[1], : Psym.shape[1]].T) @ Psym.T
    out = [
        ("gaussian", ops.gaussian_sensing(rng, m, n)),
        ("explicit", ops.from_matrices(G + G.transpose(0, 2, 1))),
        ("kernel", ops.from_kernel(K)),
    ]
    gauss = out[0][1]
    out.append(("loaded", ops.operator_from_arrays(gauss.kind, gauss.arrays(), gauss.shape, True)))
    return out


SYM = _symmetric_operators()


def _unpacked(op):
    """The same operator without the packed copy: every primitive reads the full ``A``."""
    return ops.DenseSensing(op.A, op.shape, True, op.kind)


def test_pack_weights_by_hand():
    rng = np.random.default_rng(0)
    n = 6
    M = rng.standard_normal((n, n))
    S = rng.standard_normal((n, n))
    S = S + S.T
    expected = []
    for j in range(n):
        for k in range(j, n):
            expected.append(M[j, j] if j == k else M[j, k] + M[k, j])
    assert np.array_equal(np.asarray(ops.pack_symmetric(jnp.asarray(M))), np.array(expected))
    upper = S[np.triu_indices(n)]
    # <S, M> = packed(S) . pack(M), for a non-symmetric M
    assert abs(upper @ np.array(expected) - np.sum(S * M)) <= 1e-13 * np.sum(np.abs(S * M))
    assert np.array_equal(np.asarray(ops.unpack_symmetric(jnp.asarray(upper), n)), S)
    A = np.stack([S.reshape(-1), (2 * S).reshape(-1)])
    assert np.array_equal(np.asarray(ops.dense_operator(A, (n, n), True).P), np.stack([upper, 2 * upper]))
    # a stack of packed rows unpacks row by row
    assert np.array_equal(np.asarray(ops.unpack_symmetric(np.stack([upper, 2 * upper]), n)), np.stack([S, 2 * S]))


@pytest.mark.parametrize("name,op", SYM, ids=[c[0] for c in SYM])
def test_packed_copy_present_and_exact(name, op):
    n = op.shape[0]
    assert op.symmetric and op.P is not None
    assert op.P.shape == (op.m, n * (n + 1) // 2)
    mats = op.matrices()
    assert np.array_equal(mats, mats.transpose(0, 2, 1))  # stored A is exactly symmetric
    j, k = np.triu_indices(n)
    assert np.array_equal(np.asarray(op.P), mats[:, j, k])


@pytest.mark.parametrize("name,op", SYM, ids=[c[0] for c in SYM])
def test_packed_agrees_with_full_path(name, op):
    rng = np.random.default_rng(11)
    n = op.shape[0]
    full = _unpacked(op)
    mats = op.matrices()
    y = jnp.asarray(rng.standard_normal(op.m))
    U = jnp.asarray(rng.standard_normal((n, 3)))
    V = jnp.asarray(rng.standard_normal((n, 3)))
    G = rng.standard_normal((n, n))
    for M in (jnp.asarray(G), jnp.asarray(G + G.T)):  # non-symmetric and symmetric M
        assert rel(op.forward(M), full.forward(M)) < 1e-13
        assert rel(op.forward(M), np.einsum("ijk,jk->i", mats, np.asarray(M))) < 1e-13
        lhs = float(jnp.dot(op.forward(M), y))
        rhs = float(jnp.sum(M * op.adjoint(y)))
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))
    assert rel(op.adjoint(y), full.adjoint(y)) < 1e-13
    assert rel(op.adjoint(y), np.einsum("i,ijk->jk", np.asarray(y), mats)) < 1e-13
    for a, b in ((U, V), (U, U)):
        assert rel(op.forward_factored(a, b), full.forward_factored(a, b)) < 1e-13
    assert rel(op.adjoint_matmul(y, V), full.adjoint_matmul(y, V)) < 1e-13
    assert rel(op.adjoint_rmatmul(y, U), full.adjoint_rmatmul(y, U)) < 1e-13
    assert rel(op.adjoint_rmatmul(y, U), op.adjoint(y).T @ U) < 1e-13


def test_hot_path_never_reads_full_A():
    """With the packed copy present, value, gradient and HVP do not touch ``A``: poisoning it changes nothing."""
    rng = np.random.default_rng(3)
    op = ops.gaussian_sensing(rng, 40, 6)
    poisoned = ops.DenseSensing(jnp.full_like(op.A, jnp.nan), op.shape, True, op.kind, op.P)
    L = rng.standard_normal((6, 2))
    X = jnp.asarray(rng.standard_normal((6, 2)))
    D = jnp.asarray(rng.standard_normal((6, 2)))
    noise = 0.1 * rng.standard_normal(op.m)
    objs = [I.from_arrays(o, L, noise=noise).objective("l2") for o in (poisoned, _unpacked(op))]
    assert rel(objs[0].value(X), objs[1].value(X)) < 1e-13
    assert rel(objs[0].grad(X), objs[1].grad(X)) < 1e-13
    assert rel(objs[0].hvp(X, D), objs[1].hvp(X, D)) < 1e-13


def test_asymmetric_operators_have_no_packed_copy():
    rng = np.random.default_rng(5)
    cases = [ops.gaussian_sensing(rng, 9, 4, 3, False), ops.gaussian_sensing(rng, 9, 4, 4, False),
             ops.from_matrices(rng.standard_normal((9, 4, 4)))]
    for op in cases:
        assert not op.symmetric and op.P is None
        M = jnp.asarray(rng.standard_normal(op.shape))
        assert rel(op.forward(M), np.einsum("ijk,jk->i", op.matrices(), np.asarray(M))) < 1e-13


def test_near_symmetric_matrices_are_symmetrised():
    """Matrices symmetric up to rounding give an exactly symmetric ``A`` consistent with ``P``."""
    rng = np.random.default_rng(9)
    G = rng.standard_normal((7, 4, 4))
    S = G + G.transpose(0, 2, 1)
    op = ops.from_matrices(S + 1e-14 * rng.standard_normal(S.shape))
    assert op.symmetric and op.P is not None
    mats = op.matrices()
    assert np.array_equal(mats, mats.transpose(0, 2, 1))
    M = jnp.asarray(rng.standard_normal((4, 4)))
    assert rel(op.forward(M), _unpacked(op).forward(M)) < 1e-13


def test_jit_rebuilds_packed_operator():
    rng = np.random.default_rng(2)
    op = ops.gaussian_sensing(rng, 12, 5)
    U = jnp.asarray(rng.standard_normal((5, 2)))
    leaves = jax.tree_util.tree_leaves(op)
    assert len(leaves) == 2  # A and P
    got = jax.jit(lambda o, u: o.forward_factored(u, u))(op, U)
    assert rel(got, _unpacked(op).forward_factored(U, U)) < 1e-13


@pytest.mark.parametrize("symmetric", [True, False])
def test_stack_and_vmap(symmetric):
    """Operators stacked leaf-wise (as the sweep engine does) work under vmap; the None leaf stacks too."""
    rng = np.random.default_rng(4)
    n, m = 5, 10
    op1, op2 = (ops.gaussian_sensing(rng, m, n, n, symmetric) for _ in range(2))
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), op1, op2)
    assert stacked.A.shape == (2, m, n * n)
    if symmetric:
        assert stacked.P.shape == (2, m, n * (n + 1) // 2)
    else:
        assert stacked.P is None
    U = jnp.asarray(rng.standard_normal((2, n, 2)))
    V = jnp.asarray(rng.standard_normal((2, n, 2)))
    y = jnp.asarray(rng.standard_normal((2, m)))
    fwd = jax.vmap(lambda o, u, v: o.forward_factored(u, v))(stacked, U, V)
    adj = jax.vmap(lambda o, w, v: o.adjoint_matmul(w, v))(stacked, y, V)
    radj = jax.vmap(lambda o, w, u: o.adjoint_rmatmul(w, u))(stacked, y, U)
    for b, op in enumerate((op1, op2)):
        ref = _unpacked(op) if symmetric else op
        assert rel(fwd[b], ref.forward_factored(U[b], V[b])) < 1e-13
        assert rel(adj[b], ref.adjoint_matmul(y[b], V[b])) < 1e-13
        assert rel(radj[b], ref.adjoint_rmatmul(y[b], U[b])) < 1e-13


def test_rows_flagged_symmetric_must_be_symmetric():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 16))
    with pytest.raises(ValueError, match="flagged symmetric"):
        ops.dense_operator(A, (4, 4), True)
    mats = A.reshape(6, 4, 4)
    sym = 0.5 * (mats + mats.transpose(0, 2, 1))
    nearly = sym + 1e-14 * rng.standard_normal(sym.shape)  # rounding-level asymmetry is accepted and removed
    op = ops.dense_operator(nearly.reshape(6, 16), (4, 4), True)
    M = np.asarray(op.A).reshape(6, 4, 4)
    assert np.array_equal(M, M.transpose(0, 2, 1))


def test_hessian_products_for_a_symmetric_flagged_operator_without_packed_copy():
    """The Jacobian shortcut 2 A_i X needs exactly symmetric A_i (guaranteed with P); a DenseSensing built by hand
    with is_symmetric=True and P=None (rows not symmetric) must still get the exact Hessian products."""
    from benign.certify.spectral import hessian_matmat
    from benign.instances import from_arrays
    from benign.objective import make_objective

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 25)) / np.sqrt(30)
    op = ops.DenseSensing(jnp.asarray(A), (5, 5), True, "dense")
    obj = make_objective(from_arrays(op, rng.standard_normal((5, 1))), "l2")
    X = jnp.asarray(rng.standard_normal((5, 2)))
    V = rng.standard_normal((10, 3))
    H = np.asarray(obj.hessian(X))
    for W in (V, V[:, :1]):  # a block and one column (the gemv path)
        np.testing.assert_allclose(hessian_matmat(obj, X)(W), H @ W, rtol=1e-12, atol=1e-12 * np.abs(H).max())


@pytest.mark.parametrize("loss", ["l2", "mixed:lam=0.5,l=4"])
def test_dense_hessian_from_the_jacobian_equals_the_hvp_build(loss):
    from benign.certify.spectral import _packed_jacobian_ok, dense_hessian
    from benign.objective import make_objective

    rng = np.random.default_rng(5)
    inst = I.sensing(6, 2, 40, seed=5)
    obj = make_objective(inst, loss)
    X = jnp.asarray(rng.standard_normal((6, 3)))
    assert _packed_jacobian_ok(obj, X)
    H = dense_hessian(obj, X)
    ref = np.asarray(obj.hessian(X))
    assert np.abs(H - ref).max() <= 1e-12 * np.abs(ref).max()
    comp = make_objective(I.completion(8, 1, seed=0, rate=0.5), loss)  # not dense sensing: the HVP build
    Y = jnp.asarray(rng.standard_normal((8, 2)))
    assert not _packed_jacobian_ok(comp, Y)
    assert_same_numbers(dense_hessian(comp, Y), comp.hessian(Y))
