"""Verdicts and the :class:`Certificate` record shared by every certifier (smooth, nonnegative, l1).

A certificate never claims more than it proved: when in doubt the verdict is ``degenerate`` (smooth/nonnegative)
or ``second_order_stationary_uncertified`` (l1).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# smooth and nonnegative problems (MATH.md §4)
NOT_CRITICAL = "not_critical"
STRICT_SADDLE = "strict_saddle"
STRICT_LOCAL_MIN = "strict_local_min"
DEGENERATE = "degenerate"
GLOBAL_MIN = "global_min"
# l1 ladder (MATH.md §4, seed 002)
NOT_LOCAL_MIN = "not_local_min"
SHARP_LOCAL_MIN = "sharp_local_min"
UNCERTIFIED = "second_order_stationary_uncertified"

VERDICTS = (NOT_CRITICAL, STRICT_SADDLE, STRICT_LOCAL_MIN, DEGENERATE, GLOBAL_MIN, NOT_LOCAL_MIN,
            SHARP_LOCAL_MIN, UNCERTIFIED)
#: verdicts under which the point is (at least) a local minimum -- "degenerate" is deliberately not one of them
MINIMA = (STRICT_LOCAL_MIN, GLOBAL_MIN, SHARP_LOCAL_MIN)


@dataclass
class Certificate:
    """What a point is, with the numbers behind the verdict.

    ``spurious`` is ``True`` for a local minimum or second-order point that is not global, ``False`` for a global
    one, ``None`` when nothing can be said (not critical, strict saddle, or the truth unknown).
    ``escape_direction`` (a point-shaped array) is set for strict saddles and non-critical l1 points and has been
    verified by evaluating ``f`` along it (``details["escape_check"]``).
    """

    verdict: str
    spurious: bool | None
    loss: float
    grad_norm: float
    lambda_min: float | None = None
    lambda_max: float | None = None
    symmetry_zeros: int = 0
    certificate_margin: float | None = None
    escape_direction: np.ndarray | None = None
    stationarity_gap: float | None = None
    relative_error: float | None = None
    tolerances: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def is_minimum(self) -> bool:
        return self.verdict in MINIMA

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.escape_direction is not None:
            out["escape_direction"] = np.asarray(self.escape_direction).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Certificate":
        """The certificate of :meth:`to_dict` (e.g. read back from JSON; ``escape_direction`` as an array)."""
        data = dict(data)
        if data.get("escape_direction") is not None:
            data["escape_direction"] = np.asarray(data["escape_direction"], dtype=float)
        return cls(**data)


def export(cert: Certificate, instance: Any, point: Any, objective: Any) -> dict[str, Any]:
    """A self-contained JSON-ready record: instance in explicit form, loss, point, numbers and tolerances, and the
    conventions that define them (:mod:`benign.certify.conventions`), enough for a referee to re-check the verdict
    without benign. The loss block gives ``l`` only for lp and mixed, ``lam`` only for mixed, ``huber_delta`` only
    for huber (``None`` elsewhere). Version 2 (benign 0.4.6) added ``conventions`` and these ``None`` values;
    version 1 gave ``l`` and ``lam`` for every loss."""
    from benign.certify.conventions import conventions
    from benign.io import instance_to_json

    loss = objective.loss
    return {"format": "benign-certificate", "version": 2,
            "conventions": conventions(objective, cert),
            "instance": instance_to_json(instance),
            "loss": {"spec": loss.describe(), "name": loss.name, "scale": loss.scale,
                     "l": loss.l if loss.name in ("lp", "mixed") else None,
                     "lam": loss.lam if loss.name == "mixed" else None,
                     "huber_delta": loss.huber_delta if loss.name == "huber" else None},
            "factorization": objective.factorization, "balance": objective.balance,
            "nonnegative": objective.nonnegative,
            "point": np.asarray(point).tolist(),
            "certificate": cert.to_dict()}
