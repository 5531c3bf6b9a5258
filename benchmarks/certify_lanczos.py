"""Matrix-free (Lanczos) vs dense Hessian spectrum on the horizontal space, dense Gaussian sensing.

Reference: building the dense Hessian with ``Objective.hessian`` (a vmap of ``N r`` Hessian-vector products), then
``eigh`` of its compression to the horizontal space. Also printed: the dense Hessian from the residual Jacobian
(``benign.certify.spectral.dense_hessian``, what ``method="dense"`` uses for packed symmetric dense sensing). Matrix-free: ``benign.certify.spectral`` (Lanczos with full
reorthogonalisation on the horizontal space, products through the residual Jacobian). Both are timed after a warm-up
call (compilation excluded), best of ``--repeats``, at two points:

* ``perturbed``: the padded ground truth plus ``0.3 N(0, 1)`` noise (a generic point, well-separated lambda_min);
* ``near-critical``: 3000 gradient-descent steps from a small random start (lambda_min close to 0 relative to
  lambda_max: the hard case for Krylov methods).

    python benchmarks/certify_lanczos.py [--n 100 --r 10 --m 1000 --rstar 5 --repeats 3 --block 1]

The matrix-free λ_min time is split into forming the block product (the residual Jacobian), the products (their
count times the best time of one product alone) and the rest of the Lanczos iteration (reorthogonalisation, Ritz
tests, Python). ``--block B`` runs block Lanczos with blocks of ``B`` columns.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def _best(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--r", type=int, default=10)
    ap.add_argument("--m", type=int, default=1000)
    ap.add_argument("--rstar", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block", type=int, default=1, help="Lanczos block size (columns per product)")
    args = ap.parse_args()

    from benign._jax import jax, jnp
    from benign.certify.published import gradient_descent
    from benign.certify.spectral import dense_hessian, extreme_eigs, hessian_matmat, hessian_spectrum
    from benign.certify.symmetry import horizontal_basis, vertical_space
    from benign.instances import sensing
    from benign.objective import make_objective

    inst = sensing(args.n, args.rstar, args.m, seed=args.seed)
    obj = make_objective(inst, "l2")
    rng = np.random.default_rng(args.seed)
    size = args.n * args.r
    points = {"perturbed": np.asarray(inst.padded_truth(args.r)) + 0.3 * rng.standard_normal((args.n, args.r))}
    X0 = 0.1 * rng.standard_normal((args.n, args.r))
    points["near-critical"], _ = gradient_descent(obj, X0, step=1e-3, gtol=1e-9, maxiter=3000)
    print(f"dense Gaussian sensing n={args.n} r={args.r} (N r = {size}) m={args.m} r*={args.rstar}, "
          f"backend {jax.default_backend()}, best of {args.repeats}")
    for name, Xn in points.items():
        X = jnp.asarray(Xn)
        vert = vertical_space(obj, X)

        def build():
            return np.asarray(obj.hessian(X))

        def build_jacobian():
            return dense_hessian(obj, X)

        def dense_eig(H):
            Hb = horizontal_basis(vert, size)
            return np.linalg.eigvalsh(Hb.T @ H @ Hb)

        def mf_min():
            return extreme_eigs(hessian_matmat(obj, X), size, constraint=vert.basis, ends="min", block=args.block)

        def mf_both():
            return hessian_spectrum(obj, X, vert, method="lanczos")

        build(), build_jacobian(), mf_min(), mf_both()  # warm-up (compilation)
        t_build, H = _best(build, args.repeats)
        t_jac, HJ = _best(build_jacobian, args.repeats)
        t_eig, w = _best(lambda: dense_eig(H), args.repeats)
        t_min, ex = _best(mf_min, args.repeats)
        t_both, sp = _best(mf_both, args.repeats)
        t_mm, mm = _best(lambda: hessian_matmat(obj, X), args.repeats)
        block = np.random.default_rng(1).standard_normal((size, args.block))
        t_prod = min(_best(lambda: mm(block), args.repeats)[0] for _ in range(10))
        scale = max(abs(w[0]), abs(w[-1]))
        print(f"\n[{name}] horizontal lambda_min {w[0]:+.10e}, lambda_max {w[-1]:+.10e} "
              f"(vertical dim {vert.dim}, ||grad f|| = {float(jnp.linalg.norm(obj.grad(X))):.3g})")
        print(f"  dense: build Hessian {t_build:7.3f} s, + eigh on H_X {t_eig:6.3f} s")
        print(f"  dense from the Jacobian (certify's dense method): build {t_jac:7.3f} s "
              f"(max |difference| {np.abs(HJ - H).max() / np.abs(H).max():.1e} relative)")
        print(f"  matrix-free lambda_min only: {t_min:7.3f} s ({ex.matvecs} products in blocks of {args.block}, "
              f"{ex.reorthogonalisations} full reorthogonalisations), "
              f"rel. error {abs(ex.lambda_min - w[0]) / scale:.1e}")
        n_blocks = -(-ex.matvecs // args.block)
        rest = t_min - t_mm - n_blocks * t_prod
        print(f"    of which: forming the product {t_mm * 1e3:.1f} ms; {n_blocks} products x {t_prod * 1e3:.3f} ms "
              f"(one alone) = {n_blocks * t_prod * 1e3:.1f} ms; the rest of the iteration {rest * 1e3:.1f} ms "
              f"({rest / max(n_blocks, 1) * 1e6:.0f} us per step)")
        print(f"  matrix-free both ends:       {t_both:7.3f} s ({sp.matvecs} products), rel. errors "
              f"{abs(sp.lambda_min - w[0]) / scale:.1e} / {abs(sp.lambda_max - w[-1]) / scale:.1e}")
        print(f"  speed-up: build / lambda_min-only = {t_build / t_min:.1f}x; "
              f"(build + eigh) / both ends = {(t_build + t_eig) / t_both:.1f}x; "
              f"(Jacobian build + eigh) / both ends = {(t_jac + t_eig) / t_both:.1f}x")


if __name__ == "__main__":
    main()
