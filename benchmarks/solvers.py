"""Time-to-1e-8 of benign's local methods against references measured in the same run.

For each problem the script runs, from the same starting point and with the same step size:

* benign (jitted ``lax.while_loop``): ``gd`` (fixed step), ``scaled-gd`` and ``trust-region``, stopped on
  ``relative_error <= 1e-8`` (compilation excluded; best of ``--repeat`` runs);
* a plain NumPy loop of the same method (``gd``, ``scaled-gd``) with the same stopping rule, run alternately with
  benign's (best of ``--repeat`` each, at least ``SMALL_REPEAT`` = 7 at ``n <= 20``; the median of the pairwise
  ratios is printed too);
* pymanopt's trust-region solver (``pymanopt.optimizers.TrustRegions``, default options) on the PSD fixed-rank
  manifold (``PSDFixedRank(n, r)``), NumPy backend, with hand-written callbacks for the same ``f`` (cost, Euclidean
  gradient, Euclidean Hessian-vector product; the residual and ``A*(c rho)`` are cached per point, completion uses
  sparse index arithmetic). pymanopt has no per-iteration callback and no error-based stopping rule, so it is stopped
  from inside its Euclidean-gradient callback, which pymanopt calls once at the start and once per accepted iterate:
  at the first accepted iterate with ``relative_error <= 1e-8`` the callback raises and the run ends there
  (``min_gradient_norm=0``, so no other criterion fires before; ``max_iterations`` caps a run that never gets there,
  and the error it reached is printed). The time is the wall time of ``TrustRegions.run`` up to that point (best of
  ``--repeat``), from the same starting point; it is compared with benign's set-up plus loop time (compilation
  excluded). pymanopt is optional (``pip install benign[bench]``); without it the
  row says it is not installed;
* CVXPY trace minimisation (``benign.solve(obj, "convex")``) where the size limit allows it (``n <= 30``).

Dense sensing additionally reports the memory-bandwidth bound of one GD iteration: a GD iteration reads the operator
twice (``A(XX^T)`` and ``A*(rho)``) -- for symmetric sensing its packed copy ``P`` (``m x n(n+1)/2`` float64, the
upper triangles of the symmetric ``A_i``), else ``A`` (``m x n^2``) -- and a copy of that array reads and writes the
same number of bytes, so ``bound = (2 |P| bytes) / (copy bandwidth) = time of one copy of P`` (the faster of a NumPy
copy on all cores and a JAX copy on CPU; the JAX copy on an accelerator); the printed ratio is ``benign seconds per GD
iteration / bound`` (target <= 1.3). For small ``n`` the array fits in cache and the "bound" is a cache-bandwidth
bound that per-iteration overheads dominate. The NumPy reference reads the full ``A`` as a plain loop would. The
NumPy speed-up target is >= 5x for ``n <= 20``. Ratios are printed as measured, whether or not a target is met.

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
    reaches ``RTOL``; returns ``(seconds, iterations, final relative error)``."""
    X = X0.copy()
    t0 = time.perf_counter()
    for k in range(max_iter):
        G = grad(X)
        if scaled:
            G = np.linalg.solve(X.T @ X, G.T).T
        X = X - step * G
        err = rel_error_np(X, Z)
        if err <= RTOL:
            return time.perf_counter() - t0, k + 1, err
    return time.perf_counter() - t0, max_iter, err


def paired(repeat, obj, method, X0, max_iter, loop, *args):
    """benign's ``method`` and its NumPy reference loop, run alternately ``repeat`` times each (so that both see the
    same machine load); returns ``(best benign Result, best NumPy run, median of the pairwise time ratios)``."""
    ours, ref, ratios = None, None, []
    for _ in range(repeat):
        res = benign_time(obj, method, X0, 1, max_iter)
        run = loop(*args)
        ratios.append(run[0] / res.seconds)
        ours = res if ours is None or res.seconds < ours.seconds else ours
        ref = run if ref is None or run[0] < ref[0] else ref
    return ours, ref, float(np.median(ratios))


#: runs of each contender at n <= 20, where one run takes milliseconds and the shared machine's noise is largest
SMALL_REPEAT = 7


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


class _Reached(Exception):
    """Raised inside pymanopt's gradient callback at the first iterate with relative error <= RTOL."""

    def __init__(self, point):
        super().__init__("reached")
        self.point = point


def _memo(residual):
    """Per-point cache of ``rho = A(XX^T) - b`` (keyed on the array object: pymanopt passes the same object to the
    cost, gradient and every Hessian-vector product at one iterate); ``adj`` and ``grad`` are filled on first use."""
    memo = {"X": None}

    def at(X):
        if memo["X"] is not X:
            memo.clear()
            memo.update(X=X, rho=residual(X), adj=None, grad=None)
        return memo

    return at


def l2_callbacks(c, residual, forward_sym, adj_sym):
    """``cost, grad, hvp`` of ``f(X) = c/2 ||A(XX^T) - b||^2`` in NumPy from the operator's primitives:
    ``residual(X) = A(XX^T) - b``, ``forward_sym(X, U) = A(UX^T + XU^T)`` and ``adj_sym(y) = A*(y) + A*(y)^T`` (a
    dense array or a sparse matrix). ``grad = A*(c rho) X + A*(c rho)^T X``; ``hvp(X, U) = adj_sym(c A(UX^T + XU^T)) X
    + adj_sym(c rho) U``."""
    at = _memo(residual)

    def cost(X):
        rho = at(X)["rho"]
        return 0.5 * c * float(rho @ rho)

    def grad(X):
        s = at(X)
        if s["grad"] is None:
            s["adj"] = adj_sym(c * s["rho"])
            s["grad"] = s["adj"] @ X
        return s["grad"]

    def hvp(X, U):
        grad(X)
        return adj_sym(c * forward_sym(X, U)) @ X + at(X)["adj"] @ U

    return cost, grad, hvp


def dense_callbacks(A, b, n, c):
    def adj_sym(y):
        S = (y @ A).reshape(n, n)
        return S + S.T

    return l2_callbacks(c, lambda X: A @ (X @ X.T).ravel() - b,
                        lambda X, U: A @ (U @ X.T + X @ U.T).ravel(), adj_sym)


def completion_callbacks(rows, cols, w, b, n, c):
    """Entry sampling ``A(M)_k = w_k M[rows_k, cols_k]``: ``A*(y) + A*(y)^T`` is one CSR matrix with the fixed pattern
    ``Omega`` and its transpose (``2 |Omega|`` stored entries, duplicates summed by the product) and data ``w * y``; no
    ``n x n`` dense array is formed."""
    import scipy.sparse as sp

    r2, c2 = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    order = np.lexsort((c2, r2))
    pattern = (c2[order], np.concatenate([[0], np.cumsum(np.bincount(r2, minlength=n))]))

    def adj_sym(y):
        wy = w * y
        return sp.csr_matrix((np.concatenate([wy, wy])[order], *pattern), shape=(n, n))

    return l2_callbacks(c, lambda X: w * np.einsum("ij,ij->i", X[rows], X[cols]) - b,
                        lambda X, U: w * (np.einsum("ij,ij->i", U[rows], X[cols])
                                          + np.einsum("ij,ij->i", X[rows], U[cols])), adj_sym)


def pymanopt_time(callbacks, X0, Z, repeat, max_iter):
    """pymanopt's ``TrustRegions`` on ``PSDFixedRank`` stopped at the first accepted iterate with relative error
    ``<= RTOL`` (see the module docstring); returns ``(seconds, iterations, hvps, error, reached)`` of the fastest
    of ``repeat`` runs, or ``None`` when pymanopt is not installed."""
    if importlib.util.find_spec("pymanopt") is None:
        return None
    import pymanopt
    from pymanopt.manifolds import PSDFixedRank
    from pymanopt.optimizers import TrustRegions

    n, r = X0.shape
    manifold = PSDFixedRank(n, r)
    cost, grad, hvp = callbacks
    count = {}

    @pymanopt.function.numpy(manifold)
    def pm_cost(X):
        count["cost"] += 1
        return cost(X)

    @pymanopt.function.numpy(manifold)
    def pm_grad(X):
        if X is not count["last"]:  # a new accepted iterate (or the starting point)
            count["last"] = X
            if rel_error_np(X, Z) <= RTOL:
                raise _Reached(X)
        return grad(X)

    @pymanopt.function.numpy(manifold)
    def pm_hvp(X, U):
        count["hvp"] += 1
        return hvp(X, U)

    problem = pymanopt.Problem(manifold, pm_cost, euclidean_gradient=pm_grad, euclidean_hessian=pm_hvp)
    best = None
    for _ in range(repeat):
        count.update(cost=0, hvp=0, last=None)
        opt = TrustRegions(verbosity=0, max_iterations=max_iter, min_gradient_norm=0.0, max_time=np.inf)
        t0 = time.perf_counter()
        try:
            X = opt.run(problem, initial_point=X0.copy()).point
            reached = False
        except _Reached as stop:
            X, reached = stop.point, True
        seconds = time.perf_counter() - t0
        run = (seconds, count["cost"] - 1, count["hvp"], rel_error_np(X, Z), reached)  # one cost call per iteration
        if best is None or seconds < best[0]:
            best = run
    return best


def pymanopt_rows(pm, tr):
    if pm is None:
        print("    pymanopt trust-region: not installed (pip install pymanopt, or benign[bench])")
        return
    seconds, iters, hvps, err, reached = pm
    row("pymanopt trust-region", seconds, iters, err)
    note = "" if reached else f"; did NOT reach {RTOL:g} within {iters} iterations"
    ours = tr.details.get("hessian_vector_products", "?")
    total = tr.seconds + tr.details["setup_seconds"]  # benign end to end: set-up + loop (compilation excluded)
    print(f"    speed-up benign/pymanopt trust-region: {seconds / total:.1f}x end-to-end "
          f"(Hessian-vector products: benign {ours}, pymanopt {hvps}){note}")


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
    reps = max(repeat, SMALL_REPEAT) if n <= 20 else repeat
    step = float(benign_time(obj, "gd", X0, 1, max_iter).options["step"])  # (and the compilation)
    gd, (t_np, k_np, e_np), med = paired(reps, obj, "gd", X0, max_iter, numpy_gd_dense, A, b, n, X0, Z, step, False,
                                         max_iter)
    row("benign gd", gd.seconds, gd.iterations, gd.relative_error)
    row("numpy gd (same step)", t_np, k_np, e_np)
    print(f"    speed-up benign/numpy gd: {t_np / gd.seconds:.1f}x, best of {reps} each, interleaved (median of the "
          f"pairwise ratios {med:.1f}x)  (target >= 5x at n <= 20)")
    import jax

    P = getattr(inst.operator, "P", None)  # symmetric sensing: the hot loop reads the packed copy, not A
    read, label = (A, "A") if P is None else (np.asarray(P), "P (packed A)")
    t_np, t_jax = copy_seconds(read)
    bound = t_jax if jax.default_backend() != "cpu" else min(t_np, t_jax)
    per = gd.seconds / max(gd.iterations, 1)
    print(f"    bandwidth: copy of {label} ({read.nbytes / 1e6:.1f} MB) {t_np * 1e6:.1f} us with NumPy threads "
          f"({2 * read.nbytes / t_np / 1e9:.1f} GB/s), "
          f"{t_jax * 1e6:.1f} us with JAX ({2 * read.nbytes / t_jax / 1e9:.1f} GB/s read+write); "
          f"GD iteration {per * 1e6:.1f} us = {per / bound:.2f} x the bound (target <= 1.3)")
    step = float(benign_time(obj, "scaled-gd", X0, 1, max_iter).options["step"])
    sg, (t_np, k_np, e_np), med = paired(reps, obj, "scaled-gd", X0, max_iter, numpy_gd_dense, A, b, n, X0, Z, step,
                                         True, max_iter)
    row("benign scaled-gd", sg.seconds, sg.iterations, sg.relative_error)
    row("numpy scaled-gd (same step)", t_np, k_np, e_np, None)
    print(f"    speed-up benign/numpy scaled-gd: {t_np / sg.seconds:.1f}x, best of {reps} each, interleaved (median "
          f"{med:.1f}x)")
    tr = benign_time(obj, "trust-region", X0, repeat, 500)
    row("benign trust-region", tr.seconds, tr.iterations, tr.relative_error)
    c = obj.loss.factor(obj.operator.m)
    pymanopt_rows(pymanopt_time(dense_callbacks(A, b, n, c), X0, Z, repeat, 500), tr)
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
        step = float(benign_time(obj, method, X0, 1, max_iter).options["step"])
        res, (t_np, k_np, e_np), med = paired(repeat, obj, method, X0, max_iter, numpy_gd_completion, rows, cols, b,
                                              n, X0, Z, step, scaled, max_iter)
        row(f"benign {method}", res.seconds, res.iterations, res.relative_error)
        row(f"numpy {method} (same step)", t_np, k_np, e_np)
        print(f"    speed-up benign/numpy {method}: {t_np / res.seconds:.1f}x (median of pairwise ratios {med:.1f}x)")
    tr = benign_time(obj, "trust-region", X0, repeat, 500)
    row("benign trust-region", tr.seconds, tr.iterations, tr.relative_error)
    w = np.asarray(inst.operator.weights)
    c = obj.loss.factor(obj.operator.m)
    pymanopt_rows(pymanopt_time(completion_callbacks(rows, cols, w, b, n, c), X0, Z, repeat, 500), tr)
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
