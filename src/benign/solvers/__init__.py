"""Local methods for the Burer--Monteiro objective, and the convex baseline.

::

    from benign.solvers import solve, solve_many, Result, METHODS, initial_point
    res = solve(obj, "gd", rank=2, seed=0)                     # or solve(obj, GradientDescent(armijo=True))
    res.x, res.loss, res.relative_error, res.status, res.history["loss"]
    results = solve_many(obj, "trust-region", starts=16)       # one vmapped, jitted run
    results = solve_stacked(objs, "gd", seeds=[0, 1, 2])       # many objectives of one shape, one run

Methods (:data:`METHODS`): ``gd`` (fixed step or Armijo), ``perturbed-gd`` (Jin et al. / seed-001 noise rule),
``projected-gd`` (``X >= 0``), ``subgradient`` (l1; geometric or Polyak steps), ``scaled-gd``, ``prec-gd``,
``trust-region`` (second-order points) and ``convex`` (SDP relaxation, CVXPY). One module per family; the shared loop
with the stopping rules is :mod:`benign.solvers.loop`.
"""
from __future__ import annotations

from benign.solvers.api import METHODS, make_solver, solve, solve_many
from benign.solvers.base import ProblemScale, Solver
from benign.solvers.convex import ConvexBaseline, solve_convex
from benign.solvers.gradient import GradientDescent, ProjectedGD
from benign.solvers.init import INITS, initial_point, problem_scale
from benign.solvers.perturbed import PerturbedGD
from benign.solvers.result import STATUSES, Result
from benign.solvers.scaled import PrecGD, ScaledGD
from benign.solvers.stacked import NotStackable, solve_stacked
from benign.solvers.subgradient import Subgradient
from benign.solvers.trust_region import TrustRegion

__all__ = ["solve", "solve_many", "solve_stacked", "NotStackable",
           "Result", "METHODS", "initial_point", "problem_scale", "make_solver", "Solver",
           "ProblemScale", "GradientDescent", "ProjectedGD", "PerturbedGD", "Subgradient", "ScaledGD", "PrecGD",
           "TrustRegion", "ConvexBaseline", "solve_convex", "INITS", "STATUSES"]
