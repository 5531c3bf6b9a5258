"""JSON conversion shared by files, the CLI and reports (no heavy imports)."""
from __future__ import annotations

import math
from typing import Any


def to_jsonable(v: Any) -> Any:
    """Convert NumPy/JAX scalars and arrays, dataclass-like objects with ``to_dict`` and nested containers to
    JSON-ready Python values. Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` so the output
    stays valid JSON."""
    if hasattr(v, "to_dict") and callable(v.to_dict):
        return to_jsonable(v.to_dict())
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return to_jsonable(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return str(v)
