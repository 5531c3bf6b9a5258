"""Written-out small products (``benign.operators.small_matmul``) against matrix-product calls, in a bare GD loop.

    python benchmarks/small_products.py            # the sizes below, best of 9 alternating runs each

The loop is the iteration of GD on symmetric dense sensing with the packed operator ``P`` (``m x n(n+1)/2``):
``rho = P pack(X X^T) - b``, ``X <- X - eta A*(rho) X``, run 3000 times in one ``lax.while_loop``. The two variants
differ only in how ``X X^T`` and ``A*(rho) X`` are formed: ``@`` (a matrix-product kernel per product) or
``small_matmul`` (elementwise multiply-adds that XLA fuses; it falls back to ``@`` above ``SMALL_MATMUL_MAX`` terms or
an inner dimension above ``SMALL_MATMUL_INNER``, so the last sizes time the forced written-out form as well). Printed:
microseconds per iteration of each and the ratio, measured in the same run.

A second table times the ScaledGD iteration (``X <- X - eta A*(rho) X (X^T X)^-1``, products written out) with the
``r x r`` inverse of ``benign.solvers.scaled`` taken two ways: the unrolled Cholesky (``_unrolled_spd_inverse``, what
``spd_inverse`` uses for ``r <= UNROLLED_MAX_RANK``) and the library Cholesky (``_library_spd_inverse``: LAPACK on the
CPU, cuSOLVER on a GPU).
"""
from __future__ import annotations

import time

import numpy as np

SIZES = [(10, 1, 70), (20, 2, 200), (30, 2, 300), (40, 1, 400), (50, 2, 500)]
SCALED_SIZES = [(10, 1, 70), (20, 2, 200), (20, 4, 200)]
ITERS = 3000


def written_out(a, b):
    """``small_matmul``'s form without its size limits."""
    out = a[:, 0:1] * b[0:1, :]
    for k in range(1, a.shape[1]):
        out = out + a[:, k:k + 1] * b[k:k + 1, :]
    return out


def _problem(n, r, m):
    """Packed symmetric Gaussian sensing ``P``, data ``b`` and a small start ``X0`` (JAX arrays)."""
    from benign._jax import jnp
    from benign.operators import _triu_tables

    rng = np.random.default_rng(0)
    G = rng.standard_normal((m, n, n))
    G = 0.5 * (G + G.transpose(0, 2, 1))
    P = jnp.asarray(G.reshape(m, n * n)[:, _triu_tables(n)[0]])
    return P, jnp.asarray(rng.standard_normal(m)), jnp.asarray(0.01 * rng.standard_normal((n, r)))


def _best_per_iteration(fns: dict, X0) -> dict:
    """Microseconds per iteration of each compiled loop: best of 9 runs, the variants alternating."""
    for f in fns.values():
        f(X0).block_until_ready()
    best = {k: np.inf for k in fns}
    for _ in range(9):
        for k, f in fns.items():
            t = time.perf_counter()
            f(X0).block_until_ready()
            best[k] = min(best[k], time.perf_counter() - t)
    return {k: v / ITERS * 1e6 for k, v in best.items()}


def _loop(P, b, n: int, mm, inverse=None):
    """``ITERS`` iterations of ``X <- X - 1e-4 A*(rho) X`` (GD), or with ``inverse`` of ``X^T X``
    ``X <- X - 1e-4 A*(rho) X (X^T X)^-1`` (ScaledGD), every product through ``mm``: one compiled while loop."""
    from benign._jax import jax, jnp
    from benign.operators import pack_symmetric, unpack_symmetric

    def body(s):
        k, X = s
        rho = P @ pack_symmetric(mm(X, X.T)) - b
        G = mm(unpack_symmetric(rho @ P, n), X)
        if inverse is not None:
            Pinv = inverse(mm(X.T, X) + 1e-8 * jnp.eye(X.shape[1]))
            G = mm(G, 0.5 * (Pinv + Pinv.T))
        return k + 1, X - 1e-4 * G

    return jax.jit(lambda X: jax.lax.while_loop(lambda s: s[0] < ITERS, body, (0, X))[1])


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help; no options
    from benign._jax import jax
    from benign.operators import SMALL_MATMUL_INNER, SMALL_MATMUL_MAX, small_matmul
    from benign.solvers.scaled import _library_spd_inverse, _unrolled_spd_inverse

    print(f"bare GD loop on packed dense sensing, 3000 iterations, best of 9 alternating runs "
          f"(JAX {jax.__version__}, {jax.default_backend()}); limits: {SMALL_MATMUL_MAX} terms, inner "
          f"{SMALL_MATMUL_INNER}")
    print(f"{'n':>4} {'r':>3} {'m':>5} {'terms':>6} {'@ us/it':>9} {'written us/it':>14} {'ratio':>7}")
    for n, r, m in SIZES:
        P, b, X0 = _problem(n, r, m)
        t = _best_per_iteration({"@": _loop(P, b, n, lambda a, c: a @ c), "written": _loop(P, b, n, written_out)}, X0)
        print(f"{n:4d} {r:3d} {m:5d} {n * n * r:6d} {t['@']:9.2f} {t['written']:14.2f} {t['@'] / t['written']:7.2f}")

    print("\nbare ScaledGD loop, the r x r inverse of X^T X: unrolled Cholesky against the library's")
    print(f"{'n':>4} {'r':>3} {'m':>5} {'library us/it':>14} {'unrolled us/it':>15} {'ratio':>7}")
    for n, r, m in SCALED_SIZES:
        P, b, X0 = _problem(n, r, m)
        t = _best_per_iteration({"library": _loop(P, b, n, small_matmul, _library_spd_inverse),
                                 "unrolled": _loop(P, b, n, small_matmul, _unrolled_spd_inverse)}, X0)
        print(f"{n:4d} {r:3d} {m:5d} {t['library']:14.2f} {t['unrolled']:15.2f} {t['library'] / t['unrolled']:7.2f}")


if __name__ == "__main__":
    main()
