"""What the solver loop's bookkeeping costs per iteration, next to the bare iteration, on small dense sensing.

    python benchmarks/loop_overhead.py            # n = 10 and 20, best of 9 alternating runs each

Every row is one compiled ``lax.while_loop`` of ``ITERS`` GD iterations on symmetric Gaussian sensing (packed operator
``P``, the products that ``benign`` uses), timed after compilation; printed: microseconds per iteration.

* ``bare GD``: ``X <- X - eta A*(A(XX^T) - b) X`` and nothing else;
* ``+ exact error, every iteration``: plus the cancellation-free relative error
  (``benign.objective.relative_error``, about ten small kernels), evaluated unconditionally;
* ``+ exact error behind lax.cond``: plus the same error behind a branch that is never taken (what the loop does
  for a thinned history without the ``rtol`` rule);
* ``+ screen, exact error behind lax.cond``: plus the Gram-formula screen (``benign.solvers.loop._may_reach``)
  deciding the branch, with an ``rtol`` that the run never reaches (what the loop does with the ``rtol`` rule);
* ``benign gd, rtol off / rtol on``: ``benign.solvers.solve(..., "gd")`` (history thinned, stall rule off), its loop
  time per iteration ((best of 15 runs of ``ITERS`` iterations - best of 15 of 0) / ``ITERS``, so that the fixed
  cost of a call is left out; that cost, a call of 0 iterations with ``rtol``, is printed too);
* ``solve set-up per call``: the median of ``solve``'s own set-up time before the loop over 200 calls with the default
  random start (``details["setup_seconds"]``).

To time an older version's loop in the same way, put its ``src`` first on ``PYTHONPATH`` (versions before 0.4.2 have
no screen: that row is then left out, and ``rtol on`` evaluates the error every iteration as they did).

The differences between rows are the prices of the pieces; ``benign gd`` minus the matching bare row is roughly the
rest of the loop's bookkeeping (divergence test, stopping rules, history): roughly, because the bare loops are not
the library's iteration kernel for kernel (a fixed step, no loss value, an int32 counter).
"""
from __future__ import annotations

import time

import numpy as np

SIZES = [(10, 1, 70), (20, 2, 200)]
ITERS = 2000


def _loops(obj, P, b, n: int) -> dict:
    """The bare loops (``X -> X`` compiled functions), each with a different error treatment."""
    from benign._jax import jax, jnp
    from benign.objective import relative_error, truth_basis
    from benign.operators import pack_symmetric, small_matmul, unpack_symmetric
    try:
        from benign.solvers.loop import _may_reach
    except ImportError:  # before 0.4.2
        _may_reach = None

    basis = truth_basis(obj)
    nan = jnp.asarray(jnp.nan, jnp.float64)

    def step(X):
        rho = P @ pack_symmetric(small_matmul(X, X.T)) - b
        return X - 1e-4 * small_matmul(unpack_symmetric(rho @ P, n), X)

    def make(err_of):
        def body(s):
            k, X, e = s
            X = step(X)
            return k + 1, X, jnp.minimum(e, err_of(k, X))  # the error feeds the state, as in the loop

        return jax.jit(lambda X: jax.lax.while_loop(lambda s: s[0] < ITERS, body, (0, X, jnp.inf))[1:])

    def exact(X):
        return relative_error(obj, X, basis)

    loops = {
        "bare GD": make(lambda k, X: jnp.inf),
        "+ exact error, every iteration": make(lambda k, X: exact(X)),
        "+ exact error behind lax.cond": make(
            lambda k, X: jax.lax.cond(k > ITERS, lambda _: exact(X), lambda _: nan, None)),
    }
    if _may_reach is not None:
        loops["+ screen, exact error behind lax.cond"] = make(
            lambda k, X: jax.lax.cond(_may_reach(obj, X, basis, 1e-300), lambda _: exact(X), lambda _: nan, None))
    return loops


def _benign_per_iteration(obj, X0, rtol) -> tuple[float, float]:
    """``solve``'s loop time per iteration, best of 15: (ITERS iterations - 0 iterations) / ITERS, and the time of
    a call that does no iteration (microseconds both)."""
    from benign.solvers import solve

    kw = dict(x0=X0, rtol=rtol, gtol=0.0, stall_window=0, history_every=ITERS)
    solve(obj, "gd", max_iter=0, **kw)
    solve(obj, "gd", max_iter=ITERS, **kw)
    zero = min(solve(obj, "gd", max_iter=0, **kw).seconds for _ in range(15))
    runs = [solve(obj, "gd", max_iter=ITERS, **kw) for _ in range(15)]
    if any(res.iterations != ITERS for res in runs):  # an early stop would understate the time per iteration
        raise SystemExit(f"benign gd stopped early: {runs[0].status} after {runs[0].iterations} iterations")
    return (min(res.seconds for res in runs) - zero) / ITERS * 1e6, zero * 1e6


def _setup_per_call(obj, r: int) -> float:
    """The median of ``solve``'s own set-up (``details["setup_seconds"]``: checks, problem scale, random start,
    run key) over 200 calls with the default start (seeds 0..199, ``max_iter=0``), microseconds."""
    from benign.solvers import solve

    solve(obj, "gd", rank=r, seed=0, max_iter=0)
    return float(np.median([solve(obj, "gd", rank=r, seed=s, max_iter=0).details["setup_seconds"]
                            for s in range(200)])) * 1e6


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help; no options
    import benign
    from benign._jax import jax
    from benign.solvers import initial_point

    print(f"loop bookkeeping on packed dense sensing, {ITERS} GD iterations per run, best of 9 alternating runs "
          f"(benign {benign.__version__}, JAX {jax.__version__}, {jax.default_backend()}); microseconds per iteration")
    for n, r, m in SIZES:
        obj = benign.make_objective(benign.sensing(n, r, m, seed=0), "l2")
        X0 = initial_point(obj, r, "random", seed=0)
        loops = _loops(obj, obj.operator.P, obj.b, n)
        for f in loops.values():
            jax.block_until_ready(f(X0))
        best = {k: np.inf for k in loops}
        for _ in range(9):
            for k, f in loops.items():
                t = time.perf_counter()
                jax.block_until_ready(f(X0))
                best[k] = min(best[k], time.perf_counter() - t)
        rows = {k: v / ITERS * 1e6 for k, v in best.items()}
        rows["benign gd, rtol off"], _ = _benign_per_iteration(obj, X0, None)
        rows["benign gd, rtol on (never met)"], fixed = _benign_per_iteration(obj, X0, 1e-300)
        print(f"\nn={n} r={r} m={m}")
        for k, v in rows.items():
            print(f"    {k:40s} {v:8.2f} us/it")
        print(f"    {'benign gd, a call of 0 iterations':40s} {fixed:8.1f} us (the fixed cost left out above)")
        print(f"    {'solve set-up per call (median of 200)':40s} {_setup_per_call(obj, r):8.1f} us (before the loop: "
              "checks, problem scale, random start, run key)")


if __name__ == "__main__":
    main()
