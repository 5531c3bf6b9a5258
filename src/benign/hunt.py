"""The hunter: multi-start local search + certification + de-duplication modulo the symmetry.

For each instance of a family, ``starts`` initial points of search rank ``r`` are run to convergence in one
batched (``vmap``-ed) solver call; every end point is certified (:func:`benign.certify.certify`); end points that
represent the same matrix ``M = X X^T`` (or ``U V^T``) are merged. Comparing ``M`` rather than ``X`` quotients out
exactly the symmetry of the factorisation: rotations ``X -> X R`` (and hence column permutations, which are
rotations that keep ``X >= 0``) and, for asymmetric points, ``GL(r)``. Two end points are the same when
``||M1 - M2||_F <= dedupe_rtol * max(||M1||_F, ||M2||_F, ||M*||_F)``, computed from the factors (no ``n x n``
array), and merged by single linkage (the connected components of that relation), so distinct entries are always
farther apart than the tolerance.

The catalogue lists each distinct critical point with its certificate, the number of starts that reached it
(its basin count), the fraction of starts (basin frequency) and its separation: the relative distance to the nearest
other distinct point of the same instance, ``min_j ||M - M_j||_F / max(||M||_F, ||M_j||_F, ||M*||_F)`` (``None`` when
it is the only one; always above ``dedupe_rtol``). Points with the same loss and certificate but a large separation
are distinct minimisers, e.g. images of one another under a symmetry of the instance.

Runs that diverged end at no critical point: they are counted in ``solver_status["diverged"]`` (and in the basin
frequencies' denominator, ``starts``) but are neither certified nor catalogued.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from benign.errors import check_callable, check_float, check_int


def default_method(obj) -> str:
    """The local method matched to the objective: projected GD (nonnegative), subgradient (l1), else GD."""
    if obj.nonnegative:
        return "projected-gd"
    if obj.loss.name == "l1":
        return "subgradient"
    return "gd"


def _factors(obj, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (X, X) if obj.symmetric else (X[: obj.shape[0]], X[obj.shape[0]:])


def matrix_distance(obj, X: np.ndarray, Y: np.ndarray) -> float:
    """``||M(X) - M(Y)||_F`` from the factors (QR-based, no cancellation)."""
    from benign.instances import product_distance

    return product_distance(*_factors(obj, X), *_factors(obj, Y))


def _fro(obj, X: np.ndarray) -> float:
    U, V = _factors(obj, X)
    return float(np.sqrt(max(np.sum((U.T @ U) * (V.T @ V)), 0.0)))


@dataclass
class CatalogueEntry:
    """One distinct end point (modulo symmetry) with its certificate and basin statistics."""

    instance_index: int
    instance_name: str
    verdict: str
    spurious: bool | None
    loss: float
    relative_error: float
    lambda_min: float | None
    count: int
    frequency: float
    point: np.ndarray
    certificate: Any
    separation: float | None = None

    def to_dict(self, include_point: bool = True) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _ENTRY_FIELDS}
        out["certificate"] = self.certificate.to_dict()
        if include_point:
            out["point"] = np.asarray(self.point).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CatalogueEntry":
        """The entry of :meth:`to_dict` (with its point), e.g. from a hunt checkpoint."""
        from benign.certify.verdicts import Certificate

        return cls(**{k: data[k] for k in _ENTRY_FIELDS}, point=np.asarray(data["point"], dtype=float),
                   certificate=Certificate.from_dict(data["certificate"]))


_ENTRY_FIELDS = ("instance_index", "instance_name", "verdict", "spurious", "loss", "relative_error", "lambda_min",
                 "count", "frequency", "separation")


@dataclass
class Catalogue:
    """The hunter's result: distinct end points, counts by verdict, and the search budget that was spent."""

    entries: list[CatalogueEntry]
    instances: int
    starts: int
    rank: int
    method: str
    loss: str
    seconds: float
    solver_status: dict[str, int] = field(default_factory=dict)

    @property
    def spurious_minima(self) -> list[CatalogueEntry]:
        """Certified spurious local minima (strict or sharp), never degenerate points."""
        from benign.certify.verdicts import MINIMA

        return [e for e in self.entries if e.spurious and e.verdict in MINIMA]

    @property
    def strict_saddles(self) -> list[CatalogueEntry]:
        return [e for e in self.entries if e.verdict == "strict_saddle"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            key = e.verdict + ("/spurious" if e.spurious else "")
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self, include_points: bool = True) -> dict[str, Any]:
        return {"instances": self.instances, "starts_per_instance": self.starts, "rank": self.rank,
                "method": self.method, "loss_spec": self.loss, "seconds": self.seconds,
                "distinct_points": len(self.entries), "spurious_minima": len(self.spurious_minima),
                "strict_saddles": len(self.strict_saddles), "by_verdict": self.counts(),
                "solver_status": self.solver_status,
                "entries": [e.to_dict(include_points) for e in self.entries]}


def _add_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, count in counts.items():
        total[key] = total.get(key, 0) + count


def _without_history(method: str, options: dict) -> dict:
    """``options`` with ``history_every = max_iter`` unless set: the hunt reads the end points only, and a full history
    per start (``max_iter`` records of 4 numbers) would cost memory in proportion to ``starts * max_iter``."""
    if "history_every" in options:
        return options
    from benign.solvers.api import make_solver

    limit = options.get("max_iter")
    if limit is None:
        limit = make_solver(method).default_max_iter
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        return options  # refused by solve_many, with the setting named
    return {**options, "history_every": max(int(limit), 1)}


def _dedupe(obj, points: list[np.ndarray], scale: float, rtol: float) -> list[list[int]]:
    """Groups of indices: the connected components of "``||M_i - M_j||_F <= rtol max(||M_i||_F, ||M_j||_F,
    scale)``" (single linkage), so two points in different groups are always farther apart than the tolerance (a
    greedy assignment to the first group's first member is not: a point can fall outside that member's ball and
    within another member's). Each group's first member (its representative) keeps an upper bound on the distance
    to every other member; by the triangle inequality a group whose bound leaves no member within the tolerance is
    skipped after one distance, so well-separated groups cost one distance per point, as a greedy pass does."""
    norms = [_fro(obj, p) for p in points]
    groups: list[list[int]] = []
    radius: list[float] = []  # upper bounds on max_k ||M_rep - M_k||_F over each group's members
    top: list[float] = []  # the largest norm in each group (the pair tolerance is at most rtol max(it, ...))
    for i, p in enumerate(points):
        hits: list[tuple[int, float]] = []  # (group, distance from p to its representative)
        for g, members in enumerate(groups):
            d = matrix_distance(obj, p, points[members[0]])
            if d - radius[g] > rtol * max(norms[i], top[g], scale, 1e-300):
                continue  # every member is farther than the largest tolerance of a pair with p
            near = d <= rtol * max(norms[i], norms[members[0]], scale, 1e-300) or any(
                matrix_distance(obj, p, points[k]) <= rtol * max(norms[i], norms[k], scale, 1e-300)
                for k in members[1:])
            if near:
                hits.append((g, d))
        if not hits:
            groups.append([i])
            radius.append(0.0)
            top.append(norms[i])
            continue
        (g0, d0), rest = hits[0], hits[1:]
        groups[g0].append(i)
        radius[g0] = max(radius[g0], d0)
        top[g0] = max(top[g0], norms[i])
        for g, d in rest:  # p joins these groups to the first: ||M_rep0 - M_k|| <= d0 + d + radius[g]
            groups[g0].extend(groups[g])
            radius[g0] = max(radius[g0], d0 + d + radius[g])
            top[g0] = max(top[g0], top[g])
        for g, _ in reversed(rest):
            del groups[g], radius[g], top[g]
    return [sorted(g) for g in groups]


def _separations(obj, points: list[np.ndarray], scale: float) -> list[float | None]:
    """For each point, the relative matrix distance to the nearest other one (module docstring)."""
    norms = [_fro(obj, p) for p in points]
    out: list[float | None] = [None] * len(points)
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            d = matrix_distance(obj, points[i], points[j]) / max(norms[i], norms[j], scale, 1e-300)
            out[i] = d if out[i] is None else min(out[i], d)
            out[j] = d if out[j] is None else min(out[j], d)
    return out


def hunt(instances: Any, loss: Any = "l2", *, rank: int, starts: int = 32, method: str | None = None,
         init: str = "random", init_scale: float | None = None, seed: int = 0, dedupe_rtol: float = 1e-4,
         solver_options: dict | None = None, certify_options: dict | None = None,
         nonnegative: bool | None = None,
         progress: Callable[[int, int], None] | None = None, checkpoint: str | None = None) -> Catalogue:
    """Hunt for spurious critical points of ``loss`` over one instance or a sequence of instances.

    ``rank`` is the search rank ``r``; ``starts`` initial points per instance are drawn from ``init`` with seed
    ``seed + 1000 * i`` for instance ``i``; ``method`` defaults to :func:`default_method`. Every end point is
    certified with ``instance`` given (so ``spurious`` compares to the known truth), and distinct points are merged
    modulo the symmetry (module docstring). ``checkpoint``: a folder where each instance's catalogue is stored as it
    finishes; the same hunt on the same folder loads those instead of recomputing them
    (:mod:`benign.hunt_store`).
    """
    from benign.certify import certify
    from benign.certify.core import check_certify_options
    from benign.instances import Instance
    from benign.objective import make_objective
    from benign.solvers import solve_many

    if isinstance(instances, str):
        raise TypeError("hunt needs Instance objects (e.g. benign.build(spec)), got a string")
    insts: Sequence[Any] = [instances] if isinstance(instances, Instance) else list(instances)
    if not insts:
        raise ValueError("hunt needs at least one instance")
    for k, inst in enumerate(insts):
        if not isinstance(inst, Instance):
            raise TypeError(f"instance {k} is a {type(inst).__name__}, not an Instance")
    for name, opts in (("solver_options", solver_options), ("certify_options", certify_options)):
        if opts is not None and not isinstance(opts, dict):
            raise TypeError(f"{name} must be a dict, got {opts!r}")
    check_callable("progress", progress, "progress(done, total)")
    rank = check_int("rank", rank, minimum=1)
    starts = check_int("starts", starts, minimum=1)
    dedupe_rtol = check_float("dedupe_rtol", dedupe_rtol, lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    t0 = time.perf_counter()
    desc = loss if isinstance(loss, str) else loss.describe()
    store = None
    if checkpoint is not None:
        from benign.hunt_store import HuntCheckpoint, hunt_settings

        store = HuntCheckpoint(checkpoint, hunt_settings(
            loss=desc, rank=rank, starts=starts, method=method, init=init, init_scale=init_scale, seed=seed,
            dedupe_rtol=dedupe_rtol, solver_options=solver_options, certify_options=certify_options,
            nonnegative=nonnegative))
    entries: list[CatalogueEntry] = []
    statuses: dict[str, int] = {}
    meth = method
    objs = [make_objective(inst, loss, nonnegative=nonnegative) for inst in insts]
    for inst, obj in zip(insts, objs):  # every instance checked before any solve, not at a certificate
        check_certify_options(obj, certify_options or {}, common=True)
        if obj.loss.name == "l1" and obj.nonnegative:
            raise ValueError(f"hunt certifies every end point, and the l1 certificate does not model X >= 0: instance "
                             f"{inst.name!r} is nonnegative (pass nonnegative=False to hunt without the constraint)")
    for i, (inst, obj) in enumerate(zip(insts, objs)):
        meth = method or default_method(obj)
        done = store.load(i, inst) if store is not None else None
        if done is not None:  # finished in an earlier run of this hunt
            entries.extend(CatalogueEntry.from_dict(e) for e in done[0])
            _add_counts(statuses, done[1])
            if progress is not None:
                progress(i + 1, len(insts))
            continue
        results = solve_many(obj, meth, starts=starts, rank=rank, init=init, init_scale=init_scale,
                             seed=seed + 1000 * i, **_without_history(meth, solver_options or {}))
        mine = dict(Counter(res.status for res in results))  # this instance's (stored with its catalogue)
        _add_counts(statuses, mine)
        results = [res for res in results if res.status != "diverged"]  # (module docstring)
        points = [np.asarray(res.x) for res in results]
        scale = _fro(obj, np.asarray(obj.truth)) if obj.truth is not None else 0.0
        groups = _dedupe(obj, points, scale, dedupe_rtol)
        # representative: the member with the smallest gradient norm
        best = [min(group, key=lambda k: results[k].grad_norm) for group in groups]
        separation = _separations(obj, [points[b] for b in best], scale)
        found = []
        for group, b, sep in zip(groups, best, separation):
            cert = certify(obj, points[b], instance=inst, **(certify_options or {}))
            found.append(CatalogueEntry(i, inst.name, cert.verdict, cert.spurious, float(cert.loss),
                                        float(results[b].relative_error), cert.lambda_min, len(group),
                                        len(group) / starts, points[b], cert, sep))
        entries.extend(found)
        if store is not None:
            store.save(i, inst, found, mine)
        if progress is not None:
            progress(i + 1, len(insts))
    entries.sort(key=lambda e: (e.instance_index, -e.count))
    return Catalogue(entries, len(insts), starts, rank, meth or "", desc, time.perf_counter() - t0, statuses)
