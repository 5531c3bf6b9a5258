"""The l1 ladder at the ground truth over a seed-002 grid: regime fractions and time per instance.

Grid: Gaussian sensing, n = d1 = d2 = 10, r = 1, k in {1, 2, 3}, m in {20, 40, 100, 200}, outliers with p = 0.1,
``--seeds`` seeds, symmetric and asymmetric (96 instances with the default 4 seeds). For every instance the time of
the full ladder (:func:`benign.l1_landscape_regime`) is compared with the time of its first rung alone (the
first-order LP on the same instance, measured in the same run): the printed ratio says how much the second-order
rungs (SDPs, searches, sharpness LPs) cost on top of the unavoidable LP. Wall times include JAX compilation for
every new shape (one per (m, k) cell); the first-touch cost is also printed separately.

    python benchmarks/certify_l1.py [--seeds 4] [--quick]

OpenBLAS is limited to one thread unless ``OPENBLAS_NUM_THREADS`` is set (see the comment below).
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter, defaultdict

# the ladder makes many small LAPACK calls; on a shared machine OpenBLAS threads only contend (x100 slower)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="symmetric only, m in {20, 200}, 2 seeds")
    args = ap.parse_args()

    from benign._jax import jnp
    from benign.certify import _l1_lp as lp
    from benign.certify import _l1_model as mdl
    from benign.certify.l1 import REGIMES, _jacobian, l1_landscape_regime
    from benign.instances import sensing
    from benign.losses import make_loss
    from benign.objective import make_objective

    ms = (20, 200) if args.quick else (20, 40, 100, 200)
    seeds = range(2 if args.quick else args.seeds)
    kinds = (True,) if args.quick else (True, False)
    counts: dict = defaultdict(Counter)
    ladder_t, lp_t, first_touch = [], [], []
    t_all = time.perf_counter()
    for sym in kinds:
        for m in ms:
            for k in (1, 2, 3):
                for i, seed in enumerate(seeds):
                    inst = sensing(10, 1, m, seed, d2=None if sym else 10, noise="outliers", p=0.1)
                    t0 = time.perf_counter()
                    res = l1_landscape_regime(inst, k)
                    dt = time.perf_counter() - t0
                    (first_touch if i == 0 else ladder_t).append(dt)
                    counts[(sym, m, k)][res["regime"]] += 1
                    # reference: the first-order LP alone (objective, residual signs, Jacobian, LP)
                    t0 = time.perf_counter()
                    obj = make_objective(inst, make_loss("l1", scale="mean"))
                    X = inst.padded_truth(k)
                    rho = np.asarray(obj.residual(jnp.asarray(X)))
                    in_S, sigma, _ = mdl.measurement_sets(rho, inst, True, 0.0)
                    c = 1.0 / m
                    G = np.asarray(_jacobian(obj, jnp.asarray(X))).reshape(m, -1)
                    lp.first_order_lp(G, np.where(in_S, c * sigma, 0.0), np.where(in_S, 0.0, c))
                    if i > 0:
                        lp_t.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all

    short = {"non_stationary": "nonstat", "strict_saddle": "saddle", "not_local_min": "curved",
             "local_min": "locmin", "global_min": "global", "uncertified": "uncert"}
    print(f"{'kind':5} {'m':>4} {'k':>2}  " + " ".join(f"{short[r]:>7}" for r in REGIMES))
    for (sym, m, k), cnt in sorted(counts.items(), key=lambda t: (not t[0][0], t[0][1], t[0][2])):
        n = sum(cnt.values())
        print(f"{'sym' if sym else 'asym':5} {m:4d} {k:2d}  " + " ".join(f"{cnt[r] / n:7.2f}" for r in REGIMES))
    n_inst = len(ladder_t) + len(first_touch)
    print(f"\ninstances: {n_inst}; total wall {total:.1f} s (including the LP references)")
    print(f"ladder per instance, warm: mean {np.mean(ladder_t):.3f} s, median {np.median(ladder_t):.3f} s, "
          f"max {np.max(ladder_t):.3f} s")
    print(f"ladder per instance, first touch of a cell (compiles): mean {np.mean(first_touch):.3f} s")
    print(f"first-order LP alone, warm: mean {np.mean(lp_t):.4f} s")
    print(f"ratio ladder / first-order LP (warm means): {np.mean(ladder_t) / np.mean(lp_t):.1f}")


if __name__ == "__main__":
    main()
