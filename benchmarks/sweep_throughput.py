"""Sweep throughput: trials per second of a small-instance ``solve`` sweep, against a plain Python loop.

    python benchmarks/sweep_throughput.py                 # 1000 trials: 4 grid points x 250 seeds, n = 10
    python benchmarks/sweep_throughput.py --trials 200    # quicker
    python benchmarks/sweep_throughput.py --no-workers    # skip the two-process run

Every mode computes the same trials (GD on ``sensing:n=10,r=1,m=...``, search rank 1, at most 500 iterations);
the script checks that they give the same numbers (bit for bit, except ``vmap``: same up to rounding) and prints,
for each mode, the wall time, trials per second, the ratio to the plain loop measured in the same run, the time
per trial and the solver loop's share of it (and, once, the time to draw one instance on the host, and the floor of
one thread: its compiled loop plus the draw, what the batched path would cost with no other Python at all, and
that floor divided by the usable CPUs, the most any overlap of threads or processes could give):

* ``plain loop``: ``for trial in spec.trials: solve_trial(params, seed)`` (no store, no batching): benign's compiled
  solver called once per trial. This is the reference of the ``x plain`` column (the issue's 5x target);
* ``NumPy script``: what a one-off research script does for the same trials: draw the instance (benign's ``build``,
  so the problems are the same), then plain NumPy gradient descent ``X <- X - step (S + S^T) X``,
  ``S = A*(A(X X^T) - b)``, from benign's start with benign's default step (both computed before the clock starts,
  which favours the script), stopped as benign's ``gd`` stops (``||grad|| <= gtol max(1, ||grad(X0)||)``, ``gtol =
  1e-10``, or 500 iterations). Its iteration counts are checked against the plain loop's;
* ``sweep, one by one``: ``run_sweep(..., batch=False, threads=1)`` (adds the SQLite store);
* ``sweep, batched map`` / ``batched vmap``, ``1 thread``: the seeds of a grid point in one compiled run
  (``lax.map`` / ``jax.vmap`` over the stacked objectives), ``batch_size`` seeds per unit, one unit at a time;
* ``sweep, batched map, N threads``: the same, with ``run_sweep``'s default for the ``solve`` kind (``N`` = usable CPUs
  + 1, at most 4, units at a time in this process: one unit's Python overlaps another's compiled loop);
* ``sweep, 2 workers``: ``batched map`` on a 2-process Dask LocalCluster (one thread each; the sweep runner's own,
  whose workers allocate GPU memory on demand -- this process has by then taken JAX's default share of a GPU in its
  warm-up, and the workers share the rest);
* with ``--threads-scan 1,2,3,4,6``: ``batched map`` in this process with each of these thread counts.

Compilation is excluded by a warm-up over every shape (for the workers too, through a warm-up sweep on the same
cluster), so the numbers are steady-state throughput; the warm-up time is printed separately. Every mode runs once per
round (``--rounds``, default 2), the rounds one after the other, and the best round of each mode is reported, with
each round's time: a drift of a shared machine's load then reaches every mode alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def make_spec(seeds: int, ms: list[int], batch_size: int, seed_start: int = 0) -> dict:
    return {"sweep": {"name": "throughput", "seeds": {"start": seed_start, "count": seeds},
                      "batch_size": batch_size},
            "grid": {"m": ms},
            "trial": {"instance": "sensing:n=10,r=1,m={m},seed={seed}", "method": "gd", "rank": 1,
                      "max_iter": 500},
            "metrics": {"success": "relative_error <= 1e-6"}}


def numpy_script(trials: list, max_iter: int, gtol: float = 1e-10) -> tuple[float, list[int], list[float]]:
    """The ``NumPy script`` mode (module docstring): ``(seconds, iterations, relative errors)`` of every trial."""
    import numpy as np

    from benign.instances import build
    from benign.objective import make_objective
    from benign.solvers import initial_point
    from benign.solvers.gradient import default_step
    from benign.solvers.init import problem_scale

    starts = []  # benign's start and default step, untimed (the trials are then exactly the sweep's)
    for t in trials:
        obj = make_objective(build(t.params["instance"], device=False), "l2")
        starts.append((np.asarray(initial_point(obj, 1, "random", seed=t.seed)),
                       default_step(problem_scale(obj, 1, t.seed))))
    iters, errors = [], []
    t0 = time.perf_counter()
    for t, (X, step) in zip(trials, starts):
        inst = build(t.params["instance"], device=False)
        A, b, Z = np.asarray(inst.operator.A), np.asarray(inst.b), np.asarray(inst.truth_left)
        n = Z.shape[0]

        def grad(X):
            S = ((A @ (X @ X.T).ravel() - b) @ A).reshape(n, n)
            return (S + S.T) @ X

        g = grad(X)
        thresh, k = gtol * max(1.0, np.linalg.norm(g)), 0
        while k < max_iter and np.linalg.norm(g) > thresh:
            X = X - step * g
            g = grad(X)
            k += 1
        iters.append(k)
        errors.append(np.linalg.norm(X @ X.T - Z @ Z.T) / np.linalg.norm(Z @ Z.T))
    return time.perf_counter() - t0, iters, errors


def _warm_worker(units: list) -> int:
    from benign.experiments import execute_unit
    from benign.experiments.solve_trial import solve_batch, solve_trial

    for unit in units:
        execute_unit(solve_trial, solve_batch, [p for p, _ in unit], [s for _, s in unit], True, "map")
    return len(units)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000, help="total trials (a multiple of the 4 grid points)")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-workers", action="store_true", help="skip the multi-process run")
    ap.add_argument("--no-script", action="store_true", help="skip the NumPy script reference")
    ap.add_argument("--rounds", type=int, default=2, help="runs of every mode (the best is reported)")
    ap.add_argument("--threads-scan", default=None, metavar="K1,K2,...",
                    help="also time the in-process batched map sweep with each of these thread counts")
    args = ap.parse_args()

    import numpy as np

    from benign.experiments import load_results, load_spec, run_sweep
    from benign.experiments.solve_trial import solve_trial

    ms = [40, 60, 80, 100]
    seeds = max(1, args.trials // len(ms))
    tmp = tempfile.mkdtemp(prefix="sweep-bench-")
    spec = make_spec(seeds, ms, args.batch_size)
    warm = make_spec(min(seeds, args.batch_size) + 1, ms, args.batch_size, seed_start=10_000_000)
    n_trials = len(load_spec(spec, db=os.path.join(tmp, "x.db")).trials)

    t0 = time.perf_counter()  # warm-up: compile every shape for every path in this process
    for b in (False, "map", "vmap"):
        run_sweep(warm, db=os.path.join(tmp, f"warm-{b}.db"), batch=b, progress=False, threads=1)
    warm_s = time.perf_counter() - t0

    runs: dict[str, list[tuple[float, float]]] = {}  # mode -> (wall seconds, summed loop seconds) per round
    sp = load_spec(spec, db=os.path.join(tmp, "plain.db"))
    ref = ref_iters = None

    def plain_loop() -> None:
        nonlocal ref, ref_iters
        t0 = time.perf_counter()
        plain = [solve_trial(t.params, t.seed) for t in sp.trials]
        runs.setdefault("plain loop", []).append((time.perf_counter() - t0, sum(p["solver_seconds"] for p in plain)))
        ref = np.array([p["relative_error"] for p in plain])
        ref_iters = np.array([p["iterations"] for p in plain])

    def script() -> None:
        sec, iters, errors = numpy_script(sp.trials, spec["trial"]["max_iter"])
        runs.setdefault("NumPy script", []).append((sec, sec))
        same = int(np.sum(np.asarray(iters) == ref_iters))
        agree = int(np.sum((np.asarray(errors) <= 1e-6) == (ref <= 1e-6)))
        print(f"  NumPy script: same iteration count as the plain loop on {same} of {n_trials} trials, same success "
              f"(relative error <= 1e-6) on {agree}", file=sys.stderr)

    def timed(label: str, db: str, **kw) -> None:
        db = os.path.join(tmp, f"{db}-{len(runs.get(label, []))}.db")
        t = time.perf_counter()
        summary = run_sweep(spec, db=db, progress=False, **kw)
        wall = time.perf_counter() - t
        assert summary["ok"] == n_trials, summary
        df = load_results(spec, db=db)
        runs.setdefault(label, []).append((wall, float(df["solver_seconds"].sum())))
        if kw.get("batch") and not (df["batched"] > 1).all():  # a broken batched path falls back one by one
            raise SystemExit(f"{label}: some units ran one by one (the batched path failed; see the warning)")
        got = df["relative_error"].to_numpy(float)
        same = np.array_equal(got, ref, equal_nan=True)
        diff = np.nanmax(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300))
        print(f"  {label}: relative errors identical to the plain loop's: {'yes' if same else 'no'} "
              f"(max relative difference {diff:.1e})", file=sys.stderr)

    from contextlib import ExitStack

    from benign.experiments.runner import default_threads, usable_cpus
    from benign.experiments.trials import get_trial

    n_threads = default_threads(get_trial("solve"))
    with ExitStack() as stack:
        client = None
        if not args.no_workers:
            from distributed import Client

            from benign.experiments.runner import local_cluster

            cluster = stack.enter_context(local_cluster(args.workers))  # the sweep runner's own LocalCluster
            client = stack.enter_context(Client(cluster))
            t = time.perf_counter()
            wspec = load_spec(warm, db=os.path.join(tmp, "warm-w.db"))
            units = [[(u.params, u.seed) for u in unit] for unit in wspec.units()]
            client.run(_warm_worker, units)  # every worker compiles every shape (batch sizes 50 and 1)
            print(f"  worker warm-up (compilation in {args.workers} processes): {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)
        scan = [int(k) for k in args.threads_scan.split(",")] if args.threads_scan else []
        for _ in range(args.rounds):  # every mode once per round: a drift of the machine's load hits them all
            plain_loop()
            if not args.no_script:
                script()
            timed("sweep, one by one", "one", batch=False, threads=1)
            timed("sweep, batched map, 1 thread", "map", batch="map", threads=1)
            timed("sweep, batched vmap, 1 thread", "vmap", batch="vmap", threads=1)
            timed(f"sweep, batched map, {n_threads} threads", "map-threads", batch="map")
            for k in scan:
                if k not in (1, n_threads):
                    timed(f"sweep, batched map, {k} threads", f"map-{k}-threads", batch="map", threads=k)
            if client is not None:
                timed(f"sweep, {args.workers} workers, map", "workers", scheduler=client, batch="map")

    from benign.instances import build

    t0 = time.perf_counter()
    for t in sp.trials:
        build(t.params["instance"], device=False)
    draw_ms = (time.perf_counter() - t0) / n_trials * 1e3

    best = {label: min(v) for label, v in runs.items()}
    base = best["plain loop"][0]
    script_s = best["NumPy script"][0] if "NumPy script" in best else None
    print(f"\n{n_trials} trials (sensing n=10, r=1, m in {ms}, GD <= 500 iterations), batch_size "
          f"{args.batch_size}; warm-up {warm_s:.1f} s; {usable_cpus()} usable CPUs; best of {args.rounds} rounds "
          f"(every mode once per round)")
    print(f"{'mode':32s} {'seconds':>9s} {'trials/s':>9s} {'x plain':>8s} {'x script':>9s} {'ms/trial':>9s} "
          f"{'loop ms':>8s}  seconds per round")
    for label, (sec, loop_s) in best.items():
        each = ", ".join(f"{w:.2f}" for w, _ in runs[label])
        vs_script = f"{script_s / sec:9.2f}" if script_s else f"{'-':>9s}"
        loop = f"{loop_s / n_trials * 1e3:8.3f}" if label != "NumPy script" else f"{'-':>8s}"
        print(f"{label:32s} {sec:9.2f} {n_trials / sec:9.1f} {base / sec:8.2f} {vs_script} "
              f"{sec / n_trials * 1e3:9.3f} {loop}  {each}")
    print(f"(loop ms: the solver loop's own time per trial, from the results' solver_seconds; drawing one instance "
          f"on the host, build(spec, device=False): {draw_ms:.3f} ms)")
    one = best.get("sweep, batched map, 1 thread")
    if one is not None:  # what no Python overhead at all would leave to a single thread
        floor = one[1] / n_trials * 1e3 + draw_ms
        print(f"floor of one thread: compiled loop {one[1] / n_trials * 1e3:.3f} ms + drawing the instance "
              f"{draw_ms:.3f} ms = {floor:.3f} ms per trial, {base / n_trials * 1e3 / floor:.2f}x the plain loop at "
              f"most (threads overlap the two on different cores)")
        cpus = usable_cpus()
        print(f"floor of {cpus} CPUs: the same work spread perfectly over every usable CPU, with no other Python, "
              f"{floor / cpus:.3f} ms per trial, {base / n_trials * 1e3 / floor * cpus:.2f}x the plain loop at most")


if __name__ == "__main__":
    main()
