"""Restricted isometry constants (MATH.md §5).

``A`` is ``delta``-RIP_k when ``(1 - delta)||M||_F^2 <= ||A(M)||^2 <= (1 + delta)||M||_F^2`` for all ``M`` of rank
``<= k``. For symmetric problems ``M`` ranges over symmetric matrices.

* :func:`full_rank_rip` -- the exact constant for ``k = n`` from the extreme eigenvalues ``mu <= L`` of the kernel
  ``H = A^T A`` restricted to (symmetric) matrices: ``delta = max(1 - mu, L - 1)``; it upper-bounds every
  ``delta_k``. Also the scale-optimal constant ``(L - mu)/(L + mu)``, attained by ``sqrt(2/(L + mu)) A``.
"""
from __future__ import annotations

import numpy as np

from benign.operators import Operator, kernel, symmetric_basis


def restricted_kernel(op: Operator, symmetric: bool = True) -> np.ndarray:
    """The kernel in an orthonormal basis of symmetric matrices (``n(n+1)/2`` square) or of all matrices."""
    H = kernel(op)
    if symmetric:
        P = symmetric_basis(op.shape[0])
        H = P.T @ H @ P
    return 0.5 * (H + H.T)


def full_rank_rip(op: Operator, symmetric: bool = True) -> dict:
    """Exact full-rank RIP constant and the scale-optimal one (see the module docstring)."""
    if symmetric and op.shape[0] != op.shape[1]:
        raise ValueError(f"symmetric RIP needs a square operator, got {op.shape}")
    lam = np.linalg.eigvalsh(restricted_kernel(op, symmetric))
    mu, L = float(lam[0]), float(lam[-1])
    out = {"available": True, "rank": "full", "space": "symmetric" if symmetric else "all",
           "lambda_min": mu, "lambda_max": L, "delta": max(1.0 - mu, L - 1.0)}
    if L > 0:
        out["delta_scaled"] = (L - mu) / (L + mu)
        out["optimal_scale"] = float(np.sqrt(2.0 / (L + mu)))
    return out
