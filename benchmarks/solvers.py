"""Time-to-1e-8 of benign's local methods against references measured in the same run.

For each problem the script runs, from the same starting point and with the same step size:

* benign (jitted ``lax.while_loop``): ``gd`` (fixed step), ``scaled-gd`` and ``trust-region``, stopped on
  ``relative_error <= 1e-8`` (compilation excluded; best of ``--repeat`` runs);
* a plain NumPy loop of the same method (``gd``, ``scaled-gd``) with the same stopping rule;
* pymanopt's trust-region solver on the PSD fixed-rank manifold, only when ``pymanopt`` is importable (it is not a
  dependency: ``pip install pymanopt`` to include it);
* CVXPY trace minimisation (``benign.solve(obj, "convex")``) where the size limit allows it (``n <= 30``).

Dense sensing additionally reports the memory-bandwidth bound of one GD iteration: a GD iteration reads the sensing
matrix ``A`` (``m x n^2`` float64) twice (``A(XX^T)`` and ``A*(rho)``), and a copy of ``A`` reads and writes the same
number of bytes, so ``bound = (2 |A| bytes) / (copy bandwidth) = time of one copy of A`` (the faster of a NumPy copy
on all cores and a JAX copy on CPU; the JAX copy on an accelerator); the printed ratio is
``benign seconds per GD iteration / bound`` (target <= 1.3). For small ``n`` the matrix fits in cache and the "bound" is a cache-bandwidth bound that per-iteration
overheads dominate. The NumPy speed-up target is >= 5x
for ``n <= 20``. Ratios are printed as measured, whether or not a target is met.

    python benchmarks/solvers.py            # dense n in {20, 100, 200}, completion n in {1000, 5000}
    python benchmarks/solvers.py --quick    # dense n = 20 and completion n = 1000 only
"""
from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

RTOL = 1e-8


def rel_error_np(X, Z):
    """``||X X^T - Z Z^T||_F / ||Z Z^T||_F`` as benign checks it every iteration: the Gram formula, and the QR of
    ``[X, Z]`` (no cancellation) once the error is below 1e-4."""
    G = Z.T @ Z
    n2 = np.sum(G * G)
    XtX, XtZ = X.T @ X, X.T @ Z
    rel = np.sqrt(max(np.sum(XtX * XtX) - 2 * np.sum(XtZ * XtZ) + n2, 0.0) / n2)
    if rel >= 1e-4:
        return rel
    R = np.linalg.qr(np.concatenate([X, Z], axis=1), mode="r")
    D = np.concatenate([np.ones(X.shape[1]), -np.ones(Z.shape[1])])
    return np.linalg.norm((R * D) @ R.T) / np.linalg.norm(Z.T @ Z)


# ------------------------------------------------------------------------------------- NumPy references

def numpy_gd(grad, X0, Z, step, scaled, max_iter):
    """The plain NumPy reference loop: ``X <- X - step * G`` (ScaledGD: ``G (X^T X)^{-1}``) until the relative error
    reaches ``RTOL``; returns ``(seconds, iterations)``."""
    X = X0.copy()
    t0 = time.perf_counter()
    for k in range(max_iter):
        G = grad(X)
        if scaled:
            G = np.linalg.solve(X.T @ X, G.T).T
        X = X - step * G
        if rel_error_np(X, Z) <= RTOL:
            return time.perf_counter() - t0, k + 1
    return time.perf_counter() - t0, max_iter


def numpy_gd_dense(A, b, n, X0, Z, step, scaled, max_iter):
    def grad(X):
        rho = A @ (X @ X.T).ravel() - b
        S = (rho @ A).reshape(n, n)
        return (S + S.T) @ X

    return numpy_gd(grad, X0, Z, step, scaled, max_iter)


def numpy_gd_completion(rows, cols, b, n, X0, Z, step, scaled, max_iter):
    def grad(X):
        rho = np.einsum("ij,ij->i", X[rows], X[cols]) - b
        G = np.empty_like(X)
        for j in range(X.shape[1]):  # A*(rho) X + A*(rho)^T X with bincount (segment sums)
            G[:, j] = (np.bincount(rows, rho * X[cols, j], minlength=n)
                       + np.bincount(cols, rho * X[rows, j], minlength=n))
        return G

    return numpy_gd(grad, X0, Z, step, scaled, max_iter)


def copy_seconds(A, repeat=5):
    """Best time of one copy of ``A``: with NumPy on all host cores (row blocks copied by a thread pool; NumPy
    releases the GIL), and with JAX on the default device."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import jax
    import jax.numpy as jnp

    out = np.empty_like(A)
    threads = max(1, min(os.cpu_count() or 1, A.shape[0]))
    blocks = np.array_split(np.arange(A.shape[0]), threads)
    pool = ThreadPoolExecutor(threads)

    def part(idx):
        np.copyto(out[idx[0]: idx[-1] + 1], A[idx[0]: idx[-1] + 1])

    best_np = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        list(pool.map(part, blocks))
        best_np = min(best_np, time.perf_counter() - t0)
    pool.shutdown()
    Aj = jnp.asarray(A)
    copy = jax.jit(lambda a: a.copy())
    copy(Aj).block_until_ready()
    best_jax = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        copy(Aj).block_until_ready()
        best_jax = min(best_jax, time.perf_counter() - t0)
    return best_np, best_jax


# ------------------------------------------------------------------------------------- benign

def benign_time(obj, method, X0, repeat, max_iter, **options):
    from benign.solvers import solve

    best = None
    for _ in range(repeat):
        res = solve(obj, method, x0=X0, rtol=RTOL, gtol=0.0, stall_window=0, max_iter=max_iter,
                    history_every=max_iter, **options)
        if best is None or res.seconds < best.seconds:
            best = res
    return best


def pymanopt_time(obj, inst, X0, max_iter):
    if importlib.util.find_spec("pymanopt") is None:
        return None
    import pymanopt  # noqa: F401  (optional; not a dependency of benign)
    from pymanopt.manifolds import PSDFixedRank
    from pymanopt.optimizers import TrustRegions

    n, r = X0.shape
    manifold = PSDFixedRank(n, r)

    @pymanopt.function.numpy(manifold)
    def cost(X):
        return float(obj.value(X))

    @pymanopt.function.numpy(manifold)
    def egrad(X):
        return np.asarray(obj.grad(X))

    @pymanopt.function.numpy(manifold)
    def ehess(X, U):
        return np.asarray(obj.hvp(X, U))

    problem = pymanopt.Problem(manifold, cost, euclidean_gradient=egrad, euclidean_hessian=ehess)
    opt = TrustRegions(verbosity=0, max_iterations=max_iter, min_gradient_norm=1e-12)
    t0 = time.perf_counter()
    res = opt.run(problem, initial_point=X0)
    return time.perf_counter() - t0, rel_error_np(res.point, inst.truth_left)


# ------------------------------------------------------------------------------------- driver

def row(name, seconds, iters, err, ref=None):
    ratio = "" if ref is None else f"{ref / seconds:8.1f}x"
    per = seconds / max(iters, 1)
    print(f"    {name:<28} {seconds:10.4f} s  {iters:7d} it  {per * 1e6:10.1f} us/it  err {err:8.1e}  {ratio}")


def dense_case(n, r, m, seed, repeat, max_iter):
    import benign
    from benign.solvers import initial_point

    print(f"\ndense sensing n={n} r={r} m={m} (A: {m * n * n * 8 / 1e6:.1f} MB)")
    inst = benign.sensing(n, r, m, seed=seed)
    obj = benign.make_objective(inst, "l2")
    X0 = initial_point(obj, r, "random", seed=seed)
    A = np.asarray(inst.operator.A)
    b, Z = np.asarray(inst.b), inst.truth_left
    gd = benign_time(obj, "gd", X0, repeat, max_iter)
    step = float(gd.options["step"])
    t_np, k_np = numpy_gd_dense(A, b, n, X0, Z, step, False, max_iter)
    row("benign gd", gd.seconds, gd.iterations, gd.relative_error)
    row("numpy gd (same step)", t_np, k_np, np.nan)
    print(f"    speed-up benign/numpy gd: {t_np / gd.seconds:.1f}x  (target >= 5x at n <= 20)")
    import jax

    t_np, t_jax = copy_seconds(A)
    bound = t_jax if jax.default_backend() != "cpu" else min(t_np, t_jax)
    per = gd.seconds / max(gd.iterations, 1)
    print(f"    bandwidth: copy of A {t_np * 1e6:.1f} us with NumPy threads ({2 * A.nbytes / t_np / 1e9:.1f} GB/s), "
          f"{t_jax * 1e6:.1f} us with JAX ({2 * A.nbytes / t_jax / 1e9:.1f} GB/s read+write); "
          f"GD iteration {per * 1e6:.1f} us = {per / bound:.2f} x the bound (target <= 1.3)")
    sg = benign_time(obj, "scaled-gd", X0, repeat, max_iter)
    t_np, k_np = numpy_gd_dense(A, b, n, X0, Z, float(sg.options["step"]), True, max_iter)
    row("benign scaled-gd", sg.seconds, sg.iterations, sg.relative_error)
    row("numpy scaled-gd (same step)", t_np, k_np, np.nan, None)
    print(f"    speed-up benign/numpy scaled-gd: {t_np / sg.seconds:.1f}x")
    tr = benign_time(obj, "trust-region", X0, repeat, 500)
    row("benign trust-region", tr.seconds, tr.iterations, tr.relative_error)
    pm = pymanopt_time(obj, inst, X0, 500)
    if pm is None:
        print("    pymanopt trust-region: skipped: pymanopt not installed (pip install pymanopt)")
    else:
        print(f"    pymanopt trust-region: {pm[0]:.4f} s, err {pm[1]:.1e}; benign is {pm[0] / tr.seconds:.1f}x faster")
    if n <= 30 and importlib.util.find_spec("cvxpy") is None:
        print("    cvxpy trace minimisation: skipped: cvxpy not installed (pip install benign[convex])")
    elif n <= 30:
        from benign.solvers import solve

        t0 = time.perf_counter()
        cv = solve(obj, "convex")
        print(f"    cvxpy trace minimisation: {time.perf_counter() - t0:.4f} s, status {cv.status}, "
              f"err {cv.relative_error:.1e}; benign gd is {(time.perf_counter() - t0) / gd.seconds:.0f}x faster")
    else:
        print("    cvxpy trace minimisation: skipped: above the convex size limit (n <= 30)")


def completion_case(n, r, rate, seed, repeat, max_iter):
    import benign
    from benign.solvers import initial_point

    inst = benign.completion(n, r, seed=seed, rate=rate)
    print(f"\ncompletion n={n} r={r} |Omega|={inst.m} (rate {rate})")
    obj = benign.make_objective(inst, "l2")
    X0 = initial_point(obj, r, "spectral", seed=seed)
    rows, cols = np.asarray(inst.operator.rows), np.asarray(inst.operator.cols)
    b, Z = np.asarray(inst.b), inst.truth_left
    for method, scaled in (("gd", False), ("scaled-gd", True)):
        res = benign_time(obj, method, X0, repeat, max_iter)
        t_np, k_np = numpy_gd_completion(rows, cols, b, n, X0, Z, float(res.options["step"]), scaled, max_iter)
        row(f"benign {method}", res.seconds, res.iterations, res.relative_error)
        row(f"numpy {method} (same step)", t_np, k_np, np.nan)
        print(f"    speed-up benign/numpy {method}: {t_np / res.seconds:.1f}x")
    tr = benign_time(obj, "trust-region", X0, repeat, 500)
    row("benign trust-region", tr.seconds, tr.iterations, tr.relative_error)
    print("    cvxpy trace minimisation: skipped: above the convex size limit (n <= 30)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="dense n = 20 and completion n = 1000 only")
    parser.add_argument("--repeat", type=int, default=3, help="benign runs per case (best time is reported)")
    parser.add_argument("--max-iter", type=int, default=20_000)
    args = parser.parse_args()
    import jax

    print(f"benign solvers benchmark (JAX {jax.__version__}, backend {jax.default_backend()}, float64); "
          f"stop at relative error <= {RTOL:g}; times exclude compilation")
    dense = [(20, 2, 200)] if args.quick else [(20, 2, 200), (100, 2, 1000), (200, 2, 2000)]
    comp = [(1000, 2, 0.02)] if args.quick else [(1000, 2, 0.02), (5000, 2, 0.005)]
    for n, r, m in dense:
        dense_case(n, r, m, 0, args.repeat, args.max_iter)
    for n, r, rate in comp:
        completion_case(n, r, rate, 0, args.repeat, args.max_iter)


if __name__ == "__main__":
    main()
