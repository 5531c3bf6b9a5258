"""Matrix-free (Lanczos) vs dense Hessian spectrum on the horizontal space, dense Gaussian sensing.

Prints both wall times (after a warm-up call that compiles both paths), their ratio, and the agreement of the
extreme eigenvalues. Default size: n * r = 1000 (n = 100, r = 10, m = 1000, r* = 5).

    python benchmarks/certify_lanczos.py [--n 100 --r 10 --m 1000 --rstar 5 --repeats 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--r", type=int, default=10)
    ap.add_argument("--m", type=int, default=1000)
    ap.add_argument("--rstar", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from benign._jax import jax, jnp
    from benign.certify.spectral import hessian_spectrum
    from benign.certify.symmetry import vertical_space
    from benign.instances import sensing
    from benign.objective import make_objective

    inst = sensing(args.n, args.rstar, args.m, seed=args.seed)
    obj = make_objective(inst, "l2")
    rng = np.random.default_rng(args.seed)
    X = jnp.asarray(np.asarray(inst.padded_truth(args.r)) + 0.3 * rng.standard_normal((args.n, args.r)))
    vert = vertical_space(obj, X)
    print(f"dense Gaussian sensing n={args.n} r={args.r} (N r = {args.n * args.r}) m={args.m} r*={args.rstar}; "
          f"vertical dim {vert.dim}; backend {jax.default_backend()}")

    def run(method):
        t = time.perf_counter()
        spec = hessian_spectrum(obj, X, vert, method=method, seed=args.seed)
        return time.perf_counter() - t, spec

    for method in ("dense", "lanczos"):  # warm-up: compile both paths
        run(method)
    td, tl = [], []
    for _ in range(args.repeats):
        t, sd = run("dense")
        td.append(t)
        t, sl = run("lanczos")
        tl.append(t)
    td, tl = min(td), min(tl)
    scale = max(abs(sd.lambda_min), abs(sd.lambda_max))
    print(f"dense   (form Hessian + eigh on H_X): {td:8.3f} s   lambda_min {sd.lambda_min:+.12e}  "
          f"lambda_max {sd.lambda_max:+.12e}")
    print(f"lanczos (matrix-free, {sl.matvecs} HVPs):     {tl:8.3f} s   lambda_min {sl.lambda_min:+.12e}  "
          f"lambda_max {sl.lambda_max:+.12e}")
    print(f"relative difference: lambda_min {abs(sl.lambda_min - sd.lambda_min) / scale:.2e}, "
          f"lambda_max {abs(sl.lambda_max - sd.lambda_max) / scale:.2e}")
    print(f"speed-up (dense / lanczos): {td / tl:.1f}x")


if __name__ == "__main__":
    main()
