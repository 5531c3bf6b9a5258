"""The arrays each operator kind saves, readable without JAX: :func:`benign.io.load_instance` checks a file against
this table before anything is built (a damaged file is refused in a fraction of a second)."""
from __future__ import annotations

#: the arrays :meth:`benign.operators.Operator.arrays` saves for each operator kind, and whether each holds indices
#: (read by :func:`benign.operators.operator_from_arrays` and checked by :func:`benign.io.load_instance`); every one
#: has one row per measurement
SAVED_ARRAYS: dict[str, dict[str, bool]] = {
    **{k: {"A": False} for k in ("dense", "gaussian", "explicit", "kernel")},
    "completion": {"rows": True, "cols": True, "weights": False},
    "rank-one": {"a": False, "c": False},
}
