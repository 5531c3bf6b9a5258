"""Counterexample SDP: time against n, and against a straightforward CVXPY formulation at n = 12 (same run).

    python benchmarks/counterexample_sdp.py                  # n = 2, 3, 4, 6, 8, 12, 16, ... within a 5-minute budget
    python benchmarks/counterexample_sdp.py --max-n 8 --skip-naive   # quick

For each n (random Gaussian X, Z of rank r, fixed seed) it records

* ``reduced``: formulation + solve of the exact symmetry-reduced SDP (the default of ``benign.counterexample``);
* ``build``: lifting the kernel to ``n^2 x n^2``, factoring it into an operator and re-verifying it with the library
  (``full_rank_rip``, gradient, dense Hessian) -- ``O(n^6)``, only up to ``MAX_BUILD_N``;
* ``direct``: the same SDP on the full ``n(n+1)/2``-sided kernel with affine maps built in NumPy (``--direct-max-n``).

Once the cumulative time passes ``--budget`` seconds, only the (cheap) reduced SDP is timed for larger ``n``.
At ``n = 12`` (unless ``--skip-naive``) it also solves the straightforward formulation -- an ``n^2 x n^2`` symmetric CVXPY variable ``H`` with the constraints written
with ``reshape``/``kron`` expressions exactly as in MATH.md §6 -- and prints the time ratios and the value difference.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def naive_sdp(X: np.ndarray, Z: np.ndarray) -> tuple[float, float]:
    """MATH.md §6 written directly in CVXPY over ``H`` on ``vec`` space (``n^2 x n^2``); returns (delta, seconds)."""
    import cvxpy as cp

    from benign.operators import symmetric_basis

    n, r = X.shape
    P = symmetric_basis(n)
    e = (X @ X.T - Z @ Z.T).reshape(-1)
    eye = np.eye(n)
    Xop = (np.einsum("aj,bi->abij", X, eye) + np.einsum("ai,bj->abij", eye, X)).reshape(n * n, n * r)
    H = cp.Variable((n * n, n * n), symmetric=True)
    d = cp.Variable()
    He = H @ e
    S = cp.reshape(He, (n, n), order="C")
    Hr = P.T @ H @ P
    s = P.shape[1]
    cons = [Xop.T @ He == 0,
            cp.kron(np.eye(r), S + S.T) + Xop.T @ H @ Xop >> 0,
            Hr - (1 - d) * np.eye(s) >> 0, (1 + d) * np.eye(s) - Hr >> 0]
    prob = cp.Problem(cp.Minimize(d), cons)
    t0 = time.perf_counter()
    prob.solve(solver=cp.CLARABEL)
    return float(d.value), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-n", type=int, default=400)
    ap.add_argument("--r", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=300.0, help="total seconds for the n sweep")
    ap.add_argument("--direct-max-n", type=int, default=12)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--json", type=str, default=None, help="also write the rows to this file")
    args = ap.parse_args()

    from benign import _cx_formulation as F
    from benign.counterexamples import MAX_BUILD_N, counterexample

    # warm-up (JAX compilation of the verification, CVXPY import)
    counterexample(np.array([[0.0], [0.7]]), np.array([[1.0], [0.0]]))
    rng = np.random.default_rng(args.seed)
    ns = [n for n in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 400) if n <= args.max_n]
    rows = []
    spent = 0.0
    at12 = None
    print(f"{'n':>4} {'delta*':>12} {'reduced s':>10} {'build+verify s':>15} {'verified - sdp':>15} {'direct s':>10}")
    for n in ns:
        X = rng.standard_normal((n, args.r))
        Z = rng.standard_normal((n, args.r))
        t0 = time.perf_counter()
        build = n <= MAX_BUILD_N and spent <= args.budget
        res = counterexample(X, Z, build=build)
        total = time.perf_counter() - t0
        sdp_s = res.timings["formulate"] + res.timings["solve"]
        row = {"n": n, "r": args.r, "delta": res.delta, "reduced_s": sdp_s,
               "build_verify_s": res.timings.get("build_verify"), "verified_minus_sdp":
               (res.verified_delta - res.delta) if res.verified_delta is not None else None,
               "duality_gap": res.duality_gap}
        if n <= args.direct_max_n and spent <= args.budget:
            t1 = time.perf_counter()
            form = F.direct_problem(X, Z, variant="full", margin=0.0, nonneg=False)
            sol = form.problem.solve()
            row["direct_s"] = time.perf_counter() - t1
            row["direct_delta"] = sol.value
            total += row["direct_s"]
        rows.append(row)
        spent += total
        fmt = lambda v, f: (format("-", f[:3]) if v is None else format(v, f))  # noqa: E731
        print(f"{n:>4} {res.delta:>12.8f} {sdp_s:>10.3f} {fmt(row['build_verify_s'], '>15.3f')} "
              f"{fmt(row['verified_minus_sdp'], '>15.2e')} {fmt(row.get('direct_s'), '>10.3f')}", flush=True)
        if n == 12:
            at12 = (X, Z, row)
        if spent > args.budget and build:
            print(f"{spent:.0f} s spent (budget {args.budget:.0f} s): SDP only from here on")
    out = {"rows": rows}
    if at12 is not None and not args.skip_naive:
        X, Z, row = at12
        dn, tn = naive_sdp(X, Z)
        out["n12"] = {"naive_s": tn, "naive_delta": dn, "reduced_s": row["reduced_s"],
                      "direct_s": row.get("direct_s"), "speedup_reduced": tn / row["reduced_s"],
                      "speedup_direct": (tn / row["direct_s"]) if row.get("direct_s") else None,
                      "value_difference": dn - row["delta"]}
        print(f"n = 12, r = {args.r}: straightforward {tn:.2f} s (delta {dn:.8f}); reduced {row['reduced_s']:.3f} s "
              f"(x{tn / row['reduced_s']:.0f} faster)"
              + (f"; direct {row['direct_s']:.2f} s (x{tn / row['direct_s']:.1f})" if row.get("direct_s") else "")
              + f"; |delta difference| = {abs(dn - row['delta']):.1e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
