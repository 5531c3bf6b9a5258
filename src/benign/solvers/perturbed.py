"""Perturbed gradient descent: two perturbation rules, both seeded through the loop's ``jax.random`` keys.

* ``rule="jin"`` (Jin, Ge, Netrapalli, Kakade, Jordan 2017): when ``||grad f(X_t)|| <= g_thres`` and no perturbation
  happened in the last ``t_thres`` iterations, remember ``X~ = X_t`` and set ``X_t <- X~ + xi`` with ``xi`` uniform in
  the Frobenius ball of radius ``radius``; if ``t_thres`` iterations after a perturbation the loss has not decreased
  by ``f_thres`` below ``f(X~)``, stop and return ``X~`` (status ``converged``: ``X~`` has a small gradient and the
  perturbation found no escape direction). Then the gradient step ``X_{t+1} = X_t - eta grad f(X_t)``.
* ``rule="noise"`` (seed 001, MATH.md §8): ``g = grad f(X_t)``; if ``||g|| < threshold`` add ``sigma N(0, I)`` to
  ``g``; ``X_{t+1} = X_t - eta g``. There is no stationarity test in this rule (noise is added whenever the gradient is
  small): the run stops on ``max_iter``, on the stall rule, or on ``rtol`` when the truth is known.

Defaults (practical, not the theorem's constants): ``step = 1/(6 sigma)``; jin: ``g_thres`` = the loop's gradient
threshold ``gtol * max(s, ||grad f(X0)||)``, ``radius = 1e-3 * sqrt(sigma / gain)``, ``t_thres = 200``,
``f_thres = 1e-9 * max(f(X0), tiny)``; noise: ``threshold = 1e-3``, ``sigma = 1e-3``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_choice
from benign.solver_options import METHOD_OPTIONS
from benign.solvers.base import ProblemScale, Solver, f64, fro, i64, solver_class
from benign.solvers.gradient import default_step

RULES = METHOD_OPTIONS["perturbed-gd"]["rule"]


@solver_class(static=("rule",))
class PerturbedGD(Solver):
    """Perturbed gradient descent; see the module docstring for both rules and their defaults."""

    step: Any = None
    rule: str = "jin"
    g_thres: Any = None
    radius: Any = None
    t_thres: Any = 200
    f_thres: Any = None
    threshold: Any = 1e-3
    sigma: Any = 1e-3

    name = "perturbed-gd"
    divergence_hint = "try a smaller step, or a smaller perturbation (radius, sigma)"

    def resolve(self, obj, scale: ProblemScale, x0) -> "PerturbedGD":
        check_choice("perturbation rule", self.rule, RULES)
        step, g_thres, radius, f_thres = (self.setting(k) for k in ("step", "g_thres", "radius", "f_thres"))
        return PerturbedGD(
            step=f64(default_step(scale) if step is None else step), rule=self.rule,
            g_thres=f64(np.nan if g_thres is None else g_thres),
            radius=f64(1e-3 * scale.factor_scale if radius is None else radius),
            t_thres=i64(self.setting("t_thres")),
            f_thres=f64(np.nan if f_thres is None else f_thres),
            threshold=f64(self.setting("threshold")), sigma=f64(self.setting("sigma")))

    def init(self, obj, x, f, g, ctx):
        tiny = jnp.finfo(jnp.float64).tiny
        return {"g_thres": jnp.where(jnp.isnan(self.g_thres), ctx.thresh, self.g_thres),
                "f_thres": jnp.where(jnp.isnan(self.f_thres), 1e-9 * jnp.maximum(jnp.abs(ctx.f0), tiny),
                                     self.f_thres),
                "last": jnp.asarray(-1, dtype=jnp.int64) - self.t_thres,  # iteration of the last perturbation
                "x_tilde": x, "f_tilde": f, "g_tilde": g, "done": jnp.asarray(False),
                "count": jnp.asarray(0, dtype=jnp.int64)}

    def converged(self, meas, thresh, aux):
        if self.rule == "jin":
            return aux["done"]
        return jnp.asarray(False)

    def _uniform_ball(self, key, shape):
        k1, k2 = jax.random.split(key)
        u = jax.random.normal(k1, shape, dtype=jnp.float64)
        d = u.size
        rad = self.radius * jax.random.uniform(k2, (), dtype=jnp.float64) ** (1.0 / d)
        return rad * u / jnp.maximum(fro(u), jnp.finfo(jnp.float64).tiny)

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the module docstring)
        if self.rule == "noise":
            gnorm = fro(g)
            noise = self.sigma * jax.random.normal(key, g.shape, dtype=jnp.float64)
            add = gnorm < self.threshold
            x1 = x - self.step * jnp.where(add, g + noise, g)
            f1, g1 = obj.value_and_grad(x1)
            aux = dict(aux, count=aux["count"] + add.astype(jnp.int64))
            return x1, f1, g1, aux, self.step
        # Jin et al.: perturb, then test for termination, then take the gradient step
        perturb = (fro(g) <= aux["g_thres"]) & (k - aux["last"] > self.t_thres)

        def do_perturb(_):
            xp = x + self._uniform_ball(key, x.shape)
            fp, gp = obj.value_and_grad(xp)
            return xp, fp, gp

        xs, fs, gs = jax.lax.cond(perturb, do_perturb, lambda _: (x, f, g), None)
        last = jnp.where(perturb, k, aux["last"])
        x_tilde = jnp.where(perturb, x, aux["x_tilde"])
        f_tilde = jnp.where(perturb, f, aux["f_tilde"])
        g_tilde = jnp.where(perturb, g, aux["g_tilde"])
        stop = (aux["count"] + perturb > 0) & (k - last == self.t_thres) & (fs - f_tilde > -aux["f_thres"])
        x1 = xs - self.step * gs
        f1, g1 = obj.value_and_grad(x1)
        aux = dict(aux, last=last, x_tilde=x_tilde, f_tilde=f_tilde, g_tilde=g_tilde, done=stop,
                   count=aux["count"] + perturb.astype(jnp.int64))
        # on termination return the remembered point with its remembered loss and gradient
        return (jnp.where(stop, x_tilde, x1), jnp.where(stop, f_tilde, f1), jnp.where(stop, g_tilde, g1), aux,
                jnp.where(stop, 0.0, self.step))

    def summary(self, aux) -> dict[str, Any]:
        out = {"perturbations": int(aux["count"]), "rule": self.rule}
        if self.rule == "jin":
            out["g_thres"] = float(aux["g_thres"])
            out["f_thres"] = float(aux["f_thres"])
        return out
