"""Instances built on the host (``device=False``): the same numbers as on the device, NumPy arrays throughout,
and operators without their full rows (packed symmetric sensing read through ``P`` only)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_numbers

from benign._jax import jax
from benign import instances as I
from benign import operators as ops
from benign.objective import make_objective
from benign.solvers import solve, solve_stacked

SPECS = ["sensing:n=6,r=2,m=40,seed=3", "sensing:n=5,d2=4,r=2,m=30,seed=1",
         "sensing:n=6,r=1,m=30,op=rankone,seed=2", "completion:n=8,r=2,rate=0.5,seed=4",
         "sensing:n=6,r=1,m=40,noise=outliers,p=0.2,seed=5", "yalcin:n=5,eps=0.3", "zsl-half"]


def _leaves(tree):
    return jax.tree_util.tree_leaves(tree)


@pytest.mark.parametrize("spec", SPECS)
def test_host_build_same_numbers_numpy_leaves(spec):
    dev = I.build(spec)
    host = I.build(spec, device=False)
    assert ops.on_host(host.operator) and not ops.on_host(dev.operator)
    assert all(isinstance(v, jax.Array) for v in _leaves(dev.operator))
    assert np.array_equal(host.b, dev.b)  # b is computed on the host in both cases
    for a, b in zip(_leaves(host.operator), _leaves(dev.operator)):
        assert np.array_equal(a, np.asarray(b))
    obj_h, obj_d = make_objective(host), make_objective(dev)
    assert ops.on_host(obj_h) and isinstance(obj_d.b, jax.Array)
    X = np.random.default_rng(0).standard_normal((obj_d.rows, 2))
    assert_same_numbers(float(obj_h.value(X)), float(obj_d.value(X)))
    assert_same_numbers(obj_h.grad(X), obj_d.grad(X))
    moved = ops.on_device(obj_h)
    assert not ops.on_host(moved) and np.array_equal(np.asarray(moved.b), np.asarray(obj_d.b))


def test_measurements_match_the_forward_map():
    """``b - noise = A(M*)`` through the operator's own (device) forward map, to rounding."""
    for spec in SPECS:
        inst = I.build(spec)
        R = inst.truth_left if inst.symmetric else inst.truth_right
        clean = np.asarray(inst.operator.forward(jax.numpy.asarray(inst.truth_left @ R.T)))
        noise = 0.0 if inst.noise is None else inst.noise
        assert np.max(np.abs(inst.b - noise - clean)) <= 1e-13 * max(1.0, np.max(np.abs(clean))), spec


def test_operator_without_full_rows():
    op = I.build("sensing:n=7,r=2,m=25,seed=0").operator
    bare = op.without_full_rows()
    assert bare.A is None and bare.P is op.P and bare.m == op.m == 25
    assert np.array_equal(np.asarray(bare.full_rows()), np.asarray(op.A))  # unpacked exactly
    assert np.array_equal(bare.matrices(), op.matrices())
    assert np.array_equal(bare.arrays()["A"], op.arrays()["A"])
    rng = np.random.default_rng(1)
    U, V, y = rng.standard_normal((7, 2)), rng.standard_normal((7, 2)), rng.standard_normal(25)
    for name in ("forward_factored", "adjoint_matmul", "adjoint_rmatmul"):
        a, b = (U, V) if name == "forward_factored" else (y, V)
        assert np.array_equal(np.asarray(getattr(bare, name)(a, b)), np.asarray(getattr(op, name)(a, b))), name
    asym = I.build("sensing:n=5,d2=4,r=1,m=20,seed=0").operator
    assert asym.without_full_rows() is asym  # no packed copy: the rows are the operator


def test_stacked_host_objectives_match_solve_bit_for_bit():
    specs = [f"sensing:n=8,r=1,m=50,seed={s}" for s in range(4)]
    host = [make_objective(I.build(s, device=False)) for s in specs]
    stacked = solve_stacked(host, "gd", seeds=[10, 11, 12, 13], max_iter=300)
    for s, seed, res in zip(specs, [10, 11, 12, 13], stacked):
        alone = solve(make_objective(I.build(s)), "gd", seed=seed, max_iter=300)
        assert np.array_equal(res.x, alone.x) and res.iterations == alone.iterations
        assert res.relative_error == alone.relative_error


BATCH_KINDS = ["sensing:n=7,r=1,m=40,op=rankone,seed={s}", "completion:n=10,r=2,count=70,seed={s}",
               "sensing:n=6,d2=5,r=2,m=60,seed={s}", "sensing:n=7,r=2,m=50,noise=gaussian,sigma=0.01,seed={s}",
               "yalcin:n=5,eps=0.3"]


@pytest.mark.parametrize("spec", BATCH_KINDS, ids=lambda s: s.split(",")[0] + ("-rankone" if "rankone" in s else ""))
def test_batched_trials_equal_single_trials_bit_for_bit(spec):
    """The sweep's batch (host-built, stacked in one transfer per array) gives each trial what the trial gives
    alone (device-built), for every instance kind."""
    from benign.experiments.solve_trial import solve_batch, solve_trial

    seeds = [4, 0, 9]
    params = [{"instance": spec.format(s=s), "method": "gd", "rank": 2, "max_iter": 150, "history": 4}
              for s in seeds]
    drop = lambda d: {k: v for k, v in d.items() if k != "solver_seconds"}  # noqa: E731
    batched = solve_batch(params, seeds)
    assert_same_numbers([drop(b) for b in batched], [drop(solve_trial(p, s)) for p, s in zip(params, seeds)])


def test_stacked_runs_never_read_the_full_rows():
    """Stacking leaves out ``A`` (the loop reads ``P``): NaN in ``A`` changes nothing, and the stacked operator
    carries no ``A`` at all."""
    from dataclasses import replace

    from benign.solvers.stacked import _loop_view, _stack

    objs = [make_objective(I.build(f"sensing:n=6,r=1,m=30,seed={s}", device=False)) for s in range(3)]
    poisoned = [replace(o, operator=replace(o.operator, A=np.full(o.operator.A.shape, np.nan))) for o in objs]
    assert _stack([_loop_view(o) for o in poisoned]).operator.A is None
    clean = solve_stacked(objs, "gd", seeds=[0, 1, 2], max_iter=100)
    dirty = solve_stacked(poisoned, "gd", seeds=[0, 1, 2], max_iter=100)
    for a, b in zip(clean, dirty):
        assert np.array_equal(a.x, b.x) and a.iterations == b.iterations and np.isfinite(a.loss)


def test_host_arrays_are_read_only_copies_and_saved_instances_load_on_the_device(tmp_path):
    A = np.random.default_rng(0).standard_normal((5, 9))
    op = ops.dense_operator(A, (3, 3), False, device=False)
    assert op.A is not A and not op.A.flags.writeable
    A[0, 0] = 1e9  # the caller's array is not the operator's
    assert op.A[0, 0] != 1e9
    from benign.io import save_instance

    path = str(tmp_path / "inst.npz")
    save_instance(path, I.build("sensing:n=4,r=1,m=12,seed=0"))
    loaded = I.build(path, device=False)  # a saved instance is loaded as usual (on the device)
    assert not ops.on_host(loaded.operator)
