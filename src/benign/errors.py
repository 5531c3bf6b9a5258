"""Validation helpers: raise early, in plain Python, with the offending value named."""
from __future__ import annotations

import difflib
from typing import Any, Iterable

import numpy as np


def suggest(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix naming the closest valid choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(what: str, value: Any, choices: Iterable[str], extra: str = "") -> Any:
    """``value`` when it is one of ``choices``; else ``ValueError: unknown <what> <value> (did you mean ...?); choose
    from ...`` (``extra`` is appended to the list, e.g. ``" or all"``)."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}{suggest(str(value), choices)}; choose from "
                         f"{', '.join(choices)}{extra}")
    return value


#: the largest seed: JAX keys are made from a signed 64-bit integer
MAX_SEED = 2**63 - 1


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and ``value``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value if abs(value) <= MAX_SEED else _huge(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    if abs(value) > MAX_SEED:  # past int64: NumPy and JAX would fail deep inside (OverflowError)
        raise ValueError(f"{name} is out of the 64-bit integer range (got {_huge(value)})")
    return value


def _huge(value: int) -> str:
    """A huge integer described, not printed in full."""
    return f"{'a negative' if value < 0 else 'an'} integer of {len(str(abs(value)))} digits"


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed for NumPy and JAX generators: an integer in ``[0, 2**63 - 1]``."""
    return check_int(name, value, minimum=0, maximum=MAX_SEED)


def check_float(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` as a finite float in the stated interval, or raise naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value}")
    return value


def check_callable(name: str, value: Any, signature: str) -> Any:
    """``value`` if it is ``None`` or callable (e.g. a progress callback); ``TypeError`` naming it otherwise."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable {signature} or None, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (Python or NumPy); a string such as ``"false"`` is refused, not read as truthy."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_array(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
                shape: tuple[int | None, ...] | None = None, dtype: Any = np.float64) -> np.ndarray:
    """Return ``value`` as a finite NumPy array of ``dtype``; raise naming ``name`` otherwise.

    ``shape`` entries that are ``None`` are free.
    """
    if value is None or isinstance(value, str):
        raise TypeError(f"{name} must be a numeric array, got {value!r}")
    if isinstance(value, (list, tuple)):  # ragged nested lists: NumPy's "inhomogeneous shape", named here
        try:
            np.asarray(value)
        except ValueError as exc:
            raise ValueError(f"{name} must be a rectangular array, got ragged nested lists "
                             f"({str(exc).split('. ')[-1].rstrip('.')})") from None
    if np.dtype(dtype) != np.bool_ and (isinstance(value, (bool, np.bool_)) or getattr(value, "dtype", None) == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got booleans")
    if np.iscomplexobj(value) and not np.issubdtype(np.dtype(dtype), np.complexfloating):
        raise TypeError(f"{name} must be real, got a complex array")
    target = np.dtype(dtype)
    if target.kind in "iub":  # integers or booleans from other numbers: only exact values, never truncated
        raw = np.asarray(value)
        if raw.dtype.kind == "O":  # (a pandas object column, mixed lists): as numbers first
            try:
                raw = raw.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}: {exc}") from None
        if raw.dtype.kind == "f" or raw.dtype.kind in "iu" and target.kind == "b":
            bad = ~np.isfinite(raw) | (raw != np.round(raw)) if raw.dtype.kind == "f" else np.zeros(raw.shape, bool)
            if target.kind == "b":
                bad |= (raw != 0) & (raw != 1)
            if np.any(bad):
                at = np.argwhere(bad)[0]
                what = "0/1 or booleans" if target.kind == "b" else "integers"
                raise ValueError(f"{name} must hold {what}, got {raw[tuple(at)].item()!r} at index "
                                 f"{tuple(int(i) for i in at)}")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}: {exc}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                             f"got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains a non-finite value {float(arr[tuple(bad)])!r} at index "
                         f"{tuple(int(i) for i in bad)}")
    return arr


def check_nonnegative_point(name: str, arr: np.ndarray) -> None:
    """``ValueError`` naming the most negative entry of ``arr`` unless it is elementwise ``>= 0`` (a point of an
    objective with the constraint ``X >= 0``)."""
    if np.any(arr < 0):
        at = tuple(int(i) for i in np.unravel_index(int(np.argmin(arr)), arr.shape))
        raise ValueError(f"{name} must be elementwise nonnegative (the objective has the constraint X >= 0), got "
                         f"min {arr.min():.3g} at index {at}")


def _bytes(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    k = 0
    while n >= 1024 and k < len(units) - 1:
        n, k = n / 1024, k + 1
    return f"{n:.3g} {units[k]}"


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (``None`` where the platform does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(what: str, nbytes: float, hint: str = "") -> None:
    """Raise ``ValueError`` before allocating when ``nbytes`` (a lower bound on what ``what`` needs) exceeds this
    machine's physical memory, naming both sizes (instead of NumPy's MemoryError from deep inside)."""
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{what} needs at least {_bytes(nbytes)} of memory, more than this machine's "
                         f"{_bytes(total)}{'; ' + hint if hint else ''}")


def check_rank_batch_fits(d1: int, d2: int, m: int | None, k: int, count: int, what: str, hint: str) -> None:
    """:func:`check_fits` for ``count`` rank-``k`` factored ``d1 x d2`` matrices (``U``, ``S``, ``V``) evaluated at
    once through an operator with ``m`` measurements: each at least its factors and its measurements, in float64
    (``m = None`` when not known yet: the factors alone, a lower bound)."""
    sizes = f"rank {k}, {d1} x {d2}" + ("" if m is None else f", m = {m}")
    check_fits(f"{count} {what} ({sizes})", 8.0 * count * ((d1 + d2) * k + k * k + (m or 0)), hint)


def check_dense_sensing_fits(m: int, d1: int, d2: int, symmetric: bool) -> None:
    """:func:`check_fits` for drawing dense Gaussian sensing: ``m`` matrices ``d1 x d2`` in float64, and for a
    symmetric operator its symmetrised copy while the draw is alive."""
    check_fits(f"dense Gaussian sensing with m = {m} matrices of size {d1} x {d2}",
               8.0 * m * d1 * d2 * (2 if symmetric else 1),
               "use fewer measurements, a smaller n, op=rankone (O(m n) memory) or completion")


def check_sampling_fits(count: int, d1: int, d2: int) -> None:
    """:func:`check_fits` for sampling ``count`` distinct entries of a ``d1 x d2`` matrix (indices and their
    row/column split in int64; a permutation of all entries when more than half are sampled)."""
    total = d1 * d2
    check_fits(f"sampling {count} entries of a {d1} x {d2} matrix",
               8.0 * (total if count > total // 2 else 3 * count), "use a smaller rate, count or n")


def check_truth_fits(rows: int, r: int) -> None:
    """:func:`check_fits` for a ground-truth factor of ``rows x r``: four float64 copies (drawn, scaled, kept on the
    host and on the device; building ``completion:n=1e8,rate=1e-10`` peaks at about five)."""
    check_fits(f"a ground-truth factor of {rows} x {r}", 4 * 8.0 * rows * r, "use a smaller n or r")


def check_rank_fits(r: int, rows: int = 0) -> None:
    """:func:`check_fits` for a search rank ``r``: the ``rows x r`` iterate and gradient, and the ``r x r`` Gram
    matrices of the distance to the truth and of the scaled methods (three of each, a lower bound); ``rows = 0``
    when the point's rows are not known yet (the Gram matrices alone)."""
    check_fits(f"search rank {r}", 8.0 * (3 * rows * r + 3 * r * r),
               "a rank above the number of rows N adds nothing (X X^T has rank <= N)")


def check_all_entries_fit(n: int) -> None:
    """:func:`check_fits` for observing every entry of an ``n x n`` matrix (row and column indices, weights and the
    measurements: four arrays of ``n^2`` numbers)."""
    check_fits(f"observing all n^2 = {n * n} entries of an n x n matrix with n = {n}", 4 * 8.0 * n * n,
               "use a smaller n")


def check_path(path: Any, what: str = "path") -> str:
    """``path`` as a string (a ``str`` or an ``os.PathLike``); ``TypeError`` naming ``what`` otherwise."""
    import os

    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{what} must be a path (a string), got {path!r}")
    return path


def check_file(path: str, what: str = "file") -> str:
    """``path`` if it names an existing file; else a ``ValueError`` that says whether it is a folder or missing (a
    ``TypeError`` when it is not a path at all)."""
    import os

    path = check_path(path, what)
    if not os.path.isfile(path):
        raise ValueError(f"{what} {path!r} is a folder, not a file" if os.path.isdir(path) else
                         f"{what} {path!r} does not exist")
    return path
