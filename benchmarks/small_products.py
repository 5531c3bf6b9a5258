"""Written-out small products (``benign.operators.small_matmul``) against matrix-product calls, in a bare GD loop.

    python benchmarks/small_products.py            # the sizes below, best of 9 alternating runs each

The loop is the iteration of GD on symmetric dense sensing with the packed operator ``P`` (``m x n(n+1)/2``):
``rho = P pack(X X^T) - b``, ``X <- X - eta A*(rho) X``, run 3000 times in one ``lax.while_loop``. The two variants
differ only in how ``X X^T`` and ``A*(rho) X`` are formed: ``@`` (a matrix-product kernel per product) or
``small_matmul`` (elementwise multiply-adds that XLA fuses; it falls back to ``@`` above ``SMALL_MATMUL_MAX`` terms or
an inner dimension above ``SMALL_MATMUL_INNER``, so the last sizes time the forced written-out form as well). Printed:
microseconds per iteration of each and the ratio, measured in the same run.
"""
from __future__ import annotations

import time

import numpy as np

SIZES = [(10, 1, 70), (20, 2, 200), (30, 2, 300), (40, 1, 400), (50, 2, 500)]


def written_out(a, b):
    """``small_matmul``'s form without its size limits."""
    out = a[:, 0:1] * b[0:1, :]
    for k in range(1, a.shape[1]):
        out = out + a[:, k:k + 1] * b[k:k + 1, :]
    return out


def main() -> None:
    from benign._jax import jax, jnp
    from benign.operators import SMALL_MATMUL_INNER, SMALL_MATMUL_MAX, _triu_tables, pack_symmetric, unpack_symmetric

    print(f"bare GD loop on packed dense sensing, 3000 iterations, best of 9 alternating runs "
          f"(JAX {jax.__version__}, {jax.default_backend()}); limits: {SMALL_MATMUL_MAX} terms, inner "
          f"{SMALL_MATMUL_INNER}")
    print(f"{'n':>4} {'r':>3} {'m':>5} {'terms':>6} {'@ us/it':>9} {'written us/it':>14} {'ratio':>7}")
    iters = 3000
    for n, r, m in SIZES:
        rng = np.random.default_rng(0)
        G = rng.standard_normal((m, n, n))
        G = 0.5 * (G + G.transpose(0, 2, 1))
        P = jnp.asarray(G.reshape(m, n * n)[:, _triu_tables(n)[0]])
        b = jnp.asarray(rng.standard_normal(m))
        X0 = jnp.asarray(0.01 * rng.standard_normal((n, r)))

        def loop(mm):
            def body(s):
                k, X = s
                rho = P @ pack_symmetric(mm(X, X.T)) - b
                return k + 1, X - 1e-4 * mm(unpack_symmetric(rho @ P, n), X)
            return jax.jit(lambda X: jax.lax.while_loop(lambda s: s[0] < iters, body, (0, X))[1])

        fns = {"@": loop(lambda a, c: a @ c), "written": loop(written_out)}
        for f in fns.values():
            f(X0).block_until_ready()
        best = {k: np.inf for k in fns}
        for _ in range(9):
            for k, f in fns.items():
                t = time.perf_counter()
                f(X0).block_until_ready()
                best[k] = min(best[k], time.perf_counter() - t)
        a, w = best["@"] / iters * 1e6, best["written"] / iters * 1e6
        print(f"{n:4d} {r:3d} {m:5d} {n * n * r:6d} {a:9.2f} {w:14.2f} {a / w:7.2f}")


if __name__ == "__main__":
    main()
