"""``solve_stacked``: one compiled run over many objectives gives what ``solve`` gives each of them, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import ON_CPU, assert_same_numbers

import benign
from benign.solvers import NotStackable, problem_scale, solve, solve_stacked
from benign.solvers.init import problem_scales
from benign.solvers.stacked import _stack


def _objs(spec: str, seeds, loss: str = "l2"):
    return [benign.make_objective(benign.build(spec.format(seed=s)), loss) for s in seeds]


CASES = [  # (instance spec, loss, method, solve keywords)
    ("sensing:n=6,r=1,m=30,seed={seed}", "l2", "perturbed-gd", dict(rank=2, max_iter=120, rule="noise")),
    ("sensing:n=6,r=1,m=30,truth=nonneg,seed={seed}", "l2", "projected-gd", dict(max_iter=120)),
    ("sensing:n=6,r=2,m=40,cond=10,seed={seed}", "l2", "scaled-gd", dict(init="small", max_iter=80)),
    ("sensing:n=5,d2=4,r=1,m=30,seed={seed}", "l2", "gd", dict(rank=2, max_iter=100, init="spectral")),
    ("sensing:n=6,r=1,m=40,noise=outliers,p=0.1,seed={seed}", "l1", "subgradient", dict(max_iter=100)),
    ("completion:n=12,r=1,rate=0.5,seed={seed}", "l2", "trust-region", dict(max_iter=20)),
]


@pytest.mark.parametrize("spec,loss,method,kw", CASES, ids=[c[2] for c in CASES])
def test_stacked_equals_solve_for_every_family(spec, loss, method, kw):
    seeds = [3, 0, 7]
    objs = _objs(spec, seeds, loss)
    if len({o.operator.m for o in objs}) > 1:  # completion: Bernoulli sampling gives different |Omega|
        with pytest.raises(NotStackable):
            solve_stacked(objs, method, seeds, **kw)
        objs = [objs[0]] * 3
    stacked = solve_stacked(objs, method, seeds, history_every=10, **kw)
    # (accelerators only) the subgradient method's residual signs near zero amplify last-bit differences
    rtol = 1e-6 if method == "subgradient" else None
    for obj, s, res in zip(objs, seeds, stacked):
        ref = solve(obj, method, seed=s, history_every=10, **kw)
        assert_same_numbers(res.x, ref.x, rtol=rtol)
        assert_same_numbers((res.loss, res.relative_error, res.grad_norm, res.iterations, res.status),
                            (ref.loss, ref.relative_error, ref.grad_norm, ref.iterations, ref.status), rtol=rtol)
        if ON_CPU:
            assert repr(res.options) == repr(ref.options)
        else:
            assert_same_numbers(res.options, ref.options)
        for k in ref.history:
            assert_same_numbers(res.history[k], ref.history[k], k, rtol=rtol)
        assert res.details["batch_size"] == 3 and res.details["seed"] == s


@pytest.mark.parametrize("spec,method", [("sensing:n=20,r=2,m=200,seed={seed}", "gd"),
                                         ("sensing:n=28,r=1,m=150,seed={seed}", "gd"),
                                         ("sensing:n=14,r=3,m=70,seed={seed}", "scaled-gd"),
                                         ("sensing:n=12,d2=10,r=2,m=80,seed={seed}", "perturbed-gd")])
def test_written_out_small_products_keep_batches_bit_for_bit(spec, method):
    """Sizes where the dense sensing products are written out (``operators.small_matmul``, whose multiply-adds XLA may
    contract differently in another fusion): a ``lax.map`` batch still gives each member's single run exactly."""
    seeds = [1, 2]
    objs = _objs(spec, seeds)
    kw = dict(max_iter=60, history_every=20)
    for obj, s, res in zip(objs, seeds, solve_stacked(objs, method, seeds, strategy="map", **kw)):
        ref = solve(obj, method, seed=s, **kw)
        assert_same_numbers(res.x, ref.x)
        assert_same_numbers((res.loss, res.relative_error, res.grad_norm), (ref.loss, ref.relative_error, ref.grad_norm))
        for k in ref.history:
            assert_same_numbers(res.history[k], ref.history[k], k)


def test_batched_problem_scales_equal_the_single_ones():
    seeds = [0, 5, 11, 2]
    for spec in ("sensing:n=7,r=2,m=50,seed={seed}", "sensing:n=6,d2=5,r=1,m=40,seed={seed}"):
        objs = _objs(spec, seeds)
        batch = problem_scales(objs, _stack(objs), 2, seeds)
        assert_same_numbers(batch, [problem_scale(o, 2, s) for o, s in zip(objs, seeds)])


def test_stacking_refuses_what_cannot_share_a_run():
    a = _objs("sensing:n=5,r=1,m=20,seed={seed}", [0])[0]
    b = _objs("sensing:n=5,r=1,m=24,seed={seed}", [0])[0]
    c = benign.make_objective(benign.build("sensing:n=5,r=1,m=20,seed=1"), "huber")  # another loss: static
    with pytest.raises(NotStackable, match="shape"):
        solve_stacked([a, b], "gd")
    with pytest.raises(NotStackable):
        solve_stacked([a, c], "gd")
    with pytest.raises(NotStackable, match="jitted"):
        solve_stacked([a, a], "convex")
    with pytest.raises(ValueError, match="2 seeds for 3"):
        solve_stacked([a, a, a], "gd", [0, 1])
    with pytest.raises(ValueError, match="strategy"):
        solve_stacked([a], "gd", strategy="pmap")
    with pytest.raises(ValueError, match="at least one"):
        solve_stacked([], "gd")
    with pytest.raises(TypeError, match="Objective"):
        solve_stacked([a, "x"], "gd")
    other_n = benign.make_objective(benign.build("sensing:n=7,r=1,m=20,seed=0"), "l2")
    with pytest.raises(NotStackable, match=r"member 1 differs from member 0: it is 7 x 7 with m = 20 .*, member 0 is 6 x 6"):
        solve_stacked([benign.make_objective(benign.build("sensing:n=6,r=1,m=20,seed=0"), "l2"), other_n], "gd")
    with pytest.raises(TypeError, match=r"seeds=\[...\] \(one per objective\), not seed=0"):
        solve_stacked([a, a], "gd", seed=0)


def test_vmap_strategy_gives_the_same_runs_up_to_rounding():
    """Lock step under vmap: same iterates and stopping (checked exactly here), histories equal to rounding (a
    lax.cond in the loop body runs both branches under vmap, and batched products may sum in another order)."""
    seeds = [1, 4, 6]
    objs = _objs("sensing:n=6,r=1,m=30,truth=nonneg,seed={seed}", seeds)
    mapped = solve_stacked(objs, "projected-gd", seeds, max_iter=60, history_every=5)
    locked = solve_stacked(objs, "projected-gd", seeds, strategy="vmap", max_iter=60, history_every=5)
    for a, b in zip(mapped, locked):
        np.testing.assert_allclose(b.x, a.x, rtol=1e-12, atol=1e-14)
        assert (b.status, b.iterations) == (a.status, a.iterations)
        assert b.relative_error == pytest.approx(a.relative_error, rel=1e-9)
        for k in a.history:
            np.testing.assert_allclose(b.history[k], a.history[k], rtol=1e-9, atol=1e-15)


def test_compiled_start_and_key_draws_equal_the_documented_streams():
    """``initial_point`` (random), ``run_keys`` and ``run_key`` (a single run's key) draw in compiled calls; the
    numbers are those of the documented rule: start ``i`` is ``N(0, 1)`` from ``fold_in(key(seed), i)``, run key
    ``i`` is ``fold_in(fold_in(key(seed), 1000003), i)``."""
    import jax
    import jax.numpy as jnp

    from benign.solvers import initial_point
    from benign.solvers.init import run_key, run_keys

    obj = _objs("sensing:n=7,r=2,m=40,seed={seed}", [0])[0]
    for seed, count in [(0, 1), (5, 3), (2**40 + 7, 2)]:
        base = jax.random.key(seed)
        G = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(base, i), (7, 2), dtype=jnp.float64))
                      for i in range(count)])
        X = initial_point(obj, 2, "random", scale=0.5, seed=seed, count=count)
        np.testing.assert_array_equal(X, 0.5 * G)
        rb = jax.random.fold_in(base, 1_000_003)
        want = np.stack([np.asarray(jax.random.key_data(jax.random.fold_in(rb, i))) for i in range(count)])
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(run_keys(seed, count))), want)
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(run_key(seed))), want[0])
