"""Losses on the residual ``rho = A(M) - b``: ``f = c * sum_i psi(rho_i)``.

Scaling ``c`` is ``1`` (``scale="sum"``, the default, as in seed 001's slides) or ``1/m``
(``scale="mean"``, as in the authors' code and Ma--Fattahi).

=========  ==========================  ==============================  ===============================
name       psi(t)                      psi'(t)                         psi''(t)
=========  ==========================  ==============================  ===============================
l2         t^2/2                       t                               1
lp (l)     t^l/l  (l >= 4 even)        t^(l-1)                         (l-1) t^(l-2)
mixed      t^2/2 + lam t^l/l           t + lam t^(l-1)                 1 + lam (l-1) t^(l-2)
l1         |t|                         sign(t)  (0 at 0: a subgradient) 0 (almost everywhere)
huber (k)  t^2/2 if |t|<=k else        clip(t, -k, k)                  1 if |t| <= k else 0
           k(|t| - k/2)
=========  ==========================  ==============================  ===============================

A :class:`Loss` is hashable and static under ``jit``.
"""
from __future__ import annotations

from dataclasses import dataclass

from benign.errors import check_choice, check_float, check_int


def _jnp():
    """JAX numpy, imported on first use so that parsing and validating a loss (the CLI) never imports JAX."""
    from benign._jax import jnp

    return jnp

LOSS_NAMES = ("l2", "lp", "mixed", "l1", "huber")
#: the smallest huber ``delta`` accepted: far below any residual scale, far above float64's underflow
HUBER_DELTA_MIN = 1e-100
SCALES = ("sum", "mean")


@dataclass(frozen=True)
class Loss:
    """A residual loss ``psi`` with its scaling; build with :func:`make_loss`. Validated on construction by the rules
    of :func:`make_loss`, and a parameter of another loss must keep its default (``lam`` is mixed's, ``l`` lp's and
    mixed's, ``huber_delta`` huber's): ``Loss(name="l2", lam=5)`` is refused, not an l2 loss."""

    name: str = "l2"
    l: int = 4
    lam: float = 0.0
    huber_delta: float = 1.0
    scale: str = "sum"

    def __post_init__(self) -> None:
        check_choice("loss", self.name, LOSS_NAMES)
        if self.scale not in SCALES:
            raise ValueError(f"loss scale must be 'sum' or 'mean', got {self.scale!r}")
        l = check_int("l", self.l, minimum=2)
        lam = check_float("lam", self.lam, lo=0.0)
        delta = check_float("huber_delta", self.huber_delta, lo=0.0, lo_open=True)
        if self.name in ("lp", "mixed"):
            if l % 2:
                raise ValueError(f"l must be an even integer, got {l}")
            if self.name == "lp" and l < 4:
                raise ValueError(f"lp needs l >= 4 (l = 2 is the l2 loss), got {l}")
        elif l != 4:
            raise ValueError(f"l applies to the lp and mixed losses, not {self.name}: got l = {l}")
        if self.name != "mixed" and lam != 0.0:
            raise ValueError(f"lam applies to the mixed loss, not {self.name}: got lam = {lam:g}")
        if self.name == "huber" and delta < HUBER_DELTA_MIN:  # |psi'| <= delta: the gradient would underflow to 0
            raise ValueError(f"huber delta must be >= {HUBER_DELTA_MIN:g} (the gradient, at most delta in size per "
                             f"measurement, would underflow to zero and every start would look critical), got "
                             f"{delta:g}")
        if self.name != "huber" and delta != 1.0:
            raise ValueError(f"huber_delta applies to the huber loss, not {self.name}: got {delta:g}")
        object.__setattr__(self, "l", l)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "huber_delta", delta)

    @property
    def smooth(self) -> bool:
        """True when ``psi`` is twice continuously differentiable (l2, lp, mixed)."""
        return self.name in ("l2", "lp", "mixed")

    @property
    def convex(self) -> bool:
        return True  # every loss offered here is convex in the residual

    def psi(self, t):
        if self.name == "l2":
            return 0.5 * t * t
        if self.name == "lp":
            return t ** self.l / self.l
        if self.name == "mixed":
            return 0.5 * t * t + self.lam * t ** self.l / self.l
        jnp = _jnp()
        if self.name == "l1":
            return jnp.abs(t)
        k = self.huber_delta
        a = jnp.abs(t)
        return jnp.where(a <= k, 0.5 * t * t, k * (a - 0.5 * k))

    def dpsi(self, t):
        if self.name == "l2":
            return t
        if self.name == "lp":
            return t ** (self.l - 1)
        if self.name == "mixed":
            return t + self.lam * t ** (self.l - 1)
        if self.name == "l1":
            return _jnp().sign(t)
        return _jnp().clip(t, -self.huber_delta, self.huber_delta)

    def d2psi(self, t):
        jnp = _jnp()
        if self.name == "l2":
            return jnp.ones_like(t)
        if self.name == "lp":
            return (self.l - 1) * t ** (self.l - 2)
        if self.name == "mixed":
            return 1.0 + self.lam * (self.l - 1) * t ** (self.l - 2)
        if self.name == "l1":
            return jnp.zeros_like(t)
        return jnp.where(jnp.abs(t) <= self.huber_delta, 1.0, 0.0)

    def factor(self, m: int) -> float:
        """The scaling constant ``c``: 1 (sum) or ``1/m`` (mean)."""
        return 1.0 if self.scale == "sum" else 1.0 / m

    def describe(self) -> str:
        if self.name == "lp":
            core = f"lp:l={self.l}"
        elif self.name == "mixed":
            core = f"mixed:lam={self.lam:g},l={self.l}"
        elif self.name == "huber":
            core = f"huber:delta={self.huber_delta:g}"
        else:
            core = self.name
        if self.scale != "sum":
            core += ("," if ":" in core else ":") + f"scale={self.scale}"
        return core


def make_loss(name: str = "l2", *, l: int = 4, lam: float = 0.0, delta: float = 1.0,
              scale: str = "sum") -> Loss:
    """Validated constructor: ``l`` even and ``>= 4`` (``lp``) or ``>= 2`` (mixed), ``lam >= 0``, ``delta > 0`` (huber:
    ``>= HUBER_DELTA_MIN``). Each parameter is checked, and kept only by the loss it belongs to (``make_loss("l2",
    lam=5)`` is the l2 loss; a saved loss record passes every field)."""
    check_choice("loss", name, LOSS_NAMES)
    l = check_int("l", l, minimum=2)
    lam = check_float("lam", lam, lo=0.0)
    delta = check_float("delta", delta, lo=0.0, lo_open=True)
    return Loss(name=name, l=l if name in ("lp", "mixed") else 4, lam=lam if name == "mixed" else 0.0,
                huber_delta=delta if name == "huber" else 1.0, scale=scale)
