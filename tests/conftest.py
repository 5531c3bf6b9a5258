"""Shared fixtures: small random instances of every operator and factorisation."""
from __future__ import annotations

import numpy as np
import pytest

import benign  # noqa: F401
from benign import instances as I
from benign import operators as ops


def rel(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def all_operators(seed: int = 0, n: int = 4, d2: int = 3, m: int = 11):
    """(name, operator, symmetric_problem) for every operator kind, small sizes."""
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n * n, n * n))
    out = [
        ("gaussian-sym", ops.gaussian_sensing(rng, m, n, n, True), True),
        ("gaussian-asym", ops.gaussian_sensing(rng, m, n, d2, False), False),
        ("explicit", ops.from_matrices(rng.standard_normal((m, n, n))), True),
        ("kernel", ops.from_kernel(H @ H.T), True),
        ("completion-sym", ops.entry_sampling(*ops.sample_entries(rng, n, n, count=m), (n, n),
                                              weights=rng.uniform(0.5, 1.5, m)), True),
        ("completion-asym", ops.entry_sampling(*ops.sample_entries(rng, n, d2, count=m), (n, d2)), False),
        ("rankone-sym", ops.rank_one_projections(rng, m, n, n, True), True),
        ("rankone-asym", ops.rank_one_projections(rng, m, n, d2, False), False),
    ]
    return out


@pytest.fixture(scope="session")
def operator_cases():
    return all_operators()


def instance_for(op, symmetric: bool, r: int = 2, seed: int = 0, noise: float = 0.3):
    rng = np.random.default_rng(seed + 100)
    d1, d2 = op.shape
    L = rng.standard_normal((d1, r))
    R = None if symmetric else rng.standard_normal((d2, r))
    return I.from_arrays(op, L, R, noise=noise * rng.standard_normal(op.m))
