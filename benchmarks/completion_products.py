"""Completion's gradient and Hessian-vector product: benign's ``adjoint_terms`` against the plain sum of products.

XLA's CPU scatter-add slows down several times over when two wide scatters share one program, which is what the plain
form of a completion gradient is (``A*(y) X`` over the rows plus ``A*(y)^T X`` over the columns). benign sums all the
terms of one side into one scatter and, from rank 4 (``benign.operators._SCATTER_LOOP_MIN_RANK``), runs the two sides
as the passes of a ``fori_loop``. Printed per case (symmetric completion at a point near the truth, best of
``--repeat`` calls after compilation): the plain gradient and HVP (the 0.4.13 formulas), benign's, and their ratios.

    python benchmarks/completion_products.py [--repeat 9]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

CASES = ["completion:n=1000,r=2,rate=0.02,seed=0", "completion:n=5000,r=2,rate=0.005,seed=0",
         "completion:n=3000,r=3,rate=0.02,seed=1", "completion:n=2000,r=4,rate=0.05,seed=0",
         "completion:n=2000,r=10,rate=0.05,seed=0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    from benign._jax import jax, jnp
    from benign.instances import build
    from benign.objective import _grad_impl, _hvp_impl, _weights, make_objective

    def plain_grad(obj, X):
        _, w1, _ = _weights(obj, X)
        return obj.operator.adjoint_matmul(w1, X) + obj.operator.adjoint_rmatmul(w1, X)

    def plain_hvp(obj, X, D):
        _, w1, w2 = _weights(obj, X)
        op = obj.operator
        w = w2 * op.forward_factored(jnp.concatenate([D, X], axis=1), jnp.concatenate([X, D], axis=1))
        return (op.adjoint_matmul(w, X) + op.adjoint_rmatmul(w, X) + op.adjoint_matmul(w1, D)
                + op.adjoint_rmatmul(w1, D))

    def best(fn, *a):
        f = jax.jit(fn)
        out = f(*a).block_until_ready()
        t = min(_timed(f, a) for _ in range(args.repeat))
        return t, out

    def _timed(f, a):
        s = time.perf_counter()
        f(*a).block_until_ready()
        return time.perf_counter() - s

    print(f"completion gradient / HVP, backend {jax.default_backend()}, best of {args.repeat} (ms)")
    for spec in CASES:
        inst = build(spec)
        obj = make_objective(inst, "l2")
        X = jnp.asarray(inst.truth_point) * 1.01
        D = jnp.asarray(np.random.default_rng(0).standard_normal(X.shape))
        (tg0, g0), (tg, g) = best(plain_grad, obj, X), best(_grad_impl, obj, X)
        (th0, h0), (th, h) = best(plain_hvp, obj, X, D), best(_hvp_impl, obj, X, D)
        dg = float(jnp.max(jnp.abs(g - g0)) / jnp.max(jnp.abs(g0)))
        dh = float(jnp.max(jnp.abs(h - h0)) / jnp.max(jnp.abs(h0)))
        print(f"{spec:44s} |Omega| {obj.operator.m:7d}  gradient {tg0 * 1e3:7.2f} -> {tg * 1e3:7.2f} "
              f"({tg0 / tg:4.1f}x)  HVP {th0 * 1e3:7.2f} -> {th * 1e3:7.2f} ({th0 / th:4.1f}x)  "
              f"max rel. difference {max(dg, dh):.0e}")


if __name__ == "__main__":
    main()
