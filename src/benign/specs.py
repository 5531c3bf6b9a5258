"""Compact spec strings for instances, losses and points (pure Python: no JAX import, fast errors).

Instances::

    sensing:n=20,r=2,m=200,seed=0            dense Gaussian sensing, symmetric M* = Z Z^T
    sensing:n=20,d2=30,r=2,m=400             asymmetric (d1 = n, d2) M* = L R^T
    sensing:n=20,r=2,m=200,op=rankone        rank-one projections
    sensing:...,truth=nonneg|gaussian|incoherent,cond=100
    sensing:...,noise=gaussian,sigma=0.01 | noise=outliers,p=0.1,outlier=gaussian|uniform|sign,scale=10
    completion:n=1000,r=3,rate=0.05,seed=1   (or count=50000; d2=... for rectangular)
    yalcin:n=7,eps=0.3                       the weighted-completion family (MATH.md §8)
    zsl-half                                 the delta = 1/2 two-dimensional operator (MATH.md §6)
    path/to/instance.npz                     a saved instance

Losses: ``l2``, ``lp:l=4``, ``mixed:lam=5,l=4``, ``l1``, ``huber:delta=1``; any of them takes ``scale=mean``.

Points: a file (``.npz``, ``.npy``, ``.csv``) or inline text: ``1,0,1`` is a vector (``r = 1``) and
``1,0;0,1;1,1`` a matrix with rows separated by ``;``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from benign.errors import (MAX_SEED, check_all_entries_fit, check_choice, check_dense_sensing_fits, check_file,
                           check_int, check_sampling_fits, check_truth_fits, suggest)


@dataclass(frozen=True)
class Spec:
    """A parsed instance spec: ``kind`` and validated ``params`` (or ``path`` for a file)."""

    kind: str
    params: dict = field(default_factory=dict)
    text: str = ""


def _as_int(key: str, v: str) -> int:
    """The integer the text denotes, exactly: digits of any size, or a decimal form such as ``1e3`` or ``10.0``
    read as an exact fraction (never through a float, which would turn a seed above 2^53, or ``1.0000000000000001``,
    into a neighbouring integer). Ranges are :func:`_check_ranges`'s."""
    text = v.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        q = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{key} must be an integer, got {v!r}") from None
    if q.denominator != 1 or "/" in text:
        raise ValueError(f"{key} must be an integer, got {v!r}")
    return int(q)


def _as_float(key: str, v: str) -> float:
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {v!r}") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"{key} must be finite, got {v!r}")
    if f == 0.0 and any(c in "123456789" for c in v.lower().split("e")[0]):
        raise ValueError(f"{key} = {v.strip()} underflows float64 to 0 (the smallest positive float64 is about "
                         f"5e-324)")
    return f


def _as_bool(key: str, v: str) -> bool:
    if v.lower() in ("1", "true", "yes", "on"):
        return True
    if v.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{key} must be a boolean (1/0/true/false), got {v!r}")


def _choice(*options: str) -> Callable[[str, str], str]:
    def conv(key: str, v: str) -> str:
        if v not in options:
            raise ValueError(f"{key} must be one of {', '.join(options)}, got {v!r}{suggest(v, options)}")
        return v
    return conv


_TRUTH = _choice("gaussian", "nonneg", "incoherent")
_NOISE = _choice("none", "gaussian", "outliers")
_OUTLIER = _choice("gaussian", "uniform", "sign")
_COMMON = {"r": _as_int, "seed": _as_int, "d2": _as_int, "truth": _TRUTH, "cond": _as_float,
           "noise": _NOISE, "sigma": _as_float, "p": _as_float, "outlier": _OUTLIER, "scale": _as_float,
           "tscale": _as_float}

INSTANCE_KEYS: dict[str, dict[str, Callable[[str, str], Any]]] = {
    "sensing": {"n": _as_int, "m": _as_int, "op": _choice("gaussian", "rankone"), "asym": _as_bool, **_COMMON},
    "completion": {"n": _as_int, "rate": _as_float, "count": _as_int, **_COMMON},
    "yalcin": {"n": _as_int, "eps": _as_float},
    "zsl-half": {},
}
REQUIRED = {"sensing": ("n", "m"), "completion": ("n",), "yalcin": ("n",), "zsl-half": ()}
LOSS_KEYS = {"l2": {}, "lp": {"l": _as_int}, "mixed": {"lam": _as_float, "l": _as_int}, "l1": {},
             "huber": {"delta": _as_float}}


def _split(text: str, what: str) -> tuple[str, dict[str, str]]:
    text = text.strip()
    if not text:
        raise ValueError(f"empty {what} spec")
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    items: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        if not eq or not key.strip() or not val.strip():
            raise ValueError(f"bad {what} spec item {part!r} in {text!r}: expected key=value")
        key = key.strip()
        if key in items:
            raise ValueError(f"duplicate key {key!r} in {what} spec {text!r}")
        items[key] = val.strip()
    return kind, items


def _convert(kind: str, items: dict[str, str], schema: dict, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in items.items():
        if key not in schema:
            valid = ", ".join(sorted(schema)) or "none"
            raise ValueError(f"unknown key {key!r} for {what} {kind!r}{suggest(key, schema)}; valid keys: {valid}")
        out[key] = schema[key](key, val)
    return out


def looks_like_path(text: str) -> bool:
    return os.path.sep in text or text.endswith((".npz", ".json")) or os.path.exists(text)


def _check_instance_file(path: str) -> None:
    """A cheap look at a saved instance (the zip directory of the ``.npz``, no array read): what
    :func:`benign.io.load_instance` would refuse for its format is refused here, before JAX is imported."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path!r} is not a benign instance file (not a .npz archive: {exc})") from None
    if "meta.npy" not in names:
        raise ValueError(f"{path!r} is not a benign instance file (no 'meta' entry)")


def parse_instance(text: str) -> Spec:
    """Parse and validate an instance spec (see the module docstring); raises ``ValueError`` naming the problem."""
    if not isinstance(text, str):
        raise TypeError(f"an instance spec must be a string, got {type(text).__name__}")
    if looks_like_path(text.strip()):
        path = text.strip()
        check_file(path, "instance file")
        _check_instance_file(path)
        return Spec("file", {"path": path}, text)
    kind, items = _split(text, "instance")
    if kind not in INSTANCE_KEYS:
        raise ValueError(f"unknown instance kind {kind!r}{suggest(kind, INSTANCE_KEYS)}; "
                         f"choose from {', '.join(INSTANCE_KEYS)} or a file path")
    params = _convert(kind, items, INSTANCE_KEYS[kind], "instance")
    for key in REQUIRED[kind]:
        if key not in params:
            raise ValueError(f"instance {kind!r} needs {key}=..., e.g. {EXAMPLES[kind]}")
    _check_ranges(kind, params)
    return Spec(kind, params, text)


def matrix_shape(spec: Spec) -> tuple[int, int, bool] | None:
    """``(d1, d2, symmetric)`` of the matrix the instance ``spec`` builds, known without building it; for a saved
    instance, from the file's metadata (``None`` when the file cannot say: reading it in full reports why)."""
    if spec.kind == "file":
        from benign.io import saved_matrix_shape

        return saved_matrix_shape(spec.params["path"])
    if spec.kind == "zsl-half":
        return 2, 2, True
    p = spec.params
    symmetric = p.get("d2") is None and not p.get("asym", False)
    return p["n"], p.get("d2", p["n"]), symmetric


def objective_nonnegative(spec: Spec, factorization: str | None = None) -> bool | None:
    """Whether :func:`benign.make_objective` constrains ``X >= 0`` by default for the instance ``spec`` (a generated
    ``truth=nonneg`` instance under the symmetric factorisation), known without building it; ``None`` for a saved
    instance (its file's ``nonnegative`` flag decides when it is loaded)."""
    shape = None if spec.kind == "file" else matrix_shape(spec)
    if shape is None:
        return None
    fact = factorization or ("symmetric" if shape[2] else "asymmetric")
    return spec.params.get("truth") == "nonneg" and bool(shape[2]) and fact == "symmetric"


def point_rows(spec: Spec, factorization: str | None = None) -> tuple[int, str] | None:
    """Rows ``N`` of a point for the instance ``spec`` builds, known without building it, and their name: ``n``
    (symmetric factorisation) or ``d1 + d2`` (asymmetric: ``d2`` given, ``asym=1``, a saved asymmetric truth, or
    ``factorization="asymmetric"``); ``None`` for a saved instance whose file cannot say (see :func:`matrix_shape`)
    or an unknown ``factorization`` (the objective reports it)."""
    shape = matrix_shape(spec)
    if shape is None or factorization not in (None, "symmetric", "asymmetric"):
        return None
    n, d2, symmetric = shape
    fact = factorization or ("symmetric" if symmetric else "asymmetric")
    if fact == "symmetric":
        return (n, "n") if d2 == n else None  # rectangular truth, symmetric factorisation: the objective says no
    return n + d2, "d1 + d2"


EXAMPLES = {"sensing": "sensing:n=20,r=2,m=200,seed=0", "completion": "completion:n=100,r=2,rate=0.3",
            "yalcin": "yalcin:n=7,eps=0.3", "zsl-half": "zsl-half"}


#: largest noise level or outlier size a spec accepts: the loss grows like its square and the gradient's squared
#: norm like its cube (the start's scale follows the data), which must stay finite in float64 (1e300 gave a loss of
#: inf; 1e110, a finite loss but an infinite gradient norm)
LARGEST_MEASUREMENT = 1e50


def check_magnitude(key: str, value: float) -> None:
    """``sigma``, ``scale`` (noise and outlier sizes) and ``tscale`` (the truth's scale, entering squared) at most
    :data:`LARGEST_MEASUREMENT` (its square root for ``tscale``, which must also be at least the inverse, else ``M*``
    underflows toward 0 and relative errors lose their meaning): larger ones overflow the loss or its gradient
    (``lp:l=4`` and other higher powers sooner; the instance builder checks the actual measurements as well)."""
    top = LARGEST_MEASUREMENT ** (0.5 if key == "tscale" else 1.0)
    if value > top:
        raise ValueError(f"{key} = {value:g} is too large: the loss or its gradient would overflow float64 "
                         f"(at most {top:g})")
    if key == "tscale" and value < 1.0 / top:  # (the noise may be as small as wanted: 0 is no noise)
        raise ValueError(f"tscale = {value:g} is too small: M* = tscale^2 F F^T, its loss and its gradient would "
                         f"underflow float64 (at least {1.0 / top:g})")


def _check_ranges(kind: str, p: dict[str, Any]) -> None:
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(msg)

    for key in ("n", "d2", "m", "r", "count"):  # sizes past int64 would overflow NumPy (and the checks below)
        if key in p:
            check_int(key, p[key])
    if "n" in p:
        need(p["n"] >= 1, f"n must be >= 1, got {p['n']}")
    if "d2" in p:
        need(p["d2"] >= 1, f"d2 must be >= 1, got {p['d2']}")
    if "m" in p:
        need(p["m"] >= 1, f"m must be >= 1, got {p['m']}")
    if "r" in p:
        need(p["r"] >= 1, f"r must be >= 1, got {p['r']}")
        dim = min(p["n"], p.get("d2", p["n"]))
        need(p["r"] <= dim, f"rank r = {p['r']} is larger than the dimension {dim}")
    if "seed" in p:
        need(0 <= p["seed"] <= MAX_SEED, f"seed must lie in [0, {MAX_SEED}], got {p['seed']}")
    if "d2" in p and p.get("asym") is False:
        raise ValueError("asym=0 asks for a symmetric instance, but d2 makes it asymmetric: drop one of them")
    if "p" in p:
        need(0.0 <= p["p"] < 1.0, f"p must lie in [0, 1), got {p['p']}")
    for key in ("sigma", "scale", "tscale"):
        if key in p:
            need(p[key] > 0, f"{key} must be > 0, got {p[key]}")
            check_magnitude(key, p[key])
    if "cond" in p:
        need(p["cond"] >= 1, f"cond (condition number of M*) must be >= 1, got {p['cond']}")
        need(p.get("truth") != "nonneg", "cond cannot be combined with truth=nonneg")
        need(p["cond"] == 1 or p.get("r", 1) >= 2,  # (r defaults to 1 in every generated instance)
             f"cond = {p['cond']:g} needs a truth of rank r >= 2 (a rank-1 M* has condition number 1)")
    if kind == "completion":
        need(("rate" in p) != ("count" in p), "completion needs exactly one of rate=... or count=...")
        if "rate" in p:
            need(0.0 < p["rate"] <= 1.0, f"rate must lie in (0, 1], got {p['rate']}")
        if "count" in p:
            total = p["n"] * p.get("d2", p["n"])
            need(1 <= p["count"] <= total, f"count must lie in [1, {total}], got {p['count']}")
    if kind == "yalcin":
        need(p["n"] >= 2, f"the weighted family needs n >= 2, got {p['n']}")
        eps = p.get("eps", 0.3)
        need(0.0 < eps <= 1.0, f"eps must lie in (0, 1], got {eps}")
    # instances that cannot fit in memory, before anything is drawn (and before JAX is imported)
    if kind == "sensing" and p.get("op", "gaussian") == "gaussian":
        check_dense_sensing_fits(p["m"], p["n"], p.get("d2", p["n"]), "d2" not in p and not p.get("asym", False))
    if kind == "completion":
        total = p["n"] * p.get("d2", p["n"])
        check_sampling_fits(p["count"] if "count" in p else int(p["rate"] * total), p["n"], p.get("d2", p["n"]))
    if kind in ("sensing", "completion"):
        check_truth_fits(max(p["n"], p.get("d2", p["n"])), p.get("r", 1))
    if kind == "yalcin":
        check_all_entries_fit(p["n"])
    if p.get("noise") == "gaussian" and "sigma" not in p:
        raise ValueError("noise=gaussian needs sigma=... (the standard deviation of the noise, > 0)")
    if p.get("noise") == "outliers" and "p" not in p:
        raise ValueError("noise=outliers needs p=... (corruption probability in [0, 1))")
    if p.get("noise", "none") != "outliers":
        for key in ("p", "outlier", "scale"):
            if key in p:
                raise ValueError(f"{key} applies to noise=outliers only (got noise={p.get('noise', 'none')!r})")
    if "sigma" in p and p.get("noise") != "gaussian":
        raise ValueError("sigma applies to noise=gaussian only")


def parse_loss(text: str):
    """Parse a loss spec into a :class:`benign.losses.Loss`."""
    from benign.losses import make_loss

    if not isinstance(text, str):
        raise TypeError(f"a loss spec must be a string, got {type(text).__name__}")
    kind, items = _split(text, "loss")
    check_choice("loss", kind, LOSS_KEYS)
    scale = items.pop("scale", "sum")
    params = _convert(kind, items, LOSS_KEYS[kind], "loss")
    return make_loss(kind, scale=scale, **params)


def parse_point_text(text: str):
    """Inline point: ``1,0,1`` (vector) or ``1,0;0,1`` (matrix, rows separated by ``;``) -> ndarray."""
    import numpy as np

    rows = [r for r in text.strip().split(";")]
    try:
        data = [[float(v) for v in r.split(",")] for r in rows]
    except ValueError:
        raise ValueError(f"cannot read point {text!r}: expected numbers like '1,0,1' or '1,0;0,1', "
                         f"or a .npz/.npy/.csv file") from None
    widths = [len(r) for r in data]
    if len(set(widths)) != 1:
        raise ValueError(f"point {text!r} has rows of different lengths {widths}")
    arr = np.asarray(data, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"point {text!r} contains a non-finite value")
    return arr[0] if len(data) == 1 else arr


def parse_point(text: str):
    """A point from a file (``.npz``/``.npy``/``.csv``) or inline text; returns an ndarray (1-D or 2-D)."""
    if not isinstance(text, str):
        raise TypeError(f"a point to parse must be a string (a file name or inline '1,0,1'), got {text!r}")
    text = text.strip()
    if os.path.exists(text) or text.endswith((".npz", ".npy", ".csv")):
        from benign.io import load_point

        return load_point(text)
    return parse_point_text(text)
