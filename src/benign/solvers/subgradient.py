"""The subgradient method for the nonsmooth l1 loss (Ma--Fattahi), with geometric or Polyak step sizes.

``X_{t+1} = X_t - eta_t g_t`` with ``g_t = obj.grad(X_t)`` (the subgradient with ``sign(0) = 0``) and

* ``schedule="geometric"``: ``eta_t = step * q^t``. Default ``step`` (a heuristic that matches the l1 step to the
  l2 gradient step): ``eta_0 = (1/(2 sigma_2)) * D / (c sqrt(2 m / pi))`` with ``sigma_2 = ||sym(A*(b))||_2`` (the
  unscaled l2 value), ``D = sqrt(m) median|b_i| / 0.6745`` a robust estimate of ``||A(M*)||`` (insensitive to a
  fraction ``p < 1/2`` of outliers), ``c`` the loss scaling; default ``q = 0.98``. For a loss other than l1 (whose
  subgradient is its gradient, growing with the residuals) the default ``step`` is gradient descent's,
  ``1 / (6 sigma)`` (:func:`~benign.solvers.gradient.default_step`): the l1 heuristic is about 8 times longer there
  and diverged on l2 sensing within two iterations;
* ``schedule="polyak"``: ``eta_t = (f(X_t) - f_star) / ||g_t||^2`` (``f_star = 0`` by default: exact for noiseless
  data; with outliers give the optimal value, e.g. ``f(X*)``, or the steps stay too long).

Use the small initialisation ``X_0 = alpha N(0, 1)`` (``init="small"``): in the over-parameterised case the final error
scales with ``alpha`` (MATH.md §4), so state ``alpha`` with any success threshold. A subgradient does not vanish at a
minimiser, so the gradient rule of the loop practically never fires: runs end on ``rtol`` (truth known), ``ftol``
(``f <= f_star + ftol * (f(X0) - f_star)``, when ``ftol`` is given), the stall rule, or ``max_iter``.

The method is not a descent method (``f`` may go up from one iterate to the next, e.g. Polyak steps with an
``f_star`` below the optimal value), so the run also keeps the iterate of least loss seen: ``details["best_loss"]``
and ``details["best_iteration"]`` always, and ``final="best"`` returns that iterate as ``x`` (with its loss,
relative error and subgradient norm) instead of the last one (``final="last"``, the default: the iterate the stopping
rules looked at) -- except after a ``converged`` run, whose status speaks of the last iterate (the one that passed
the test): that one is returned, and the message says where the least loss was. With ``final="last"``, a message
says when the best iterate was lower.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from benign._jax import jnp
from benign.errors import check_choice
from benign.solver_options import METHOD_OPTIONS
from benign.solvers.base import ProblemScale, Solver, f64, solver_class
from benign.solvers.gradient import default_step

SCHEDULES = METHOD_OPTIONS["subgradient"]["schedule"]
FINALS = METHOD_OPTIONS["subgradient"]["final"]


@solver_class(static=("schedule", "final"))
class Subgradient(Solver):
    """Subgradient method; see the module docstring for the step rules and defaults."""

    step: Any = None
    q: Any = 0.98
    schedule: str = "geometric"
    f_star: Any = 0.0
    ftol: Any = None
    final: str = "last"

    name = "subgradient"
    divergence_hint = "try a smaller step; with schedule=polyak, an f_star closer to the optimal value"
    default_max_iter = 2000
    measure_name = "||subgradient||_F"

    def resolve(self, obj, scale: ProblemScale, x0) -> "Subgradient":
        check_choice("step schedule", self.schedule, SCHEDULES)
        check_choice("final", self.final, FINALS)
        step = self.setting("step")
        if step is None:
            step = default_l1_step(obj, scale) if obj.loss.name == "l1" else default_step(scale)
        ftol = self.setting("ftol")
        f_star = self.setting("f_star")
        if self.schedule == "polyak" or ftol is not None:
            _check_lower_bound(obj, x0, f_star)
        return Subgradient(step=f64(step), q=f64(self.setting("q")), schedule=self.schedule,
                           f_star=f64(f_star), ftol=f64(np.nan if ftol is None else ftol), final=self.final)

    def init(self, obj, x, f, g, ctx):
        return {"f0": f, "f": f, "best_f": f, "best_k": jnp.zeros((), jnp.int64), "best_x": x}

    def converged(self, meas, thresh, aux):
        # ftol NaN (no ftol rule): the comparison is False
        hit = (self.ftol >= 0) & (aux["f"] - self.f_star <= self.ftol * jnp.maximum(aux["f0"] - self.f_star, 0.0))
        return (meas <= thresh) | hit

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the module docstring)
        if self.schedule == "geometric":
            eta = self.step * self.q ** k
        else:
            gg = jnp.sum(g * g)
            eta = jnp.where(gg > 0, jnp.maximum(f - self.f_star, 0.0) / jnp.where(gg > 0, gg, 1.0), 0.0)
        x1 = x - eta * g
        f1, g1 = obj.value_and_grad(x1)
        better = f1 < aux["best_f"]  # False for a NaN loss: the best iterate stays finite
        best = {"best_f": jnp.where(better, f1, aux["best_f"]),
                "best_k": jnp.where(better, jnp.asarray(k, jnp.int64) + 1, aux["best_k"]),
                "best_x": jnp.where(better, x1, aux["best_x"])}
        return x1, f1, g1, dict(aux, f=f1, **best), eta

    def summary(self, aux) -> dict[str, Any]:
        return {"schedule": self.schedule, "best_loss": float(aux["best_f"]), "best_iteration": int(aux["best_k"])}

    def best_iterate(self, aux) -> tuple[np.ndarray, float, int]:
        """``(x, f(x), iteration)`` of the iterate of least loss seen (the start counts as iteration 0)."""
        return np.asarray(aux["best_x"]), float(aux["best_f"]), int(aux["best_k"])


def _check_lower_bound(obj, x0, f_star: float) -> None:
    """``f_star`` must lie below ``f(X0)`` (of every start, ``x0`` being ``(N, r)`` or a batch ``(count, N, r)``): it
    stands for the optimal value, and one at or above ``f(X0)`` makes the Polyak step 0 (the iterate never moves)
    and the ``ftol`` test pass at the start."""
    from benign._jax import jax

    X0 = jnp.asarray(x0)
    f0 = np.atleast_1d(np.asarray(jax.vmap(obj.value)(X0) if X0.ndim == 3 else obj.value(X0)))
    i = int(np.argmin(f0))
    if not f0[i] > f_star:
        where = f"f(X0) = {f0[i]:.6g}" if f0.size == 1 else f"f(X0) of start {i} = {f0[i]:.6g}"
        raise ValueError(f"f_star = {f_star:g} is not below {where}: f_star must be a lower bound of f (its "
                         f"optimal value, or below; 0 for the l1 loss)")


def default_l1_step(obj, scale: ProblemScale) -> float:
    """The default ``eta_0`` of the geometric schedule (module docstring)."""
    m = obj.operator.m
    c = obj.loss.factor(m)
    b = np.asarray(obj.b)
    D = math.sqrt(m) * float(np.median(np.abs(b))) / 0.6745
    sigma_l2 = scale.sigma / c  # scale.sigma carries the loss's factor c
    if not (D > 0 and sigma_l2 > 0):
        return 1e-3
    return (1.0 / (2.0 * sigma_l2)) * D / (c * math.sqrt(2.0 * m / math.pi))
