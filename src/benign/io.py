"""Instance and point files.

Format (version 1): one ``.npz`` file, loaded with ``allow_pickle=False``, holding

* ``meta``: a JSON string with ``format = "benign-instance"``, ``version``, the operator's ``kind``, ``shape`` and
  ``symmetric`` flag, ``nonnegative``, ``name`` and the generator's parameters;
* ``op_<name>``: the operator's arrays (``op_A`` is ``(m, d1*d2)`` row-major ``vec(A_i)`` for dense operators;
  ``op_rows``, ``op_cols``, ``op_weights`` for completion; ``op_a``, ``op_c`` for rank-one projections);
* ``b`` (measurements), ``truth_left`` and optionally ``truth_right``, ``noise``, ``outlier_mask``;
* optionally ``point`` (a point of the objective, e.g. a solver's output) and other ``point_<name>`` arrays;
* with a point, optionally ``meta["objective"]``: the objective it is a point of -- the loss (``name``, ``l``,
  ``lam``, ``delta``, ``scale`` and the spec ``text``), ``factorization``, ``balance`` and ``nonnegative`` -- so that
  ``benign certify FILE`` judges the point by the loss that produced it (:func:`saved_objective`).

Everything in it can be re-read with NumPy alone: ``A(M)_i = sum_jk A[i, j*d2 + k] M[j, k]``.
"""
from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from benign.atomic import atomic_path
from benign.errors import check_array, check_file, check_path
from benign.serialize import to_jsonable

FORMAT = "benign-instance"
VERSION = 1


def save_instance(path: str, inst, point: Any | None = None, extra: dict[str, Any] | None = None,
                  objective: Any | None = None) -> str:
    """Write ``inst`` (and optionally ``point``, named ``extra`` arrays and, with a point, the settings of the
    :class:`~benign.objective.Objective` it belongs to) to ``path`` (``.npz`` is appended when missing). Everything
    is checked before the file is written: a point must be finite with the rows of the instance's factorisation (or
    of ``objective``'s, which must be an objective of this instance's shape and measurements)."""
    path = check_path(path, "path")
    from benign.instances import check_instance

    check_instance(inst)
    if objective is not None:
        from benign.objective import check_objective

        check_objective(objective, "objective")
        if tuple(objective.shape) != tuple(inst.shape) or objective.operator.m != inst.m:
            raise ValueError(f"objective ({objective.shape[0]} x {objective.shape[1]}, m = {objective.operator.m}) "
                             f"does not belong to the instance ({inst.shape[0]} x {inst.shape[1]}, m = {inst.m})")
    if point is not None:
        point = check_array("point", point, ndim=(1, 2))
        rows = ({objective.rows} if objective is not None else
                {inst.shape[0], 2 * inst.shape[0]} if inst.symmetric else {inst.shape[0] + inst.shape[1]})
        if point.shape[0] not in rows or point.size == 0:
            raise ValueError(f"point must have {' or '.join(map(str, sorted(rows)))} rows (the factorisation's) and "
                             f"at least one column, got shape {point.shape}")
    extra = {k: check_array(f"extra[{k!r}]", v) for k, v in (extra or {}).items()}
    if not path.endswith(".npz"):
        path = path + ".npz"
    op = inst.operator
    meta = {"format": FORMAT, "version": VERSION, "operator": op.kind, "shape": list(op.shape),
            "operator_symmetric": bool(op.symmetric), "nonnegative": bool(inst.nonnegative), "name": inst.name,
            "params": to_jsonable(inst.meta)}
    if objective is not None and point is not None:
        meta["objective"] = objective_settings(objective)
    arrays: dict[str, np.ndarray] = {f"op_{k}": v for k, v in op.arrays().items()}
    arrays["b"] = np.asarray(inst.b, dtype=float)
    arrays["truth_left"] = np.asarray(inst.truth_left, dtype=float)
    if inst.truth_right is not None:
        arrays["truth_right"] = np.asarray(inst.truth_right, dtype=float)
    if inst.noise is not None:
        arrays["noise"] = np.asarray(inst.noise, dtype=float)
    if inst.outlier_mask is not None:
        arrays["outlier_mask"] = np.asarray(inst.outlier_mask, dtype=bool)
    if point is not None:
        arrays["point"] = np.asarray(point, dtype=float)
    for k, v in (extra or {}).items():
        arrays[f"point_{k}"] = np.asarray(v, dtype=float)
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def objective_settings(obj) -> dict[str, Any]:
    """The settings that make an objective from its instance (JSON): loss parameters, factorisation, balance, sign."""
    loss = obj.loss
    return {"loss": {"name": loss.name, "l": int(loss.l), "lam": float(loss.lam), "delta": float(loss.huber_delta),
                     "scale": loss.scale, "text": loss.describe()},
            "factorization": obj.factorization, "balance": float(obj.balance), "nonnegative": bool(obj.nonnegative)}


def saved_objective(path: str) -> dict[str, Any] | None:
    """The objective settings stored with a point by :func:`save_instance` (``None`` when the file has none), as
    keyword arguments of :func:`~benign.objective.make_objective`: ``loss`` (a :class:`~benign.losses.Loss`),
    ``factorization``, ``balance``, ``nonnegative``. ``ValueError`` when ``path`` is no benign instance file."""
    from benign.errors import check_bool, check_choice, check_float
    from benign.losses import make_loss

    rec = _instance_meta(_open(path), path).get("objective")
    if rec is None:
        return None
    try:
        lo = rec["loss"]
        loss = make_loss(lo["name"], l=lo["l"], lam=lo["lam"], delta=lo["delta"], scale=lo["scale"])
        return {"loss": loss,
                "factorization": check_choice("factorization", rec["factorization"], ("symmetric", "asymmetric")),
                "balance": check_float("balance", rec["balance"], lo=0.0),
                "nonnegative": check_bool("nonnegative", rec["nonnegative"])}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r}: corrupt objective record in its metadata: {exc}") from None


def holds_point(path: str) -> bool:
    """Whether an ``.npz`` file holds an array ``point`` (as :func:`save_instance` writes it)."""
    data = _open(path)
    return hasattr(data, "files") and "point" in data.files


def _instance_meta(data, path: str) -> dict[str, Any]:
    """The validated ``meta`` record of an opened instance file; ``ValueError`` naming the file otherwise."""
    if not hasattr(data, "files") or "meta" not in data.files:
        raise ValueError(f"{path!r} is not a benign instance file (no 'meta' entry)")
    try:
        meta = json.loads(str(data["meta"]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r}: corrupt metadata: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a benign instance file (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("version", 0) > VERSION:
        raise ValueError(f"{path!r} has format version {meta['version']}, newer than this benign ({VERSION})")
    return meta


def _open(path: str):
    check_file(path)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 -- any reader failure is a bad file
        # NumPy reads an unknown format as a pickle and refuses it: say what the file is not
        why = "not a NumPy .npz/.npy file" if "pickle" in str(exc) else str(exc)
        ext = os.path.splitext(path)[1]
        if ext.lower() not in (".npz", ".npy"):  # read as NumPy for want of a known extension
            why += f" (files are read by extension: .npz, .npy, or .csv for points; {ext or 'no extension'} is read " \
                   f"as .npz/.npy)"
        raise ValueError(f"cannot read {path!r} as .npz/.npy: {why}") from None


def _operator_arrays(data, meta: dict, path: str
                     ) -> tuple[str, tuple[int, int], bool, dict[str, np.ndarray], int]:
    """The operator's kind, shape, symmetric flag, arrays (each checked: present, real and finite, float64; integer
    indices within the shape) and number of measurements ``m`` (every kind's arrays have one row per measurement);
    ``ValueError`` naming the file and the entry otherwise."""
    from benign.operator_kinds import SAVED_ARRAYS

    for key in ("operator", "shape", "operator_symmetric"):
        if key not in meta:
            raise ValueError(f"{path!r}: its metadata lacks {key!r} (not a complete benign instance file)")
    kind, shape = meta["operator"], meta["shape"]
    if kind not in SAVED_ARRAYS:
        raise ValueError(f"{path!r}: unknown operator kind {kind!r} (expected one of {', '.join(SAVED_ARRAYS)})")
    if not _valid_shape(shape):
        raise ValueError(f"{path!r}: metadata shape must be two integers >= 1, got {shape!r}")
    arrays = {}
    for name, index in SAVED_ARRAYS[kind].items():
        key = f"op_{name}"
        if key not in data.files:
            raise ValueError(f"{path!r}: missing entry {key!r} (the {kind} operator needs it)")
        v = data[key]
        if index:
            if v.dtype.kind not in "iu" or v.ndim != 1:
                raise ValueError(f"{path!r}: {key} must be a 1-D integer array, got {v.dtype} of shape {v.shape}")
            side = shape[0] if name == "rows" else shape[1]
            if v.size and (v.min() < 0 or v.max() >= side):
                raise ValueError(f"{path!r}: {key} holds indices outside 0..{side - 1}")
            arrays[name] = v
        else:  # float64, real and finite whatever the file stored (float32 or complex are converted or refused)
            arrays[name] = check_array(f"{key} in {path}", v)
    d1, d2 = shape
    if "A" in arrays:
        check_array(f"op_A in {path}", arrays["A"], shape=(None, d1 * d2))
    elif kind == "completion":
        size = arrays["rows"].shape[0]
        check_array(f"op_weights in {path}", arrays["weights"], shape=(size,))
        if arrays["cols"].shape != (size,):
            raise ValueError(f"{path!r}: op_rows and op_cols must have the same length, got {size} and "
                             f"{arrays['cols'].shape[0]}")
    else:
        check_array(f"op_a in {path}", arrays["a"], shape=(None, d1))
        check_array(f"op_c in {path}", arrays["c"], shape=(arrays["a"].shape[0], d2))
    from benign.errors import check_bool

    try:
        symmetric = check_bool("operator_symmetric", meta["operator_symmetric"])
    except TypeError as exc:
        raise ValueError(f"{path!r}: metadata {exc}") from None
    if symmetric and d1 != d2:
        raise ValueError(f"{path!r}: a symmetric operator needs a square shape, got {d1} x {d2}")
    m = next(iter(arrays.values())).shape[0]
    if m < 1:
        raise ValueError(f"{path!r}: the operator has no measurement (m = 0)")
    return kind, (d1, d2), symmetric, arrays, m


def saved_matrix_shape(path: str) -> tuple[int, int, bool] | None:
    """``(d1, d2, symmetric)`` of the matrix of a saved instance, from its metadata and the names of its entries (no
    array is read: the command-line checks a point against it before anything is built); ``None`` when the file
    cannot say (then :func:`load_instance` names what is wrong with it)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            shape = _instance_meta(data, path).get("shape")
            symmetric = "truth_right" not in data.files
    except Exception:  # noqa: BLE001 -- any failure: the full reading reports it
        return None
    return (shape[0], shape[1], symmetric) if _valid_shape(shape) else None


def _valid_shape(shape: Any) -> bool:
    """The metadata's ``shape``: a list of two integers ``>= 1``."""
    return (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape))


def load_instance(path: str):
    """Read an instance written by :func:`save_instance`; validates the format and every array (present, real,
    finite, float64, of the sizes the operator and the shape imply), naming the file and the entry at fault."""
    data = _open(path)
    meta = _instance_meta(data, path)
    kind, shape, symmetric, op_arrays, m = _operator_arrays(data, meta, path)

    def entry(key: str, required: bool = True):
        if key in data.files:
            return data[key]
        if required:
            raise ValueError(f"{path!r}: missing entry {key!r} (not a complete benign instance file)")
        return None

    b = check_array(f"b in {path}", entry("b"), ndim=1)
    if b.shape[0] != m:
        raise ValueError(f"{path!r}: b has {b.shape[0]} entries but the operator has m = {m}")
    L = check_array(f"truth_left in {path}", entry("truth_left"), shape=(shape[0], None))
    if L.shape[1] < 1:
        raise ValueError(f"{path!r}: truth_left has no column")
    R = entry("truth_right", False)
    if R is not None:
        R = check_array(f"truth_right in {path}", R, shape=(shape[1], L.shape[1]))
    noise = entry("noise", False)
    if noise is not None:
        noise = check_array(f"noise in {path}", noise, shape=(m,))
    mask = entry("outlier_mask", False)
    if mask is not None:
        if mask.shape != (m,):
            raise ValueError(f"{path!r}: outlier_mask must have {m} entries, got shape {mask.shape}")
        mask = mask.astype(bool)
    # the file is checked: JAX and the operator now (a damaged file is refused before this import)
    from benign.instances import Instance
    from benign.operators import operator_from_arrays

    try:
        operator = operator_from_arrays(kind, op_arrays, shape, symmetric)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r}: bad operator arrays: {exc}") from None
    return Instance(operator, b, L, R, noise, mask, bool(meta.get("nonnegative", False)),
                    meta.get("name", os.path.basename(path)), dict(meta.get("params", {})))


def load_point(path: str, key: str | None = None) -> np.ndarray:
    """A point from ``.npz`` (key ``point``, or ``X``, or the only array), ``.npy`` or ``.csv`` (comma-separated)."""
    check_file(path, "point file")
    if path.endswith(".csv"):
        try:
            with warnings.catch_warnings():  # an empty file: refused below by name, not with NumPy's warning
                warnings.simplefilter("ignore", UserWarning)
                arr = np.loadtxt(path, delimiter=",", ndmin=1)
        except ValueError as exc:  # NumPy's own advice ("use usecols ...") does not apply to a point
            raise ValueError(f"cannot read point file {path!r}: {str(exc).split('; use `usecols`')[0]}") from None
        return _point_array("point", path, arr)
    data = _open(path)
    if isinstance(data, np.ndarray):
        return _point_array("point", path, data)
    names = [k for k in data.files if k != "meta"]
    for k in ([key] if key else ["point", "X"]):
        if k in data.files:
            return _point_array(k, path, data[k])
    if key is None and len(names) == 1:
        return _point_array(names[0], path, data[names[0]])
    raise ValueError(f"{path!r} holds no point (looked for {key or 'point or X'}; has {', '.join(names)})")


def _point_array(name: str, path: str, arr: Any) -> np.ndarray:
    """A point read from a file: a finite real array of one or two dimensions with at least one entry."""
    if np.size(arr) == 0:
        raise ValueError(f"{name} in {path!r} holds no numbers")
    return check_array(f"{name} in {path}", arr, ndim=(1, 2))


def save_point(path: str, X: Any) -> str:
    """Write a point as ``.npy``, ``.csv`` or ``.npz`` (key ``point``), chosen by the extension. ``X``: a finite real
    array of one or two dimensions (a vector is a one-column point). A one-row matrix of several columns is refused
    for ``.csv``: :func:`load_point` reads a one-line file as a vector, as it reads inline ``1,0,1``."""
    path = check_path(path, "path")
    X = check_array("X", X, ndim=(1, 2))
    if X.size == 0:
        raise ValueError(f"X holds no numbers, got shape {X.shape}")
    if path.endswith(".csv") and X.ndim == 2 and X.shape[0] == 1 and X.shape[1] > 1:
        raise ValueError(f"a one-row point of shape {X.shape} would read back from .csv as a vector: save it as .npy "
                         f"or .npz")
    if not path.endswith((".csv", ".npy", ".npz")):
        path += ".npz"
    with atomic_path(path) as tmp:
        if path.endswith(".csv"):
            np.savetxt(tmp, X, delimiter=",", fmt="%.17g")
        elif path.endswith(".npy"):
            np.save(tmp, X)
        else:
            np.savez(tmp, point=X)
    return path


#: the most numbers the explicit sensing matrices of an exported instance may hold (about 40 MB of JSON)
EXPORT_MAX_ENTRIES = 2_000_000


def check_exportable(inst, max_entries: int = EXPORT_MAX_ENTRIES) -> None:
    """Raise ``ValueError`` when :func:`instance_to_json` would refuse ``inst`` (dense sensing matrices holding
    more than ``max_entries`` numbers), so that a command can refuse before its work rather than after."""
    op = inst.operator
    if op.kind in ("completion", "rank-one"):
        return
    d1, d2 = op.shape
    if op.m * d1 * d2 > max_entries:
        raise ValueError(f"explicit export would hold m*d1*d2 = {op.m * d1 * d2} numbers (> {max_entries}); an "
                         f"instance this size can be saved as a .npz file instead (solve --save)")


def instance_to_json(inst, max_entries: int = EXPORT_MAX_ENTRIES) -> dict[str, Any]:
    """The instance in explicit, self-contained form for JSON export.

    Dense operators are written as their sensing matrices ``A_i`` (and, for ``n <= 12`` symmetric problems, the kernel
    ``H = A^T A`` on row-major ``vec`` space); completion as ``(rows, cols, weights)``; rank-one projections as the
    vectors ``a_i, c_i``. ``b``, the truth factors, noise and the outlier mask are included. Raises ``ValueError``
    when the explicit form would exceed ``max_entries`` numbers.
    """
    op = inst.operator
    d1, d2 = op.shape
    out: dict[str, Any] = {"name": inst.name, "shape": [d1, d2], "m": op.m, "symmetric": inst.symmetric,
                           "nonnegative": bool(inst.nonnegative), "operator_kind": op.kind,
                           "convention": "A(M)_i = sum_jk A_i[j,k] M[j,k]; b = A(M*) + noise; "
                                         "M* = L L^T (symmetric) or L R^T",
                           "params": to_jsonable(inst.meta)}
    if op.kind == "completion":
        out["operator"] = {"rows": np.asarray(op.rows).tolist(), "cols": np.asarray(op.cols).tolist(),
                           "weights": np.asarray(op.weights).tolist(),
                           "meaning": "A(M)_k = weights_k * M[rows_k, cols_k] (0-based)"}
    elif op.kind == "rank-one":
        out["operator"] = {"a": np.asarray(op.a).tolist(), "c": np.asarray(op.c).tolist(),
                           "meaning": "A_i = a_i c_i^T"}
    else:
        check_exportable(inst, max_entries)
        mats = op.matrices()
        out["operator"] = {"sensing_matrices": mats.tolist(), "meaning": "A_i = sensing_matrices[i]"}
        if d1 == d2 and d1 <= 12:
            flat = mats.reshape(op.m, -1)
            out["operator"]["kernel_H"] = (flat.T @ flat).tolist()
    out["b"] = np.asarray(inst.b).tolist()
    out["truth_left"] = np.asarray(inst.truth_left).tolist()
    if inst.truth_right is not None:
        out["truth_right"] = np.asarray(inst.truth_right).tolist()
    if inst.noise is not None:
        out["noise"] = np.asarray(inst.noise).tolist()
    if inst.outlier_mask is not None:
        out["outlier_mask"] = np.asarray(inst.outlier_mask).astype(int).tolist()
    return out
