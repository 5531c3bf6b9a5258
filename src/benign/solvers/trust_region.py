"""A Newton-type trust-region method that converges to second-order points, matrix-free (Hessian-vector products).

Each iteration minimises the quadratic model ``m(p) = f + <g, p> + 1/2 <p, H p>`` (``H p = obj.hvp(X, p)``) over
``||p||_F <= Delta`` by truncated conjugate gradients (Steihaug--Toint): CG stops at the boundary when it meets
non-positive curvature ``<d, H d> <= 0`` or leaves the ball, and when the residual falls below
``||g|| min(kappa, ||g||^theta)``. When the gradient is small (``||g|| <= gtol * max(s, ||g(X0)||)``), a Lanczos
process with full reorthogonalisation (``lanczos_steps`` HVPs) estimates ``lambda_min(H)`` and its eigenvector ``u``;
if ``lambda_min < -curvature_tol * max(lambda_max, tiny)`` the step is ``p = -sign(<g, u>) Delta u`` (a negative
curvature step), otherwise the point is accepted as second-order stationary and the run converges.

Steps are accepted when ``rho = (f - f(X + p) + reg) / (m(0) - m(p) + reg) > eta`` (``reg = 1e3 eps max(1, |f|)``,
as in Manopt, so that rounding near the optimum does not reject good steps); ``Delta`` shrinks by 4 when
``rho < 1/4`` and doubles (up to ``max_radius``) when ``rho > 3/4`` and the step reached the boundary.

Convergence rule: gradient rule **and** the Lanczos curvature test passed at the same point. The zero curvature of the
rotation symmetry ``X -> X R`` is harmless (it is never negative). Lanczos returns Ritz values, which bound
``lambda_min`` from above: a tiny negative eigenvalue that ``lanczos_steps`` iterations do not resolve is missed (exact
when ``lanczos_steps >= N r``). Defaults: ``radius = max(||X0||_F, sqrt(r sigma / gain)) / 8``,
``max_radius = 64 radius``, ``eta = 0.1``, ``kappa = 0.1``, ``theta = 1``, ``cg_max_iter = min(N r, 250)``,
``lanczos_steps = min(N r, 30)``, ``curvature_tol = 1e-8``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.solver_options import check_radii
from benign.solvers.base import ProblemScale, Solver, f64, fro, i64, inner, solver_class

_EPS = float(np.finfo(np.float64).eps)


def _to_boundary(p, d, radius):
    """``tau >= 0`` with ``||p + tau d|| = radius`` (``||p|| <= radius``)."""
    dd = inner(d, d)
    pd = inner(p, d)
    pp = inner(p, p)
    disc = jnp.maximum(pd * pd + dd * (radius * radius - pp), 0.0)
    return (-pd + jnp.sqrt(disc)) / jnp.maximum(dd, jnp.finfo(jnp.float64).tiny)


def steihaug_cg(hvp, g, radius, tol, max_iter):
    """Truncated CG on ``min <g,p> + 1/2 <p,Hp>``, ``||p|| <= radius``. Returns ``(p, Hp, iterations, boundary)``."""
    zero = jnp.zeros_like(g)
    rr0 = inner(g, g)

    def cond(s):
        j, p, Hp, r, d, rr, done, hit = s
        return (~done) & (j < max_iter)

    def body(s):
        j, p, Hp, r, d, rr, done, hit = s
        Hd = hvp(d)
        dHd = inner(d, Hd)
        alpha = rr / jnp.where(dHd > 0, dHd, 1.0)
        p_next = p + alpha * d
        leave = (dHd <= 0) | (fro(p_next) >= radius)
        tau = _to_boundary(p, d, radius)
        step = jnp.where(leave, tau, alpha)
        p = p + step * d
        Hp = Hp + step * Hd
        r = r + alpha * Hd
        rr_new = inner(r, r)
        small = jnp.sqrt(rr_new) <= tol
        d = -r + (rr_new / jnp.where(rr > 0, rr, 1.0)) * d
        return j + 1, p, Hp, r, d, rr_new, leave | small, hit | leave

    init = (jnp.asarray(0, dtype=jnp.int64), zero, zero, g, -g, rr0, jnp.sqrt(rr0) <= tol, jnp.asarray(False))
    j, p, Hp, _, _, _, _, hit = jax.lax.while_loop(cond, body, init)
    return p, Hp, j, hit


def lanczos_min(hvp, v0, steps: int):
    """Smallest and largest Ritz values of ``H`` after ``steps`` Lanczos steps (full reorthogonalisation) and the
    Ritz vector of the smallest, normalised."""
    shape = v0.shape
    n = v0.size
    V = jnp.zeros((steps + 1, n), dtype=v0.dtype)
    v = v0.reshape(-1) / fro(v0)
    V = V.at[0].set(v)
    alphas = jnp.zeros(steps, dtype=v0.dtype)
    betas = jnp.zeros(steps, dtype=v0.dtype)
    tiny = 1e-13

    def body(j, s):
        V, alphas, betas = s
        vj = V[j]
        w = hvp(vj.reshape(shape)).reshape(-1)
        a = jnp.dot(w, vj)
        mask = (jnp.arange(steps + 1) <= j).astype(w.dtype)
        for _ in range(2):  # classical Gram--Schmidt, twice
            w = w - V.T @ (mask * (V @ w))
        b = jnp.sqrt(jnp.dot(w, w))
        ok = b > tiny * jnp.maximum(jnp.abs(a), jnp.max(jnp.abs(alphas)) + 1e-300)
        V = V.at[j + 1].set(jnp.where(ok, w / jnp.where(ok, b, 1.0), 0.0))
        return V, alphas.at[j].set(a), betas.at[j].set(jnp.where(ok, b, 0.0))

    V, alphas, betas = jax.lax.fori_loop(0, steps, body, (V, alphas, betas))
    T = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    theta, S = jnp.linalg.eigh(T)
    u = (S[:, 0] @ V[:steps]).reshape(shape)
    u = u / jnp.maximum(fro(u), jnp.finfo(jnp.float64).tiny)
    return theta[0], theta[-1], u


@solver_class(static=("lanczos_steps",))
class TrustRegion(Solver):
    """Trust-region Newton (truncated CG + Lanczos negative-curvature steps); see the module docstring."""

    radius: Any = None
    max_radius: Any = None
    eta: Any = 0.1
    kappa: Any = 0.1
    theta: Any = 1.0
    cg_max_iter: Any = None
    lanczos_steps: Any = None
    curvature_tol: Any = 1e-8

    name = "trust-region"
    divergence_hint = "try a smaller radius or max_radius"
    default_max_iter = 1000

    def validate(self, obj) -> None:
        super().validate(obj)
        if obj.loss.name == "l1":
            raise ValueError("trust-region needs a twice-differentiable loss; the l1 loss has no Hessian "
                             "(use 'subgradient')")

    def resolve(self, obj, scale: ProblemScale, x0) -> "TrustRegion":
        x0 = np.asarray(x0)
        N, r = x0.shape[-2], x0.shape[-1]
        dim = N * r
        radius = self.setting("radius")
        if radius is None:
            xnorm = float(np.max(np.sqrt(np.sum(x0.reshape(-1, N * r) ** 2, axis=1))))
            radius = max(xnorm, math.sqrt(r) * scale.factor_scale) / 8.0
        max_radius = self.setting("max_radius")
        if max_radius is None:
            max_radius = 64.0 * radius
        check_radii(radius, max_radius)  # (given together: already checked with the options)
        cg, lz = self.setting("cg_max_iter"), self.setting("lanczos_steps")
        return TrustRegion(
            radius=f64(radius), max_radius=f64(max_radius),
            eta=f64(self.setting("eta")), kappa=f64(self.setting("kappa")), theta=f64(self.setting("theta")),
            cg_max_iter=i64(min(dim, 250) if cg is None else cg),
            lanczos_steps=int(min(dim, 30) if lz is None else min(lz, dim)),
            curvature_tol=f64(self.setting("curvature_tol")))

    def init(self, obj, x, f, g, ctx):
        return {"radius": jnp.asarray(self.radius, dtype=jnp.float64), "second_order": jnp.asarray(False),
                "lambda_min": jnp.asarray(jnp.nan, dtype=jnp.float64),
                "lambda_max": jnp.asarray(jnp.nan, dtype=jnp.float64),
                "hvps": jnp.asarray(0, dtype=jnp.int64), "neg_steps": jnp.asarray(0, dtype=jnp.int64)}

    def converged(self, meas, thresh, aux):
        return (meas <= thresh) & aux["second_order"]

    def update(self, obj, x, f, g, aux, k, key, ctx):  # noqa: D102  (see the module docstring)
        hvp = lambda d: obj.hvp(x, d)  # noqa: E731
        radius = aux["radius"]
        gnorm = fro(g)
        small = gnorm <= ctx.thresh

        def newton(_):
            tol = gnorm * jnp.minimum(self.kappa, gnorm ** self.theta)
            p, Hp, its, _ = steihaug_cg(hvp, g, radius, tol, self.cg_max_iter)
            model = inner(g, p) + 0.5 * inner(p, Hp)
            nan = jnp.asarray(jnp.nan, dtype=x.dtype)
            return p, model, its, jnp.asarray(False), nan, nan

        def curvature(_):
            v0 = jax.random.normal(key, x.shape, dtype=x.dtype)
            lmin, lmax, u = lanczos_min(hvp, v0, self.lanczos_steps)
            negative = lmin < -self.curvature_tol * jnp.maximum(lmax, jnp.finfo(jnp.float64).tiny)
            sgn = jnp.where(inner(g, u) > 0, -1.0, 1.0)
            p = jnp.where(negative, sgn * radius * u, jnp.zeros_like(u))
            model = jnp.where(negative, inner(g, p) + 0.5 * lmin * radius * radius, 0.0)
            return p, model, jnp.asarray(self.lanczos_steps, dtype=jnp.int64), ~negative, lmin, lmax

        p, model, its, second_order, lmin, lmax = jax.lax.cond(small, curvature, newton, None)
        x_try = x + p
        f_try = obj.value(x_try)
        reg = 1e3 * _EPS * jnp.maximum(1.0, jnp.abs(f))
        rho = (f - f_try + reg) / (-model + reg)
        pnorm = fro(p)
        moved = pnorm > 0
        accept = moved & (rho > self.eta) & jnp.isfinite(f_try)
        at_boundary = pnorm >= 0.99 * radius
        new_radius = jnp.where(~moved, radius,
                               jnp.where((rho < 0.25) | ~jnp.isfinite(f_try), radius / 4.0,
                                         jnp.where((rho > 0.75) & at_boundary,
                                                   jnp.minimum(2.0 * radius, self.max_radius), radius)))
        x1 = jnp.where(accept, x_try, x)
        f1, g1 = jax.lax.cond(accept, lambda _: obj.value_and_grad(x_try), lambda _: (f, g), None)
        aux = {"radius": new_radius, "second_order": second_order & ~moved,
               "lambda_min": jnp.where(small, lmin, aux["lambda_min"]),
               "lambda_max": jnp.where(small, lmax, aux["lambda_max"]),
               "hvps": aux["hvps"] + its, "neg_steps": aux["neg_steps"] + (small & moved).astype(jnp.int64)}
        return x1, f1, g1, aux, jnp.where(accept, pnorm, 0.0)

    def summary(self, aux) -> dict[str, Any]:
        return {"radius": float(aux["radius"]), "second_order_checked": bool(aux["second_order"]),
                "lambda_min_estimate": float(aux["lambda_min"]), "lambda_max_estimate": float(aux["lambda_max"]),
                "hessian_vector_products": int(aux["hvps"]), "negative_curvature_steps": int(aux["neg_steps"])}
