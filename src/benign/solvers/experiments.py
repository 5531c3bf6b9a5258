"""Published solver experiments, run through :func:`benign.solvers.solve`.

:func:`perturbed_gd_experiment` is seed 001's perturbed-gradient-descent figure (MATH.md §8): ``n = 5``,
``r = r* = 3``, ``m = 20`` symmetric sensing matrices ``A_i = (G_i + G_i^T)/2`` with ``(G_i)_jk ~ N(0, 1)/5`` (this is
*not* the package's default ``N(0, 1/m)`` normalisation), ``X* ~ N(0, 1)``, ``X0 ~ N(0, 1)/10``, the mixed loss
``f^l_lambda = (1/m) sum_i [rho_i^2/2 + lambda rho_i^l / l]`` with ``l = 4`` (scaled by ``1/m``), constant step
``0.002``, ``10^4`` iterations, and the perturbation rule "when ``||grad f|| < 1e-3`` add ``N(0, I)/1000`` to the
gradient". The same instance and start are used for every ``lambda``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from benign.errors import check_float, check_int, check_seed


def perturbed_gd_experiment(seed: int, lam_values: Sequence[float] = (0.0, 1.0), *, n: int = 5, r: int = 3,
                            m: int = 20, step: float = 0.002, iterations: int = 10_000, l: int = 4,
                            threshold: float = 1e-3, sigma: float = 1e-3, init_scale: float = 0.1,
                            entry_scale: float = 0.2, history_every: int = 1) -> dict[str, Any]:
    """Run seed 001's perturbed-GD experiment for each ``lambda``; returns the curves and the instance.

    Randomness: NumPy PCG64 seeded with ``seed`` draws ``G`` (``m x n x n``), then ``X*`` (``n x r``), then ``X0``;
    the perturbations use the solver's ``jax.random`` stream for ``seed``. Returns ``{"lam_values", "instance",
    "x0", "runs"}``, where ``runs[i]`` (for ``lam_values[i]``) holds ``iteration``, ``distance``
    (``||X X^T - M*||_F``), ``loss`` (``f^l_lambda``), ``grad_norm``, the final ``relative_error``, ``status`` and the
    number of ``perturbations``.
    """
    from benign import instances as I
    from benign import operators as ops
    from benign.losses import make_loss
    from benign.objective import make_objective
    from benign.solvers.api import solve
    from benign.solvers.perturbed import PerturbedGD

    seed = check_seed(seed)
    n = check_int("n", n, minimum=1)
    r = check_int("r", r, minimum=1)
    m = check_int("m", m, minimum=1)
    iterations = check_int("iterations", iterations, minimum=1)
    entry_scale = check_float("entry_scale", entry_scale, lo=0.0, lo_open=True)
    init_scale = check_float("init_scale", init_scale, lo=0.0, lo_open=True)
    lams = [check_float("lambda", v, lo=0.0) for v in lam_values]
    if not lams:
        raise ValueError("lam_values must hold at least one value")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    G = entry_scale * rng.standard_normal((m, n, n))
    mats = 0.5 * (G + G.transpose(0, 2, 1))
    Z = rng.standard_normal((n, r))
    X0 = init_scale * rng.standard_normal((n, r))
    inst = I.from_arrays(ops.from_matrices(mats), Z, name=f"seed001-pgd(n={n},r={r},m={m},seed={seed})",
                         meta={"kind": "seed001-perturbed-gd", "n": n, "r": r, "m": m, "seed": seed,
                               "entry_scale": entry_scale})
    mstar_norm = float(np.linalg.norm(Z @ Z.T))
    solver = PerturbedGD(step=step, rule="noise", threshold=threshold, sigma=sigma)
    runs = []
    for lam in lams:
        obj = make_objective(inst, make_loss("mixed", lam=lam, l=l, scale="mean"))
        res = solve(obj, solver, x0=X0, seed=seed, max_iter=iterations, gtol=0.0, stall_window=0,
                    history_every=history_every)
        h = res.history
        runs.append({"lam": lam, "iteration": h["iteration"], "distance": h["error"] * mstar_norm,
                     "loss": h["loss"], "grad_norm": h["grad_norm"], "relative_error": res.relative_error,
                     "status": res.status, "perturbations": res.details["perturbations"], "x": res.x})
    return {"lam_values": lams, "instance": inst, "x0": X0, "runs": runs}
