"""Landscape slices (against pointwise evaluations) and seed 001's landscape recipe."""
from __future__ import annotations

import numpy as np

from benign import instances as I
from benign._jax import jnp
from benign.landscape import plot_seed001, plot_slice, save_figure, seed001_landscape, slice_1d, slice_2d
from benign.objective import make_objective


def test_slices_match_pointwise_values(tmp_path):
    inst = I.sensing(4, 1, 25, seed=0)
    obj = make_objective(inst, "mixed:lam=1,l=4")
    rng = np.random.default_rng(0)
    X, D1, D2 = (rng.standard_normal((4, 2)) for _ in range(3))
    a = np.linspace(-1, 1, 5)
    b = np.array([-0.5, 0.25, 1.0])
    res = slice_2d(obj, X, D1, D2, a, b)
    assert res["f"].shape == (5, 3) and res["lambda_min"].shape == (5, 3)
    for i in (0, 3):
        for j in (1, 2):
            P = jnp.asarray(X + a[i] * D1 + b[j] * D2)
            assert abs(res["f"][i, j] - float(obj.value(P))) <= 1e-12 * abs(res["f"][i, j])
            lmin = np.linalg.eigvalsh(np.asarray(obj.hessian(P)))[0]
            assert abs(res["lambda_min"][i, j] - lmin) <= 1e-10 * max(1.0, abs(lmin))
    one = slice_1d(obj, X, D1, a)
    assert np.allclose(one["f"], [float(obj.value(jnp.asarray(X + t * D1))) for t in a], rtol=1e-12)
    for i in (0, 3):
        lmin = np.linalg.eigvalsh(np.asarray(obj.hessian(jnp.asarray(X + a[i] * D1))))[0]
        assert abs(one["lambda_min"][i] - lmin) <= 1e-10 * max(1.0, abs(lmin))
    fig = plot_slice(res, title="test")
    assert save_figure(fig, str(tmp_path / "s.png")) and (tmp_path / "s.png").stat().st_size > 1000
    fig1 = plot_slice(one)
    assert len(fig1.axes) == 2


def test_seed001_recipe_small():
    """The recipe on a small member (n = 7): (0, 0) is the GD end point V, (1, 1) the truth; d1 + d2 = X* - V with d1
    supported on the first ceil(n/2) coordinates; lambda_min there equals the dense Hessian's."""
    res = seed001_landscape(lam_values=(0.0, 5.0), n=7, eps=0.1, grid=3, lo=0.0, hi=1.0)
    assert res.lambda_min.shape == (2, 3, 3) and len(res.verdicts) == 2
    inst = I.yalcin(7, 0.1)
    for k, lam in enumerate((0.0, 5.0)):
        obj = make_objective(inst, f"mixed:lam={lam},l=4")
        V = res.critical_points[k]
        assert np.allclose(res.d1[k] + res.d2[k], res.truth - V, atol=1e-15)
        assert np.all(res.d1[k][4:] == 0) and np.all(res.d2[k][:4] == 0)
        assert float(np.linalg.norm(np.asarray(obj.grad(jnp.asarray(V[:, None]))))) < 1e-3
        H0 = np.linalg.eigvalsh(np.asarray(obj.hessian(jnp.asarray(V[:, None]))))[0]
        H1 = np.linalg.eigvalsh(np.asarray(obj.hessian(jnp.asarray(res.truth[:, None]))))[0]
        assert abs(res.lambda_min[k, 0, 0] - H0) <= 1e-10 and abs(res.lambda_min[k, 2, 2] - H1) <= 1e-10
        assert abs(res.f[k, 2, 2]) <= 1e-20
    fig = plot_seed001(res)
    assert len(fig.axes) >= 2


def test_slices_refuse_what_they_cannot_compute_honestly():
    """The l1 loss has no Hessian (its lambda_min would be noise from sign(rho)); a value that overflows float64 is an
    error naming the grid point, not an inf in the result; grids have a size limit; the grid's ends are exact and
    stay finite up to the largest floats, and 0 stays exactly 0."""
    import pytest

    from benign.landscape import MAX_POINTS, grid_points

    inst = I.sensing(3, 1, 10, seed=0)
    X, D = np.asarray(inst.truth_point), np.array([[1.0], [0.0], [0.0]])
    l1 = make_objective(inst, "l1")
    with pytest.raises(ValueError, match="l1 loss has no Hessian"):
        slice_1d(l1, X, D, [-0.01, 0.0, 0.01])
    f = slice_1d(l1, X, D, [-0.01, 0.0, 0.01], hessian=False)["f"]
    assert f[1] <= 1e-12 < f[0] and "lambda_min" not in slice_1d(l1, X, D, [0.0, 1.0], hessian=False)
    l2 = make_objective(inst, "l2")
    with pytest.raises(ValueError, match=r"f is not finite \(float64 overflow\) at 1 of 3 grid points, first at "
                                         r"alpha = 1e\+200"):
        slice_1d(l2, X, D, [0.0, 1.0, 1e200], hessian=False)
    with pytest.raises(ValueError, match="more than 4,000,000"):
        slice_2d(l2, X, D, D, np.zeros(MAX_POINTS // 1000 + 1), np.zeros(1000), hessian=False)
    g = grid_points(-1.7e308, 1.7e308, 5)
    assert np.all(np.isfinite(g)) and g[0] == -1.7e308 and g[-1] == 1.7e308 and g[2] == 0.0
    for lo, hi, count, zero in ((-0.3, 1.25, 32, 6), (-0.7, 0.3, 11, 7), (-0.6, 0.9, 6, 2)):
        g = grid_points(lo, hi, count)  # (the plain formula leaves 4.4e-17 at the last two zeros)
        assert g[0] == lo and g[-1] == hi and g[zero] == 0.0 and np.count_nonzero(g == 0) == 1
    one_row = slice_2d(l2, X, D, D[::-1], [0.0], [-1.0, 0.0, 1.0], hessian=False)
    assert len(plot_slice(one_row).axes) == 2  # a map with one value on an axis: a cell of width 1 around it
