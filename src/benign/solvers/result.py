"""The :class:`Result` of a solver run (SciPy-``OptimizeResult``-like, with a status string, never an exception)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benign.serialize import to_jsonable

#: the status strings, in the order of the loop's integer codes (0 = still running, never returned)
STATUSES = ("running", "converged", "max_iterations", "diverged", "stalled")
HISTORY_KEYS = ("iteration", "loss", "error", "grad_norm", "step")


@dataclass
class Result:
    """Outcome of one run.

    ``x`` is the final point ``(N, r)`` (the last *finite* iterate when the run diverged); ``loss = f(x)``;
    ``relative_error = ||M(x) - M*||_F / ||M*||_F`` (NaN without a known truth); ``grad_norm`` is the method's
    stationarity measure at ``x`` (``||grad f||_F``; the projected-gradient norm ``||x - max(x - grad f, 0)||_F`` for
    projected GD); ``iterations`` counts the loop's iterations (a rejected trust-region step or a failed Armijo
    search counts as one; a step refused as divergent does not); ``seconds`` is the wall time of the iterations
    (compilation excluded, reported as ``details["compile_seconds"]``). ``status`` is one of ``converged``,
    ``max_iterations``, ``diverged``, ``stalled``; ``message`` states which rule fired. ``history`` holds arrays
    ``iteration, loss, error, grad_norm, step`` recorded every ``history_every`` iterations (plus the last one).
    """

    x: np.ndarray
    loss: float
    relative_error: float
    grad_norm: float
    iterations: int
    seconds: float
    status: str
    message: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    def to_dict(self, include_history: bool = False, include_point: bool = True) -> dict[str, Any]:
        """JSON-ready dict (non-finite floats become the strings ``"nan"``, ``"inf"``)."""
        out: dict[str, Any] = {
            "status": self.status, "message": self.message, "method": self.method,
            "loss": self.loss, "relative_error": self.relative_error, "grad_norm": self.grad_norm,
            "iterations": self.iterations, "seconds": self.seconds, "options": self.options,
            "details": self.details,
        }
        if include_point:
            out["point"] = np.asarray(self.x).tolist()
        if include_history:
            out["history"] = {k: np.asarray(v).tolist() for k, v in self.history.items()}
        return to_jsonable(out)

    def __repr__(self) -> str:
        return (f"Result(method={self.method!r}, status={self.status!r}, loss={self.loss:.6g}, "
                f"relative_error={self.relative_error:.3g}, grad_norm={self.grad_norm:.3g}, "
                f"iterations={self.iterations}, seconds={self.seconds:.3g}, shape={tuple(np.shape(self.x))})")
