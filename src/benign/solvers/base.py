"""The solver interface shared by every local method, and small numerical helpers they share.

A solver is a small immutable configured object (``GradientDescent(step=1e-2, armijo=True)``), registered as a JAX
pytree: its numbers are leaves (changing a step size does not recompile), its flags and names are static.
:func:`benign.solvers.solve` calls, in plain Python, ``validate(obj)`` and ``resolve(obj, scale, x0)`` (which fills
the defaults that depend on the problem, e.g. a step size from :class:`ProblemScale`); then, inside one jitted
``lax.while_loop`` (see :mod:`benign.solvers.loop`):

* ``init(obj, x, f, g, ctx) -> aux``: the method's own state (a pytree);
* ``update(obj, x, f, g, aux, k, key, ctx) -> (x, f, g, aux, step_size)``: one iteration, returning the new point with
  its loss and gradient (so that no method evaluates them twice);
* ``measure(obj, x, g)``: the stationarity measure the stopping rule compares with ``gtol`` (``||grad||_F`` unless the
  method says otherwise);
* ``converged(meas, thresh, aux)``: the method's convergence test (default ``meas <= thresh``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from benign._jax import jax, jnp
from benign.errors import suggest
from benign.objective import TruthBasis, matrix_distance, relative_error, truth_basis  # noqa: F401 (re-exported)


def solver_class(static: tuple[str, ...] = ()):
    """Class decorator: a frozen dataclass registered as a pytree; fields named in ``static`` are metadata."""
    def wrap(cls):
        cls = dataclass(frozen=True)(cls)
        names = [f.name for f in fields(cls)]
        data = [n for n in names if n not in static]
        return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=list(static))
    return wrap


class Ctx(NamedTuple):
    """Per-start numbers fixed at the initial point: the gradient threshold, the initial loss and the loss above which
    a step counts as divergent."""

    thresh: Any  # gtol * max(s, measure(x0)), s = loop.gradient_floor(obj)
    f0: Any
    limit: Any = None  # diverge_factor * max(f(x0), f(0)) (inf when both are 0); None outside the loop


@dataclass(frozen=True)
class ProblemScale:
    """Problem-dependent scales used for default step sizes and initial scales (all from the data ``b``).

    * ``sigma``: ``||sym(c A*(b))||_2`` (symmetric) or ``||c A*(b)||_2`` (asymmetric), by subspace iteration; for a
      noiseless isotropic operator this is ``gain * sigma_1(M*)``;
    * ``gain``: ``c ||A(P)||^2 / ||P||_F^2`` averaged over random rank-``r`` probes ``P`` (about 1 for the package's
      Gaussian sensing, the sampling rate for completion);
    * ``rows``: ``N``, rows of a point.
    """

    sigma: float
    gain: float
    rows: int

    @property
    def factor_scale(self) -> float:
        """``sqrt(sigma / gain)``: about ``||Z||_2`` for a truth ``M* = Z Z^T``."""
        return math.sqrt(max(self.sigma, 1e-300) / max(self.gain, 1e-300))


class Solver:
    """Base class: defaults for the hooks (see the module docstring)."""

    name: ClassVar[str] = "solver"
    jitted: ClassVar[bool] = True
    default_max_iter: ClassVar[int] = 10_000
    default_gtol: ClassVar[float] = 1e-10
    #: the stationarity measure, for documentation and results
    measure_name: ClassVar[str] = "||grad f||_F"
    #: what the message of a diverged run suggests
    divergence_hint: ClassVar[str] = "try a smaller step"

    # ---------------------------------------------------------------- plain Python
    def validate(self, obj) -> None:
        """Raise ``ValueError`` when the method does not apply to ``obj``."""
        if obj.nonnegative:
            raise ValueError(f"method {self.name!r} ignores the constraint X >= 0 of this nonnegative objective; "
                             "use 'projected-gd', or build the objective with nonnegative=False")

    def resolve(self, obj, scale: ProblemScale, x0) -> "Solver":
        """A copy with every ``None`` default replaced by a number (see each method's docstring)."""
        return self

    def setting(self, name: str) -> Any:
        """The field ``name`` checked against its range in :data:`benign.solver_options.METHOD_BOUNDS` (as a float
        or int); ``None`` stays ``None`` only for a setting whose default is ``None`` ("problem-dependent")."""
        from benign.solver_options import check_setting

        value = getattr(self, name)
        if value is None and next(f.default for f in fields(self) if f.name == name) is None:
            return None  # a setting whose None means "problem-dependent"; any other one must be a number
        return check_setting(self.name, name, value)

    def options(self) -> dict[str, Any]:
        """The settings as plain Python values (JSON-ready); ``None`` for a setting left to its rule (a resolved
        solver carries it as NaN, the compiled "unset"), so that ``solve(..., **result.options)`` runs again."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (np.generic, np.ndarray)) or hasattr(v, "dtype"):
                v = np.asarray(v).item()
            out[f.name] = None if isinstance(v, float) and math.isnan(v) else v
        return out

    def summary(self, aux: Any) -> dict[str, Any]:
        """Method-specific numbers for ``Result.details`` from the final ``aux`` (NumPy values)."""
        return {}

    def best_iterate(self, aux: Any) -> tuple[np.ndarray, float, int] | None:
        """``(x, f(x), iteration)`` of the iterate of least loss, for a method that keeps it (not a descent method);
        ``None`` otherwise. A solver with ``final == "best"`` returns that iterate as the result."""
        return None

    # ---------------------------------------------------------------- traced
    def init(self, obj, x, f, g, ctx: Ctx):
        return ()

    def measure(self, obj, x, g):
        return fro(g)

    def converged(self, meas, thresh, aux):
        return meas <= thresh


def fro(a):
    """Frobenius norm, written out (``jnp.linalg.norm`` would take a matrix 2-norm for some ``ord`` values)."""
    return jnp.sqrt(jnp.sum(a * a))


def inner(a, b):
    return jnp.sum(a * b)


def with_options(solver: Solver, options: dict[str, Any]) -> Solver:
    """``replace(solver, **options)`` with a clear error naming an unknown option."""
    valid = [f.name for f in fields(solver)]
    for key in options:
        if key not in valid:
            raise ValueError(f"unknown option {key!r} for method {solver.name!r}{suggest(key, valid)}; "
                             f"valid options: {', '.join(valid) or 'none'}")
    from benign.solver_options import METHOD_OPTIONS, check_method_options

    if solver.name in METHOD_OPTIONS:  # value types (a user-defined solver class checks its own)
        check_method_options(solver.name, options, optional=tuple(f.name for f in fields(solver) if f.default is None))
    return replace(solver, **options)


def f64(v: Any) -> np.ndarray:
    """A float64 NumPy scalar: a strongly typed pytree leaf (a Python float would be weakly typed)."""
    return np.asarray(v, dtype=np.float64)


def i64(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)


def projected_backtracking(obj, x, f, g, t0, project, c, shrink, max_steps):
    """Armijo backtracking along the (projection) arc ``x(t) = project(x - t g)``.

    Accepts the first ``t = t0 * shrink^j`` with ``f(x(t)) <= f + c <g, x(t) - x>`` (for ``project = identity`` this
    is the classical ``f - c t ||g||^2``). Returns ``(x(t), f(x(t)), t, ok)``; when no trial step is accepted within
    ``max_steps`` halvings it returns ``x`` unchanged with ``ok = False`` (the loop's stall rule then stops the run).
    """
    def trial(t):
        xt = project(x - t * g)
        return xt, obj.value(xt)

    def bad(xt, ft):
        return (~jnp.isfinite(ft)) | (ft > f + c * inner(g, xt - x))

    x0, f0 = trial(t0)

    def cond(s):
        j, t, xt, ft = s
        return bad(xt, ft) & (j < max_steps)

    def body(s):
        j, t, _, _ = s
        t = t * shrink
        xt, ft = trial(t)
        return j + 1, t, xt, ft

    j, t, xt, ft = jax.lax.while_loop(cond, body, (jnp.asarray(0, dtype=jnp.int64), t0, x0, f0))
    ok = ~bad(xt, ft)
    return jnp.where(ok, xt, x), jnp.where(ok, ft, f), t, ok
