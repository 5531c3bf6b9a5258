"""The Burer--Monteiro objective: instance data + loss + factorisation.

Points are always one array ``X`` of shape ``(N, r)``:

* ``factorization="symmetric"``: ``N = n`` and ``M = X X^T``;
* ``factorization="asymmetric"``: ``X = [U; V]`` stacked, ``N = d1 + d2``, ``M = U V^T``, plus the optional
  balancing term ``(mu/4) ||U^T U - V^T V||_F^2``;
* ``nonnegative=True`` (symmetric only) marks the constraint ``X >= 0``; the objective's formulas are
  unchanged, solvers project and certificates use the KKT conditions.

``f(X) = c * sum_i psi(rho_i)`` with ``rho = A(M) - b`` and ``c`` the loss scaling.

Closed forms (MATH.md §3), ``S = c A*(psi'(rho))``:

* symmetric: ``grad = (S + S^T) X``; ``Hess[U] = (S' + S'^T) X + (S + S^T) U`` with
  ``S' = c A*(psi''(rho) * A(U X^T + X U^T))``;
* asymmetric: ``grad_U = S V + mu U B``, ``grad_V = S^T U - mu V B`` with ``B = U^T U - V^T V``;
  the HVP is the derivative of these along ``(dU, dV)``.

For the l1 loss ``grad`` returns the subgradient with ``sign(0) = 0`` and ``psi'' = 0``.
All methods are ``jit``-compiled; the objective is a pytree, so the same shapes never retrace.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_array, check_bool, check_float, check_nonnegative_point
from benign.losses import Loss, make_loss
from benign.operators import Operator, on_host

FACTORIZATIONS = ("symmetric", "asymmetric")


@partial(jax.tree_util.register_dataclass, data_fields=["operator", "b", "truth"],
         meta_fields=["loss", "factorization", "balance", "nonnegative"])
@dataclass(frozen=True)
class Objective:
    """``f(X)`` for one instance; see the module docstring for conventions. Build with :func:`make_objective`."""

    operator: Operator
    b: Any
    loss: Loss
    factorization: str = "symmetric"
    balance: float = 0.0
    nonnegative: bool = False
    truth: Any = None  # the ground truth as a point (Z, or [L; R]) when known; used for errors only

    # ---------------------------------------------------------------- shapes
    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.operator.shape)

    @property
    def rows(self) -> int:
        """``N``: rows of a point (``n``, or ``d1 + d2`` for the asymmetric factorisation)."""
        d1, d2 = self.shape
        return d1 if self.factorization == "symmetric" else d1 + d2

    @property
    def symmetric(self) -> bool:
        return self.factorization == "symmetric"

    def check_point(self, X: Any, name: str = "point", *, host: bool = False) -> jnp.ndarray | np.ndarray:
        """Validate and return ``X`` as a float64 ``(N, r)`` array; a vector is read as ``r = 1``; a nonnegative
        objective also requires ``X >= 0``. A JAX array, or with ``host=True`` a read-only NumPy copy (not a view of
        the caller's array, which may change later; no transfer to the device and back)."""
        arr = self._point_array(X, name)
        if self.nonnegative:
            check_nonnegative_point(name, arr)
        if not host:
            return jnp.asarray(arr)
        out = np.array(arr, dtype=np.float64, copy=True)
        out.flags.writeable = False
        return out

    def _point_array(self, X: Any, name: str) -> np.ndarray:
        arr = check_array(name, X, ndim=(1, 2))
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.shape[0] != self.rows:
            what = "n" if self.symmetric else "d1 + d2"
            raise ValueError(f"{name} must have {self.rows} rows ({what}), got shape {arr.shape}")
        if arr.shape[1] < 1:
            raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
        return arr

    def _arg(self, X: Any, name: str = "X", like: Any = None):
        """The input check of the methods below: a concrete ``X`` (NumPy array, list, JAX array) must be a finite real
        ``(N, r)`` array (a vector is read as ``r = 1``), and a direction must have the point's shape (``like``);
        traced values (inside ``jit``, ``vmap``, ``grad``) pass unchecked (tracing checks their shapes). Points
        outside ``X >= 0`` are allowed here (the loss is defined everywhere)."""
        if isinstance(X, jax.core.Tracer):
            return X
        arr = self._point_array(X, name)
        if like is not None and not isinstance(like, jax.core.Tracer) and arr.shape != np.shape(like):
            raise ValueError(f"{name} must have the point's shape {tuple(np.shape(like))}, got {arr.shape}")
        return jnp.asarray(arr)

    def _finite(self, X, out, what: str):
        """``out`` when every entry is finite; a ``ValueError`` when a finite (checked) point overflows float64 in
        ``what`` (e.g. ``|X| ~ 1e160``), instead of a silent NaN. Traced calls pass unchecked."""
        if isinstance(X, jax.core.Tracer) or isinstance(out, jax.core.Tracer):
            return out
        if not all(np.isfinite(np.asarray(v)).all() for v in jax.tree_util.tree_leaves(out)):  # one read-back each
            raise ValueError(f"{what} overflows float64 at this point (largest |entry| of X: "
                             f"{float(jnp.max(jnp.abs(X))):.3g}); rescale the problem or the point")
        return out

    def split(self, X):
        """``(U, V)`` with ``M = U V^T`` (``U = V = X`` in the symmetric case)."""
        if self.symmetric:
            return X, X
        return X[: self.shape[0]], X[self.shape[0]:]

    def matrix(self, X):
        """``M = X X^T`` or ``U V^T``."""
        U, V = self.split(X)
        return U @ V.T

    # ---------------------------------------------------------------- jitted API
    def residual(self, X):
        """``rho = A(M) - b``."""
        X = self._arg(X)
        return self._finite(X, _residual(self, X), "the residual")

    def value(self, X):
        X = self._arg(X)
        return self._finite(X, _value(self, X), "the loss")

    def grad(self, X):
        X = self._arg(X)
        return self._finite(X, _grad(self, X), "the gradient")

    def hvp(self, X, U):
        """Hessian-vector product ``nabla^2 f(X)[U]`` (closed form)."""
        X = self._arg(X)
        U = self._arg(U, "U", like=X)
        return self._finite(X, _hvp(self, X, U), "the Hessian-vector product")

    def hessian(self, X):
        """Dense Hessian on ``vec(X)`` (row-major), shape ``(N r, N r)``: ``H[:, k] = vec(Hess[e_k])``."""
        X = self._arg(X)
        return self._finite(X, _hessian(self, X), "the Hessian")

    def value_and_grad(self, X):
        X = self._arg(X)
        return self._finite(X, _value_and_grad(self, X), "the loss or its gradient")

    def distance(self, X):
        """``||M(X) - M*||_F`` from the factors (no ``n x n`` array); NaN when the truth is unknown."""
        X = self._arg(X)
        return _distance(self, X)

    def relative_error(self, X):
        """``||M(X) - M*||_F / ||M*||_F``; NaN when the truth is unknown."""
        X = self._arg(X)
        return _relative_error(self, X)

    # autodiff references (tests compare the closed forms against these)
    def grad_autodiff(self, X):
        X = self._arg(X)
        return _grad_ad(self, X)

    def hvp_autodiff(self, X, U):
        X = self._arg(X)
        U = self._arg(U, "U", like=X)
        return _hvp_ad(self, X, U)

    def with_loss(self, loss: Loss) -> "Objective":
        return replace(self, loss=loss)


# ---------------------------------------------------------------------- math (pure functions)

def check_objective(obj: Any, name: str = "obj") -> Objective:
    """``obj`` when it is a benign :class:`Objective`, else a ``TypeError`` naming ``name``."""
    if not isinstance(obj, Objective):
        raise TypeError(f"{name} must be a benign Objective (see benign.make_objective), got {type(obj).__name__}")
    return obj


def _balance_gap(obj: Objective, U, V):
    return U.T @ U - V.T @ V


def _residual_impl(obj: Objective, X):
    U, V = obj.split(X)
    return obj.operator.forward_factored(U, V) - obj.b


def _value_impl(obj: Objective, X):
    rho = _residual_impl(obj, X)
    val = obj.loss.factor(obj.operator.m) * jnp.sum(obj.loss.psi(rho))
    if not obj.symmetric and obj.balance > 0:
        U, V = obj.split(X)
        val = val + 0.25 * obj.balance * jnp.sum(_balance_gap(obj, U, V) ** 2)
    return val


def _weights(obj: Objective, X):
    rho = _residual_impl(obj, X)
    c = obj.loss.factor(obj.operator.m)
    return rho, c * obj.loss.dpsi(rho), c * obj.loss.d2psi(rho)


def _grad_impl(obj: Objective, X):
    _, w1, _ = _weights(obj, X)
    op = obj.operator
    if obj.symmetric:
        return op.adjoint_terms((w1,), (X,), (X,))
    U, V = obj.split(X)
    g = op.adjoint_terms((w1,), (V,), (U,), stack=True)  # [A*(w1) V; A*(w1)^T U]
    if obj.balance > 0:
        B = _balance_gap(obj, U, V)
        g = g + obj.balance * jnp.concatenate([U @ B, -(V @ B)], axis=0)
    return g


def _hvp_impl(obj: Objective, X, D):
    _, w1, w2 = _weights(obj, X)
    op = obj.operator
    if obj.symmetric:
        # A(D X^T + X D^T) in one pass over the operator
        dA = op.forward_factored(jnp.concatenate([D, X], axis=1), jnp.concatenate([X, D], axis=1))
        w = w2 * dA
        return op.adjoint_terms((w, w1), (X, D), (X, D))
    U, V = obj.split(X)
    dU, dV = obj.split(D)
    dA = op.forward_factored(jnp.concatenate([dU, U], axis=1), jnp.concatenate([V, dV], axis=1))  # A(dU V' + U dV')
    w = w2 * dA
    h = op.adjoint_terms((w, w1), (V, dV), (U, dU), stack=True)  # [A*(w) V + A*(w1) dV; A*(w)^T U + A*(w1)^T dU]
    if obj.balance > 0:
        B = _balance_gap(obj, U, V)
        dB = dU.T @ U + U.T @ dU - dV.T @ V - V.T @ dV
        h = h + obj.balance * jnp.concatenate([dU @ B + U @ dB, -(dV @ B + V @ dB)], axis=0)
    return h


class TruthBasis(NamedTuple):
    """Orthonormal bases of the truth's factors: ``L = QL RL``, ``R = QR RR`` (``QR = QL`` when symmetric)."""

    QL: Any
    RL: Any
    QR: Any
    RR: Any
    norm: Any  # ||M*||_F


def residual_change(obj: Objective, X, D):
    """``A(M(X + D)) - A(M(X))`` from the factors, ``A(dU V^T + U dV^T + dU dV^T)`` (never the difference of two
    residuals, which cancels when ``D`` is small against ``X`` or the data)."""
    U, V = obj.split(X)
    dU, dV = obj.split(D)
    op = obj.operator
    return op.forward_factored(dU, V) + op.forward_factored(U, dV) + op.forward_factored(dU, dV)


def _abs_change(a, d):
    """``|a + d| - |a| = d (2a + d) / (|a + d| + |a|)`` (0 where both are 0): no cancellation."""
    den = jnp.abs(a + d) + jnp.abs(a)
    return jnp.where(den > 0, d * (2.0 * a + d) / jnp.where(den > 0, den, 1.0), 0.0)


def _psi_change(loss: Loss, a, d):
    """``psi(a + d) - psi(a)`` per residual without cancellation: l2 ``d (a + d/2)``; lp (``l`` even)
    ``(|p| - |a|) sum_k |p|^k |a|^(l-1-k) / l`` with ``p = a + d`` (no alternating signs); mixed their sum; l1
    ``|p| - |a|``; huber by the pieces of the two ends (``k (|p| - k) + (k - |a|)(k + |a|) / 2`` across the kink,
    each term of one sign)."""
    p = a + d
    quad = d * (a + 0.5 * d)
    if loss.name == "l2":
        return quad
    if loss.name in ("lp", "mixed"):
        ap, aa = jnp.abs(p), jnp.abs(a)
        power = _abs_change(a, d) * sum(ap ** k * aa ** (loss.l - 1 - k) for k in range(loss.l)) / loss.l
        return power if loss.name == "lp" else quad + loss.lam * power
    if loss.name == "l1":
        return _abs_change(a, d)
    k = loss.huber_delta
    ap, aa = jnp.abs(p), jnp.abs(a)
    up = k * (ap - k) + 0.5 * (k - aa) * (k + aa)  # |a| <= k < |p|
    down = -(k * (aa - k) + 0.5 * (k - ap) * (k + ap))  # |p| <= k < |a|
    return jnp.where(aa <= k, jnp.where(ap <= k, quad, up), jnp.where(ap <= k, down, k * _abs_change(a, d)))


def loss_change(obj: Objective, X, D):
    """``(f(X + D) - f(X), size)`` without cancellation: per-residual changes of ``psi`` (:func:`_psi_change`) on
    :func:`residual_change`, and for the balancing term ``(mu/4) <dW, 2W + dW>`` with ``dW`` from the factors;
    ``size`` is the sum of the absolute terms, the scale of the rounding in the change (a change with
    ``|change| > 64 eps size`` is resolved). Traceable (used inside ``jit``/``vmap``)."""
    rho = _residual_impl(obj, X)
    c = obj.loss.factor(obj.operator.m)
    terms = _psi_change(obj.loss, rho, residual_change(obj, X, D))
    change, size = c * jnp.sum(terms), c * jnp.sum(jnp.abs(terms))
    if not obj.symmetric and obj.balance > 0:
        U, V = obj.split(X)
        dU, dV = obj.split(D)
        dW = dU.T @ U + U.T @ dU + dU.T @ dU - (dV.T @ V + V.T @ dV + dV.T @ dV)
        bal = 0.25 * obj.balance * dW * (2.0 * _balance_gap(obj, U, V) + dW)
        change, size = change + jnp.sum(bal), size + jnp.sum(jnp.abs(bal))
    return change, size


def values_and_changes(obj: Objective, X, Ds):
    """For a stack of displacements ``Ds`` (``(k, N, r)``): ``f(X + D_k)`` and :func:`loss_change` ``(change, size)``
    of each, as three length-``k`` arrays (the plain values beside the cancellation-free changes, as the escape checks
    report them). Traceable."""
    values = jax.vmap(lambda D: _value_impl(obj, X + D))(Ds)
    changes, sizes = jax.vmap(lambda D: loss_change(obj, X, D))(Ds)
    return values, changes, sizes


def truth_basis(obj) -> TruthBasis | None:
    """QR factors of the truth (computed once per run, outside the iteration)."""
    if obj.truth is None:
        return None
    L, R = obj.split(obj.truth)
    QL, RL = jnp.linalg.qr(L)
    if obj.symmetric:
        QR, RR = QL, RL
    else:
        QR, RR = jnp.linalg.qr(R)
    norm = jnp.sqrt(jnp.maximum(jnp.sum((L.T @ L) * (R.T @ R)), 0.0))
    return TruthBasis(QL, RL, QR, RR, norm)


def matrix_distance(obj, X, basis: TruthBasis | None = None):
    """``||M(X) - M*||_F`` without the cancellation of the Gram formula ``<M,M> - 2<M,M*> + <M*,M*>``.

    With ``L = QL RL``, ``R = QR RR`` (orthonormal ``QL``, ``QR``), ``PU = QL^T U``, ``EU = U - QL PU`` and likewise
    ``PV``, ``EV`` (symmetric: ``U = V = X``, ``L = R = Z``), the difference splits into four mutually orthogonal
    blocks, ``QL (PU PV^T - RL RR^T) QR^T + QL PU EV^T + EU PV^T QR^T + EU EV^T``, so
    ``||M - M*||_F^2 = ||PU PV^T - RL RR^T||^2 + <PU^T PU, EV^T EV> + <EU^T EU, PV^T PV> + <EU^T EU, EV^T EV>``: a sum
    of nonnegative terms from ``r x r`` matrices, accurate to ``eps ||M||`` at ``O(N r r*)`` cost (where the Gram
    formula loses everything below ``sqrt(eps) ||M||``). NaN when the truth is unknown.
    """
    if obj.truth is None:
        return jnp.asarray(jnp.nan, dtype=X.dtype)
    b = truth_basis(obj) if basis is None else basis
    U, V = obj.split(X)
    PU = b.QL.T @ U
    EU = U - b.QL @ PU
    if obj.symmetric:
        PV, EV = PU, EU
    else:
        PV = b.QR.T @ V
        EV = V - b.QR @ PV
    core = PU @ PV.T - b.RL @ b.RR.T
    gU, gV = EU.T @ EU, EV.T @ EV
    sq = jnp.sum(core * core) + jnp.sum((PU.T @ PU) * gV) + jnp.sum(gU * (PV.T @ PV)) + jnp.sum(gU * gV)
    return jnp.sqrt(jnp.maximum(sq, 0.0))


def relative_error(obj, X, basis: TruthBasis | None = None):
    """``||M(X) - M*||_F / ||M*||_F`` by :func:`matrix_distance` (the distance itself when ``M* = 0``; NaN without a
    truth)."""
    if obj.truth is None:
        return jnp.asarray(jnp.nan, dtype=X.dtype)
    b = truth_basis(obj) if basis is None else basis
    d = matrix_distance(obj, X, b)
    return jnp.where(b.norm > 0, d / jnp.where(b.norm > 0, b.norm, 1.0), d)


@jax.jit
def _distance(obj, X):
    return matrix_distance(obj, X)


@jax.jit
def _relative_error(obj, X):
    return relative_error(obj, X)


@jax.jit
def _residual(obj, X):
    return _residual_impl(obj, X)


@jax.jit
def _value(obj, X):
    return _value_impl(obj, X)


@jax.jit
def _grad(obj, X):
    return _grad_impl(obj, X)


@jax.jit
def _value_and_grad(obj, X):
    return _value_impl(obj, X), _grad_impl(obj, X)


@jax.jit
def _hvp(obj, X, D):
    return _hvp_impl(obj, X, D)


@jax.jit
def _hessian(obj, X):
    k = X.size
    basis = jnp.eye(k, dtype=X.dtype).reshape((k,) + X.shape)
    cols = jax.vmap(lambda E: _hvp_impl(obj, X, E).reshape(-1))(basis)
    H = cols.T
    return 0.5 * (H + H.T)


@jax.jit
def _grad_ad(obj, X):
    return jax.grad(lambda Y: _value_impl(obj, Y))(X)


@jax.jit
def _hvp_ad(obj, X, D):
    g = lambda Y: jax.grad(lambda Z: _value_impl(obj, Z))(Y)
    return jax.jvp(g, (X,), (D,))[1]


# ---------------------------------------------------------------------- constructor

def make_objective(instance: Any, loss: Loss | str | None = None, *, factorization: str | None = None,
                   balance: float = 0.0, nonnegative: bool | None = None) -> Objective:
    """Objective for an :class:`~benign.instances.Instance` and a loss (a :class:`Loss` or a spec string).

    ``factorization`` defaults to the instance's (symmetric for a symmetric truth); ``nonnegative`` defaults
    to the instance's flag (set for nonnegative truths) under the symmetric factorisation; ``balance`` is ``mu``
    (asymmetric only). The objective's truth point is the instance's, or ``[Z; Z]`` (balanced, ``U V^T = Z Z^T =
    M*``) for the asymmetric factorisation of a symmetric instance. The objective's arrays live where the operator's
    do (NumPy for an instance built with ``device=False``).
    """
    from benign.instances import check_instance
    from benign.specs import parse_loss

    check_instance(instance, "instance")
    if loss is None:
        loss = make_loss("l2")
    elif isinstance(loss, str):
        loss = parse_loss(loss)
    elif not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss or a spec string, got {type(loss).__name__}")
    if factorization is not None and factorization not in FACTORIZATIONS:  # ("" or 0 is not "the default")
        raise ValueError(f"factorization must be one of {FACTORIZATIONS} or None, got {factorization!r}")
    fact = factorization or ("symmetric" if instance.symmetric else "asymmetric")
    if fact not in FACTORIZATIONS:
        raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {fact!r}")
    if fact == "symmetric" and instance.shape[0] != instance.shape[1]:
        raise ValueError(f"a symmetric factorisation needs a square instance, got {instance.shape}")
    balance = check_float("balance", balance, lo=0.0)
    if balance and fact == "symmetric":
        raise ValueError("balance (mu) applies to the asymmetric factorisation only")
    if nonnegative is None:  # the instance's X >= 0, which belongs to its symmetric factorisation
        nn = instance.nonnegative and fact == "symmetric"
    else:
        nn = check_bool("nonnegative", nonnegative)
    if nn and fact != "symmetric":
        raise ValueError("the nonnegative constraint is implemented for the symmetric factorisation only")
    put = np.asarray if on_host(instance.operator) else jnp.asarray  # the objective lives where its operator does
    if fact == ("symmetric" if instance.symmetric else "asymmetric"):
        truth = put(instance.truth_point)
    elif instance.symmetric:  # the asymmetric factorisation of M* = Z Z^T: the balanced truth U = V = Z
        truth = put(np.concatenate([instance.truth_left, instance.truth_left]))
    else:
        truth = None
    return Objective(instance.operator, put(instance.b), loss, fact, balance, nn, truth)
