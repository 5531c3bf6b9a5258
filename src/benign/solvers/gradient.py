"""Gradient descent (fixed step or Armijo backtracking) and projected gradient descent for ``X >= 0``."""
from __future__ import annotations

from typing import Any

from benign._jax import jnp
from benign.errors import check_bool
from benign.solvers.base import ProblemScale, Solver, f64, fro, i64, projected_backtracking, solver_class

#: default fixed step: ``STEP_FACTOR / sigma`` with ``sigma = ||sym(c A*(b))||_2`` (see ``ProblemScale``)
STEP_FACTOR = 1.0 / 6.0


def default_step(scale: ProblemScale) -> float:
    """``1 / (6 sigma)``. For the l2 loss near ``X* X*^T = M*`` the Hessian's largest eigenvalue is at most
    ``4 (1 + delta) gain sigma_1(M*)`` and ``sigma`` is about ``gain sigma_1(M*)``, so ``eta L <= 2 (1 + delta) / 3``:
    stable for every RIP constant ``delta < 2``. Other losses (high order) usually need an explicit step."""
    return STEP_FACTOR / max(scale.sigma, 1e-300)


def _nonneg(x):
    return jnp.maximum(x, 0.0)


@solver_class(static=("armijo",))
class GradientDescent(Solver):
    """``X <- X - eta grad f(X)``.

    * ``armijo=False``: fixed ``eta = step`` (default ``1 / (6 sigma)``, see :func:`default_step`);
    * ``armijo=True``: backtracking inside the jitted loop: trial ``t = grow * t_prev`` (first trial ``step``),
      halved (``shrink``) until ``f(X - t g) <= f(X) - c t ||g||^2``; at most ``max_backtracks`` halvings, after which
      the iterate does not move (and the stall rule ends the run).

    Stops on ``||grad f||_F <= gtol * max(s, ||grad f(X0)||_F)`` (``s``: :func:`~benign.solvers.loop.gradient_floor`).
    """

    step: Any = None
    armijo: bool = False
    c: Any = 1e-4
    shrink: Any = 0.5
    grow: Any = 2.0
    max_backtracks: Any = 60

    name = "gd"

    def resolve(self, obj, scale: ProblemScale, x0) -> "GradientDescent":
        step = self.setting("step")
        return type(self)(step=f64(default_step(scale) if step is None else step),
                          armijo=check_bool("armijo", self.armijo), c=f64(self.setting("c")),
                          shrink=f64(self.setting("shrink")), grow=f64(self.setting("grow")),
                          max_backtracks=i64(self.setting("max_backtracks")))

    def _project(self, x):
        return x

    def init(self, obj, x, f, g, ctx):
        return {"t": jnp.asarray(self.step, dtype=jnp.float64) / self.grow,
                "failed": jnp.asarray(0, dtype=jnp.int64)}

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the class docstring)
        if not self.armijo:
            x1 = self._project(x - self.step * g)
            f1, g1 = obj.value_and_grad(x1)
            return x1, f1, g1, aux, self.step
        x1, _, t, ok = projected_backtracking(obj, x, f, g, aux["t"] * self.grow, self._project, self.c,
                                              self.shrink, self.max_backtracks)
        f1, g1 = obj.value_and_grad(x1)
        aux = {"t": jnp.where(ok, t, aux["t"]), "failed": aux["failed"] + (~ok).astype(jnp.int64)}
        return x1, f1, g1, aux, jnp.where(ok, t, 0.0)

    def summary(self, aux) -> dict[str, Any]:
        if not self.armijo:
            return {}
        return {"last_step": float(aux["t"]), "failed_line_searches": int(aux["failed"])}


@solver_class(static=("armijo",))
class ProjectedGD(GradientDescent):
    """Projected gradient descent for nonnegative factors: ``X <- max(X - eta grad f(X), 0)`` (exactly ``X >= 0``).

    Same step rules as :class:`GradientDescent`; Armijo along the projection arc ``X(t) = max(X - t g, 0)``:
    ``f(X(t)) <= f(X) + c <g, X(t) - X>``. Stationarity measure: the projected-gradient norm
    ``||X - max(X - grad f(X), 0)||_F``, zero exactly at the KKT points (``G_ij = 0`` where ``X_ij > 0``,
    ``G_ij >= 0`` where ``X_ij = 0``). KKT points include saddles on faces (e.g. ``X = 0``): certify end points.
    """

    name = "projected-gd"
    measure_name = "||X - max(X - grad f, 0)||_F"

    def validate(self, obj) -> None:
        if not obj.symmetric:
            raise ValueError("projected-gd needs the symmetric factorisation (nonnegative X)")
        if not obj.nonnegative:
            raise ValueError("projected-gd is for nonnegative objectives (obj.nonnegative is False); build it with "
                             "make_objective(..., nonnegative=True) or use 'gd'")

    def _project(self, x):
        return _nonneg(x)

    def measure(self, obj, x, g):
        return fro(x - _nonneg(x - g))
