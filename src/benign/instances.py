"""Problem instances: ground truth, operator, noise and measurements ``b = A(M*) + s``.

Ground truth: ``M* = Z Z^T`` (symmetric, ``Z`` is ``n x r*``) or ``M* = L R^T`` (``d1 x d2``). Kinds:

* ``gaussian``: factors with i.i.d. ``N(0, 1)`` entries (times ``tscale``);
* ``nonneg``: absolute values of Gaussian factors (``M* >= 0`` entrywise, nonnegative factors);
* ``incoherent``: ``sqrt(n) Q`` with ``Q`` a Haar-random orthonormal ``n x r`` (incoherent w.h.p.);
* ``cond=kappa`` (with any kind but nonneg): singular values of ``M*`` spaced geometrically in ``[1/kappa, 1]``
  times the kind's scale, so ``M*`` has condition number exactly ``kappa``.

Noise: none; Gaussian ``sigma N(0, 1)``; outliers (Ma--Fattahi): each measurement is corrupted independently with
probability ``p`` by a value drawn from ``gaussian`` (``scale N(0,1)``), ``uniform`` (``U[-scale, scale]``) or
``sign`` (``+scale``); ``scale`` defaults to ``10 x RMS(A(M*))``. The corrupted indices are recorded.

Randomness: everything is drawn from NumPy's PCG64 seeded with the instance's ``seed``; the same seed gives the
same instance. Operator, truth and noise use independent child streams, so changing the noise keeps the operator.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from benign import operators as ops
from benign.errors import (check_all_entries_fit, check_array, check_bool, check_float, check_int, check_seed,
                           check_truth_fits)
from benign.operators import Operator
from benign.specs import Spec, check_magnitude, parse_instance


@dataclass(frozen=True)
class Instance:
    """A recovery problem. ``truth_right is None`` marks a symmetric problem (``M* = Z Z^T``, ``Z = truth_left``)."""

    operator: Operator
    b: np.ndarray
    truth_left: np.ndarray
    truth_right: np.ndarray | None = None
    noise: np.ndarray | None = None
    outlier_mask: np.ndarray | None = None
    nonnegative: bool = False
    name: str = "custom"
    meta: dict = field(default_factory=dict)

    @property
    def symmetric(self) -> bool:
        return self.truth_right is None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.operator.shape)

    @property
    def m(self) -> int:
        return self.operator.m

    @property
    def rank(self) -> int:
        """Rank of the ground-truth factorisation (``r*``)."""
        return int(self.truth_left.shape[1])

    @property
    def truth_point(self) -> np.ndarray:
        """The ground truth as a point of the objective (``Z``, or ``[L; R]`` stacked)."""
        return self.truth_left if self.symmetric else np.concatenate([self.truth_left, self.truth_right])

    def truth_matrix(self) -> np.ndarray:
        """Dense ``M*`` (small problems only)."""
        R = self.truth_left if self.symmetric else self.truth_right
        return self.truth_left @ R.T

    def padded_truth(self, r: int) -> np.ndarray:
        """The ground truth as a point of search rank ``r >= r*`` (zero columns appended)."""
        Z = self.truth_point
        r = check_int("r", r, minimum=1)
        if r < Z.shape[1]:
            raise ValueError(f"search rank {r} is below the truth's rank {Z.shape[1]}")
        return np.concatenate([Z, np.zeros((Z.shape[0], r - Z.shape[1]))], axis=1)

    @property
    def noiseless(self) -> bool:
        """True when no noise was added to ``b`` (no noise record, or an all-zero one)."""
        return self.noise is None or not bool(np.any(np.asarray(self.noise)))

    def describe(self) -> dict[str, Any]:
        """Sizes, operator kind, noise and truth information as a JSON-ready dict."""
        d1, d2 = self.shape
        out = {"name": self.name, "symmetric": self.symmetric, "n": d1, "d1": d1, "d2": d2, "m": self.m,
               "rank": self.rank, "operator": self.operator.kind, "operator_symmetric": self.operator.symmetric,
               "nonnegative": self.nonnegative,
               "noise": self.meta.get("noise", "none"),
               "outliers": int(self.outlier_mask.sum()) if self.outlier_mask is not None else 0,
               "truth_fro_norm": truth_fro_norm(self)}
        if self.noise is not None:
            out["noise_norm"] = float(np.linalg.norm(self.noise))
        out.update({k: v for k, v in self.meta.items() if k not in out})
        return out

    def objective(self, loss: Any = "l2", **kwargs):
        """Shortcut for :func:`benign.objective.make_objective`."""
        from benign.objective import make_objective

        return make_objective(self, loss, **kwargs)


def truth_fro_norm(inst: Instance) -> float:
    """``||M*||_F`` from the factors (no dense ``M*``)."""
    L = inst.truth_left
    R = L if inst.symmetric else inst.truth_right
    return float(np.sqrt(max(np.sum((L.T @ L) * (R.T @ R)), 0.0)))


def check_instance(inst: Any, name: str = "inst", *, optional: bool = False) -> Instance | None:
    """``inst`` when it is a benign :class:`Instance` (or ``None`` with ``optional``), else a ``TypeError`` naming
    ``name``."""
    if inst is None and optional:
        return None
    if not isinstance(inst, Instance):
        raise TypeError(f"{name} must be a benign Instance{' or None' if optional else ''} (e.g. benign.build(spec)), "
                        f"got {type(inst).__name__}")
    return inst


def factored_distance(inst: Instance, X: Any) -> float:
    """``||M(X) - M*||_F`` from the factors, in ``O((N + n) (r + r*)^2)`` (no ``n x n`` array, no cancellation).

    ``M(X) = X X^T`` (symmetric) or ``U V^T`` with ``X = [U; V]`` (asymmetric).
    """
    check_instance(inst)
    X = check_array("X", X, ndim=(1, 2))
    if X.ndim == 1:
        X = X[:, None]
    rows = inst.shape[0] if inst.symmetric else inst.shape[0] + inst.shape[1]
    if X.shape[0] != rows or X.shape[1] < 1:
        what = "n" if inst.symmetric else "d1 + d2"
        raise ValueError(f"X must have {rows} rows ({what}) and at least one column, got shape {X.shape}")
    L = inst.truth_left
    if inst.symmetric:
        U = V = X
        R = L
    else:
        d1 = inst.shape[0]
        U, V = X[:d1], X[d1:]
        R = inst.truth_right
    return product_distance(U, V, L, R)


def product_distance(U: np.ndarray, V: np.ndarray, L: np.ndarray, R: np.ndarray) -> float:
    """``||U V^T - L R^T||_F`` without forming either product and without cancellation: with thin QRs
    ``[U, L] = Q1 R1`` and ``[V, R] = Q2 R2``, ``U V^T - L R^T = Q1 (R1 J R2^T) Q2^T``, ``J = diag(I, -I)``."""
    R1 = np.linalg.qr(np.concatenate([U, L], axis=1), mode="r")
    R2 = np.linalg.qr(np.concatenate([V, R], axis=1), mode="r")
    sign = np.concatenate([np.ones(U.shape[1]), -np.ones(L.shape[1])])
    return float(np.linalg.norm((R1 * sign) @ R2.T))


def relative_error(inst: Instance, X: Any) -> float:
    """``||M(X) - M*||_F / ||M*||_F`` (absolute error when ``M* = 0``)."""
    d = factored_distance(inst, X)  # (checks both arguments)
    denom = truth_fro_norm(inst)
    return d / denom if denom > 0 else d


# ---------------------------------------------------------------------------------------- generators

def _rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """PCG64 generators of the operator, the truth and the noise: the children ``0, 1, 2`` of
    ``SeedSequence(seed)`` (``SeedSequence(seed, spawn_key=(i,))`` is what ``spawn`` returns, built directly; tested
    against ``spawn``)."""
    seed = check_seed(seed)
    gens = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(i,)))) for i in range(3)]
    return gens[0], gens[1], gens[2]


def make_truth(rng: np.random.Generator, d: int, r: int, kind: str = "gaussian", cond: float | None = None,
               scale: float = 1.0) -> np.ndarray:
    """One ``d x r`` factor of the ground truth (see the module docstring)."""
    d = check_int("n", d, minimum=1)
    r = check_int("r", r, minimum=1)
    if r > d:
        raise ValueError(f"rank r = {r} is larger than the dimension {d}")
    check_truth_fits(d, r)
    if kind == "gaussian":
        F = rng.standard_normal((d, r))
    elif kind == "nonneg":
        F = np.abs(rng.standard_normal((d, r)))
    elif kind == "incoherent":
        F = np.sqrt(d) * np.linalg.qr(rng.standard_normal((d, r)))[0]
    else:
        raise ValueError(f"unknown truth kind {kind!r}; choose gaussian, nonneg or incoherent")
    if cond is not None:
        cond = check_float("cond", cond, lo=1.0)
        if kind == "nonneg":
            raise ValueError("cond cannot be combined with truth=nonneg")
        if r == 1 and cond != 1.0:
            raise ValueError(f"cond = {cond:g} needs a truth of rank r >= 2 (a rank-1 M* has condition number 1)")
        Q = np.linalg.qr(F)[0]
        sv = np.geomspace(1.0, 1.0 / cond, r) if r > 1 else np.ones(1)
        F = Q * np.sqrt(sv) * np.sqrt(d)
    scale = check_float("tscale", scale, lo=0.0, lo_open=True)
    check_magnitude("tscale", scale)
    return scale * F


def _noise(rng: np.random.Generator, clean: np.ndarray, kind: str, sigma: float, p: float, outlier: str,
           scale: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    m = clean.shape[0]
    if kind not in ("none", "gaussian", "outliers"):
        raise ValueError(f"unknown noise {kind!r}; choose none, gaussian or outliers")
    # a setting of another noise model is an error (as in a spec string), not silently dropped
    if kind != "gaussian" and sigma:
        raise ValueError(f"sigma applies to noise='gaussian' only (got noise={kind!r}, sigma={sigma!r})")
    if kind != "outliers" and (p or scale is not None or outlier != "gaussian"):
        raise ValueError(f"p, scale and outlier apply to noise='outliers' only (got noise={kind!r}, p={p!r}, "
                         f"scale={scale!r}, outlier={outlier!r})")
    if kind == "none":
        return np.zeros(m), None
    if kind == "gaussian":
        if not sigma:
            raise ValueError("noise='gaussian' needs sigma > 0 (the standard deviation of the noise)")
        sigma = check_float("sigma", sigma, lo=0.0, lo_open=True)
        check_magnitude("sigma", sigma)
        return sigma * rng.standard_normal(m), None
    p = check_float("p", p, lo=0.0, hi=1.0, hi_open=True)
    mask = rng.random(m) < p
    if scale is None:
        scale = 10.0 * float(np.sqrt(np.mean(clean ** 2))) or 10.0
    else:
        scale = check_float("scale", scale, lo=0.0, lo_open=True)
        check_magnitude("scale", scale)
    if outlier == "gaussian":
        vals = scale * rng.standard_normal(m)
    elif outlier == "uniform":
        vals = rng.uniform(-scale, scale, m)
    elif outlier == "sign":
        vals = np.full(m, float(scale))
    else:
        raise ValueError(f"unknown outlier distribution {outlier!r}; choose gaussian, uniform or sign")
    return np.where(mask, vals, 0.0), mask


def _finish(operator: Operator, L: np.ndarray, R: np.ndarray | None, noise_rng: np.random.Generator,
            params: dict, name: str, nonnegative: bool, device: bool) -> Instance:
    """The instance of a host-built operator (NumPy arrays): ``b = A(L R^T) + s`` from the operator's factored
    forward map on NumPy inputs (it runs in NumPy), then the operator moved to the device
    in one call unless ``device=False``."""
    device = check_bool("device", device)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, with the cause named
        clean = np.asarray(operator.forward_factored(L, L if R is None else R))
    s, mask = _noise(noise_rng, clean, params.get("noise", "none"), params.get("sigma", 0.0),
                     params.get("p", 0.0), params.get("outlier", "gaussian"), params.get("scale"))
    meta = {k: v for k, v in params.items()}
    meta.setdefault("noise", "none")
    return Instance(ops.on_device(operator) if device else operator, _finite_b(clean, s), L, R, s, mask, nonnegative,
                    name, meta)


def _shape(n: int, d2: int | None, r: int, asym: bool) -> tuple[int, int, int, bool]:
    """Validated ``(n, d2, r, symmetric)``: symmetric unless ``d2`` is given or ``asym``."""
    n = check_int("n", n, minimum=1)
    symmetric = d2 is None and not check_bool("asym", asym)
    d2v = n if d2 is None else check_int("d2", d2, minimum=1)
    r = check_int("r", r, minimum=1)
    if r > min(n, d2v):
        raise ValueError(f"rank r = {r} is larger than the dimension {min(n, d2v)}")
    return n, d2v, r, symmetric


def _truth_pair(rng, n, d2, r, symmetric, truth, cond, tscale) -> tuple[np.ndarray, np.ndarray | None]:
    L = make_truth(rng, n, r, truth, cond, tscale)
    return L, (None if symmetric else make_truth(rng, d2, r, truth, cond, tscale))


def _optional(d2, symmetric, cond, noise, sigma, p, outlier, scale) -> dict:
    """The generator parameters worth recording (those that are set)."""
    vals = dict(d2=None if symmetric else d2, cond=cond, sigma=sigma or None, p=p or None,
                outlier=outlier if noise == "outliers" or outlier != "gaussian" else None, scale=scale)
    return {k: v for k, v in vals.items() if v is not None}


def sensing(n: int, r: int = 1, m: int | None = None, seed: int = 0, *, d2: int | None = None,
            asym: bool = False, op: str = "gaussian", truth: str = "gaussian", cond: float | None = None,
            tscale: float = 1.0, noise: str = "none", sigma: float = 0.0, p: float = 0.0,
            outlier: str = "gaussian", scale: float | None = None, device: bool = True) -> Instance:
    """Gaussian (or rank-one projection) sensing instance; asymmetric when ``d2`` is given or ``asym``.

    ``device=False`` keeps the operator's arrays in NumPy (see :mod:`benign.operators`); the numbers are the
    same either way."""
    if m is None:
        raise ValueError("sensing needs the number of measurements m")
    m = check_int("m", m, minimum=1)
    n, d2v, r, symmetric = _shape(n, d2, r, asym)
    op_rng, t_rng, n_rng = _rngs(seed)
    if op == "gaussian":
        operator = ops.gaussian_sensing(op_rng, m, n, d2v, symmetric, device=False)
    elif op == "rankone":
        operator = ops.rank_one_projections(op_rng, m, n, d2v, symmetric, device=False)
    else:
        raise ValueError(f"unknown sensing operator {op!r}; choose gaussian or rankone")
    L, R = _truth_pair(t_rng, n, d2v, r, symmetric, truth, cond, tscale)
    params = dict(kind="sensing", n=n, r=r, m=m, seed=seed, op=op, truth=truth, noise=noise)
    params.update(_optional(d2v, symmetric, cond, noise, sigma, p, outlier, scale))
    return _finish(operator, L, R, n_rng, params, f"sensing(n={n},r={r},m={m},seed={seed})",
                   truth == "nonneg" and symmetric, device)


def completion(n: int, r: int = 1, seed: int = 0, *, rate: float | None = None, count: int | None = None,
               d2: int | None = None, asym: bool = False, truth: str = "incoherent", cond: float | None = None,
               tscale: float = 1.0, noise: str = "none", sigma: float = 0.0, p: float = 0.0,
               outlier: str = "gaussian", scale: float | None = None, device: bool = True) -> Instance:
    """Matrix completion: entries sampled independently over the whole ``d1 x d2`` matrix (Bernoulli ``rate``
    or exactly ``count``), weight 1; ``O(|Omega|)`` memory at every step. ``device``: see :func:`sensing`."""
    n, d2v, r, symmetric = _shape(n, d2, r, asym)
    op_rng, t_rng, n_rng = _rngs(seed)
    rows, cols = ops.sample_entries(op_rng, n, d2v, rate=rate, count=count)
    operator = ops.entry_sampling(rows, cols, (n, d2v), device=False)
    L, R = _truth_pair(t_rng, n, d2v, r, symmetric, truth, cond, tscale)
    params = dict(kind="completion", n=n, r=r, m=int(rows.size), seed=seed, truth=truth, noise=noise)
    params.update({k: v for k, v in dict(rate=rate, count=count).items() if v is not None})
    params.update(_optional(d2v, symmetric, cond, noise, sigma, p, outlier, scale))
    return _finish(operator, L, R, n_rng, params, f"completion(n={n},r={r},m={rows.size},seed={seed})",
                   truth == "nonneg" and symmetric, device)


def yalcin(n: int, eps: float = 0.3, *, device: bool = True) -> Instance:
    """The weighted-completion family of Yalcin et al. 2022 (MATH.md §8), fully observed.

    ``w_ij = 1`` if ``i = j``, ``i = 2j`` or ``j = 2i`` (1-based), else ``eps``; the weight multiplies the residual,
    so the l2 loss is ``1/2 sum_ij (w_ij (x x^T - z z^T)_ij)^2`` with the plain sum. ``z = (1, 0, 1, 0, ...)``.
    """
    n = check_int("n", n, minimum=2)
    eps = check_float("eps", eps, lo=0.0, hi=1.0, lo_open=True)
    check_all_entries_fit(n)
    i, j = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1), indexing="ij")
    w = np.where((i == j) | (i == 2 * j) | (j == 2 * i), 1.0, eps)
    operator = ops.entry_sampling((i - 1).ravel(), (j - 1).ravel(), (n, n), w.ravel(), device=False)
    z = np.zeros((n, 1))
    z[0::2, 0] = 1.0
    params = dict(kind="yalcin", n=n, eps=eps, m=n * n, r=1)
    return _finish(operator, z, None, np.random.default_rng(0), params, f"yalcin(n={n},eps={eps:g})", False,
                   device)


def zsl_half(*, device: bool = True) -> Instance:
    """The ``delta = 1/2`` operator of Zhang--Sojoudi--Lavaei (MATH.md §6): ``n = 2``, ``Z = e1``,
    ``||A(M)||^2 = M11^2 + M11 M22 + M22^2 + 3 M12^2`` on symmetric ``M`` (kernel vanishing on antisymmetric ``M``).
    ``X = e2/sqrt(2)`` is a spurious, degenerate second-order point of the l2 loss."""
    H = np.zeros((4, 4))  # vec order (11, 12, 21, 22)
    H[0, 0] = H[3, 3] = 1.0
    H[0, 3] = H[3, 0] = 0.5
    H[1, 1] = H[2, 2] = H[1, 2] = H[2, 1] = 0.75
    operator = ops.from_kernel(H, device=False)
    Z = np.array([[1.0], [0.0]])
    params = dict(kind="zsl-half", n=2, r=1, m=operator.m, delta=0.5)
    return _finish(operator, Z, None, np.random.default_rng(0), params, "zsl-half", False, device)


def from_arrays(operator: Operator, truth_left: Any, truth_right: Any | None = None, *, noise: Any | None = None,
                outlier_mask: Any | None = None, nonnegative: bool = False, name: str = "custom",
                meta: dict | None = None) -> Instance:
    """An instance from user-given parts; ``b = A(M*) + noise``. All arrays are validated (shape, finiteness)."""
    if not isinstance(operator, Operator):
        raise TypeError(f"operator must be a benign Operator (see benign.operators), got {type(operator).__name__}")
    nonnegative = check_bool("nonnegative", nonnegative)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
    d1, d2 = operator.shape
    L = check_array("truth_left", truth_left, ndim=2, shape=(d1, None))
    if truth_right is None and d1 != d2:
        raise ValueError(f"a symmetric truth needs a square operator, got {operator.shape}")
    R = None if truth_right is None else check_array("truth_right", truth_right, shape=(d2, L.shape[1]))
    if L.shape[1] > min(d1, d2):
        raise ValueError(f"rank {L.shape[1]} is larger than the dimension {min(d1, d2)}")
    from benign._jax import jnp

    clean = np.asarray(operator.forward_factored(jnp.asarray(L), jnp.asarray(L if R is None else R)))
    s = np.zeros(operator.m) if noise is None else check_array("noise", noise, shape=(operator.m,))
    mask = None if outlier_mask is None else check_array("outlier_mask", outlier_mask, shape=(operator.m,), dtype=bool)
    m = dict(meta or {})
    m.setdefault("kind", "custom")
    m.setdefault("noise", "custom" if noise is not None else "none")
    if nonnegative and np.any(L < 0):
        raise ValueError("nonnegative=True needs a nonnegative truth factor")
    return Instance(operator, _finite_b(clean, s), L, R, s, mask, nonnegative, name, m)


def _finite_b(clean: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The measurements ``b = clean + noise``, refused when ``b`` or ``||b||^2`` is not finite (a truth, operator or
    noise so large that the loss at any point overflows float64); the message names the noise when it is the cause."""
    with np.errstate(over="ignore", invalid="ignore"):
        b = clean + noise
        if np.isfinite(np.dot(b, b)):  # also False when an entry is not finite
            return b
        noisy = bool(np.isfinite(np.dot(clean, clean)))  # the clean measurements alone are representable
    finite = b[np.isfinite(b)]
    what = (f"largest finite |entry| {float(np.max(np.abs(finite))):.3g}" if finite.size else
            "no entry is finite")
    cause = ("scale the noise down (sigma, or the outliers' scale)" if noisy
             else "scale the truth or the operator down")
    raise ValueError(f"the measurements b = A(M*) + noise overflow float64 ({what}; ||b||^2 and the loss are not "
                     f"finite): {cause}")


NOISE_KEYS = ("noise", "sigma", "p", "outlier", "scale")


def with_noise(inst: Instance, seed: int, **noise) -> Instance:
    """The same operator and truth with new noise (keys as in :func:`sensing`), drawn from the noise child stream
    of ``seed`` (so ``with_noise(sensing(..., seed=s), s, ...)`` equals ``sensing(..., seed=s, ...)``)."""
    check_instance(inst)
    unknown = sorted(set(noise) - set(NOISE_KEYS))
    if unknown:
        from benign.errors import suggest

        raise ValueError(f"unknown noise setting {unknown[0]!r}{suggest(unknown[0], NOISE_KEYS)}; "
                         f"settings: {', '.join(NOISE_KEYS)}")
    clean = inst.b - (inst.noise if inst.noise is not None else 0.0)
    rng = _rngs(seed)[2]
    s, mask = _noise(rng, clean, noise.get("noise", "none"), noise.get("sigma", 0.0), noise.get("p", 0.0),
                     noise.get("outlier", "gaussian"), noise.get("scale"))
    meta = {k: v for k, v in inst.meta.items() if k not in ("noise", "sigma", "p", "outlier", "scale")}
    meta.update({k: v for k, v in noise.items() if v is not None})
    meta.setdefault("noise", "none")
    return replace(inst, b=_finite_b(clean, s), noise=s, outlier_mask=mask, meta=meta)


BUILDERS = {"sensing": sensing, "completion": completion, "yalcin": yalcin}


def build(spec: str | Spec, *, device: bool = True) -> Instance:
    """Instance from a spec string (see :mod:`benign.specs`) or a parsed :class:`Spec`.

    ``device=False`` keeps the operator's arrays in NumPy (generated instances; a saved one is loaded as usual),
    e.g. to stack many small instances into one transfer per array (:func:`benign.solvers.solve_stacked`)."""
    if not isinstance(spec, (str, Spec)):
        raise TypeError(f"build needs a spec string such as 'sensing:n=10,r=2,m=150', got {type(spec).__name__}")
    sp = parse_instance(spec) if isinstance(spec, str) else spec
    if sp.kind == "file":
        from benign.io import load_instance

        return load_instance(sp.params["path"])
    if sp.kind == "zsl-half":
        return zsl_half(device=device)
    inst = BUILDERS[sp.kind](**sp.params, device=device)
    meta = dict(inst.meta)
    meta["spec"] = sp.text
    return replace(inst, meta=meta, name=sp.text)
