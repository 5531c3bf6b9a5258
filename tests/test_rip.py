"""RIP: exact full-rank spectra without the kernel, and search bounds bracketing brute-force rank-1 constants."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import minimize

from benign import instances as I
from benign import operators as ops
from benign.rip import full_rank_rip, full_rank_spectrum, random_rank_ratios, rip_bounds, rip_search
from tests.conftest import all_operators


@pytest.mark.parametrize("case", range(8))
def test_full_rank_spectrum_matches_dense_kernel(case):
    name, op, _ = all_operators()[case]
    for space in ([True, False] if op.shape[0] == op.shape[1] else [False]):
        ref = full_rank_rip(op, symmetric=space)
        got = full_rank_spectrum(op, symmetric=space)
        scale = max(1.0, ref["lambda_max"])
        assert abs(got["lambda_min"] - ref["lambda_min"]) <= 1e-10 * scale, name
        assert abs(got["lambda_max"] - ref["lambda_max"]) <= 1e-10 * scale, name


def _sphere_points(count: int) -> np.ndarray:
    """Fibonacci lattice on the unit sphere of R^3."""
    i = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * i / count)
    th = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], axis=1)


def _brute_rank1_symmetric(mats: np.ndarray) -> tuple[float, float]:
    """sup / inf over unit u of ||A(u u^T)||^2 (symmetric rank-1 M = +-u u^T): grid + local refinement."""
    q = lambda u: float(np.sum(np.einsum("mij,i,j->m", mats, u, u) ** 2) / np.dot(u, u) ** 2)  # noqa: E731
    P = _sphere_points(20000)
    vals = np.sum(np.einsum("mij,ki,kj->km", mats, P, P) ** 2, axis=1)
    hi = max(-minimize(lambda u: -q(u), P[j], method="BFGS", options={"gtol": 1e-12}).fun
             for j in np.argsort(vals)[-5:])
    lo = min(minimize(q, P[j], method="BFGS", options={"gtol": 1e-12}).fun for j in np.argsort(vals)[:5])
    return hi, lo


def _brute_rank1_all(mats: np.ndarray) -> tuple[float, float]:
    """sup / inf over unit u, v of ||A(u v^T)||^2: for fixed u the quotient is a 3x3 quadratic form in v."""
    def ext(u):
        B = np.einsum("mij,i->mj", mats, u / np.linalg.norm(u))
        lam = np.linalg.eigvalsh(B.T @ B)
        return lam[0], lam[-1]
    P = _sphere_points(20000)
    e = np.array([ext(u) for u in P])
    hi = max(-minimize(lambda u: -ext(u)[1], P[j], method="Nelder-Mead",
                       options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000}).fun
             for j in np.argsort(e[:, 1])[-3:])
    lo = min(minimize(lambda u: ext(u)[0], P[j], method="Nelder-Mead",
                      options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000}).fun
             for j in np.argsort(e[:, 0])[:3])
    return hi, lo


@pytest.mark.parametrize("kind", ["gaussian", "rankone"])
def test_rank1_bounds_bracket_brute_force_symmetric(kind):
    rng = np.random.default_rng(11)
    op = (ops.gaussian_sensing(rng, 12, 3, 3, True) if kind == "gaussian"
          else ops.rank_one_projections(rng, 12, 3, 3, True))
    L1, mu1 = _brute_rank1_symmetric(op.matrices())
    delta1 = max(L1 - 1, 1 - mu1)
    out = rip_bounds(op, 1, starts=8, seed=0, maxiter=2000)
    assert out["lower"] <= delta1 + 1e-9 <= out["upper"] + 2e-9
    # the search is not just valid but tight on this small problem
    assert abs(out["sup_ratio"]["lower"] - L1) <= 1e-7 * L1
    assert abs(out["inf_ratio"]["upper"] - mu1) <= 1e-7 * L1
    assert out["sup_ratio"]["lower"] <= out["sup_ratio"]["upper"] + 1e-12
    assert out["inf_ratio"]["lower"] <= out["inf_ratio"]["upper"] + 1e-12


def test_rank1_bounds_bracket_brute_force_all_matrices():
    rng = np.random.default_rng(12)
    op = ops.gaussian_sensing(rng, 15, 3, 3, False)
    L1, mu1 = _brute_rank1_all(op.matrices())
    out = rip_bounds(op, 1, symmetric=False, starts=8, seed=1, maxiter=2000)
    delta1 = max(L1 - 1, 1 - mu1)
    assert out["lower"] <= delta1 + 1e-9 <= out["upper"] + 2e-9
    assert abs(out["sup_ratio"]["lower"] - L1) <= 1e-6 * L1
    assert abs(out["inf_ratio"]["upper"] - mu1) <= 1e-6 * L1


def test_full_rank_search_reaches_exact_spectrum():
    rng = np.random.default_rng(4)
    op = ops.gaussian_sensing(rng, 30, 4, 4, True)
    ref = full_rank_rip(op)
    s = rip_search(op, 4, starts=4, seed=0, maxiter=3000)
    assert s["max_ratio"] <= ref["lambda_max"] * (1 + 1e-12)
    assert s["min_ratio"] >= ref["lambda_min"] - 1e-12 * ref["lambda_max"]
    assert abs(s["max_ratio"] - ref["lambda_max"]) <= 1e-6 * ref["lambda_max"]
    assert abs(s["min_ratio"] - ref["lambda_min"]) <= 1e-5 * ref["lambda_max"]
    out = rip_bounds(op, 4, starts=4, maxiter=50)
    assert out["exact"] and out["lower"] == out["upper"] == pytest.approx(ref["delta"], rel=1e-12)
    # the upper bound that survives rounding: the computed constant plus the rounding allowance
    rounding = out["full_rank"]["rounding"]
    assert 0 < rounding < 1e-10 and out["upper_certified"] == out["upper"] + rounding


def test_completion_bounds_matrix_free_large_n():
    """Completion at n = 200: closed-form full-rank spectrum, search on O(|Omega| k) primitives; an unobserved
    diagonal entry gives ||A(e_i e_i^T)|| = 0, so delta_1 >= 1 and the search must find (nearly) that."""
    inst = I.completion(200, 2, seed=0, rate=0.03)
    out = rip_bounds(inst.operator, 1, starts=4, seed=0, maxiter=300, directions=16)
    assert out["full_rank"]["lambda_min"] == 0.0 and out["upper"] >= 1.0
    assert out["lower"] <= out["upper"]
    assert out["inf_ratio"]["upper"] < 0.05  # found nearly-unobserved rank-1 directions
    assert out["lower"] > 0.95


def test_gaussian_empirical_spread():
    """E ||A(M)||^2 = ||M||_F^2 for symmetric Gaussian sensing: the random-direction mean is ~1."""
    inst = I.sensing(8, 1, m=200, seed=3)
    emp = random_rank_ratios(inst.operator, 2, 256, seed=0)
    assert emp["count"] == 256
    assert abs(emp["mean"] - 1.0) <= 4 * emp["std"] / np.sqrt(emp["count"])
    # m = 200 Gaussian measurements: every ratio concentrates within a factor ~1 +- 0.5 of its mean
    assert 0.5 < emp["min"] and emp["max"] < 1.5


@pytest.mark.parametrize("kwargs,exc,needle", [(dict(rank=0), ValueError, "rank must be >= 1"),
                                               (dict(rank=9), ValueError, "rank must be <= min"),
                                               (dict(rank=1, starts=0), ValueError, "starts must be >= 1"),
                                               (dict(rank=1.5), TypeError, "rank must be an integer"),
                                               (dict(rank=1, symmetric="false"), TypeError, "symmetric must be")])
def test_search_validation(kwargs, exc, needle):
    op = ops.gaussian_sensing(np.random.default_rng(0), 10, 3, 3, True)
    with pytest.raises(exc, match=needle):
        rip_search(op, **kwargs)
    if "symmetric" in kwargs:  # (the bounds and the empirical spread check the flag the same way)
        with pytest.raises(exc, match=needle):
            rip_bounds(op, **kwargs)


def test_one_direction_is_refused_like_the_cli():
    """The empirical spread needs two samples (a std of one is not 0): rip_bounds refuses directions = 1 before the
    search, as `benign rip --directions 1` does, and random_rank_ratios refuses count = 1."""
    op = ops.gaussian_sensing(np.random.default_rng(0), 10, 3, 3, True)
    with pytest.raises(ValueError, match="directions must be >= 2, got 1"):
        rip_bounds(op, 1, directions=1)
    with pytest.raises(ValueError, match="count must be >= 2, got 1"):
        random_rank_ratios(op, 1, 1)


def test_full_rank_spectrum_cost_limit():
    """max_flops refuses an eigenproblem that costs more (m dim min(m, dim) = 40 * 21 * 21 here) and never the
    completion closed form; under the limit the numbers are the unlimited ones."""
    op = ops.gaussian_sensing(np.random.default_rng(0), 40, 6, 6, True)
    out = full_rank_spectrum(op, max_flops=40 * 21 * 21 - 1)
    assert not out["available"] and "costs about 1.8e+04 flops" in out["reason"]
    assert full_rank_spectrum(op, max_flops=40 * 21 * 21) == full_rank_spectrum(op)
    comp = I.completion(30, 2, seed=0, rate=0.3).operator
    assert full_rank_spectrum(comp, max_flops=1.0)["available"]


def test_full_rank_constants_of_a_psd_kernel_stay_in_range():
    """m = 4 < n(n+1)/2 = 6: the kernel is singular; rounding must not make lambda_min negative or delta_scaled > 1."""
    from benign.instances import build

    op = build("sensing:n=3,r=1,m=4,seed=1").operator
    for out in (full_rank_rip(op), full_rank_spectrum(op)):
        assert out["lambda_min"] == 0.0 and out["delta_scaled"] == 1.0


def test_cli_rip(cli):
    out = cli("rip", "sensing:n=5,r=1,m=40,seed=0", "--rank", "2", "--starts", "3", "--maxiter", "200", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["rank"] == 2 and res["lower"] <= res["upper"]
    assert set(res["method"]) == {"lower", "upper"}
    bad = subprocess.run([sys.executable, "-m", "benign.cli", "rip", "sensing:n=5,r=1,m=40", "--rank", "9"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--rank" in bad.stderr


def test_bracket_closed_at_the_exact_value_within_rounding():
    """Entry sampling with unit weights: the exact full-rank sup ratio is 1 and the searched quotient may exceed it
    by rounding; the reported bracket is ordered (lower <= upper) on both sides."""
    from benign.instances import build
    from benign.rip import rip_bounds

    inst = build("completion:n=60,r=2,rate=0.3,seed=0")
    out = rip_bounds(inst.operator, 2, symmetric=True, starts=4, seed=0)
    for side in ("sup_ratio", "inf_ratio"):
        lo, up = out[side]["lower"], out[side]["upper"]
        assert lo is not None and up is not None and lo <= up, (side, lo, up)
    assert out["sup_ratio"]["upper"] == 1.0  # the exact full-rank value, not 1 + rounding


def test_a_closed_bracket_is_exact_below_full_rank():
    """The delta = 1/2 instance at rank 1: the search reaches the full-rank constant, so the bounds meet and the
    result says it is exact; a generic Gaussian operator at rank 1 keeps an open bracket and says so."""
    out = rip_bounds(I.zsl_half().operator, 1, starts=8, seed=0)
    assert out["lower"] == pytest.approx(0.5, abs=1e-12) and out["upper"] == pytest.approx(0.5, abs=1e-12)
    assert out["exact"] is True and "known exactly" in out["method"]["lower"]
    gauss = rip_bounds(I.sensing(6, 1, 30, seed=0).operator, 1, starts=4, seed=0)
    assert gauss["lower"] < gauss["upper"] and gauss["exact"] is False


def test_the_search_runs_in_chunks_with_the_same_iterates(monkeypatch):
    """The search advances SEARCH_CHUNK iterations per compiled call (Ctrl-C and progress get through between
    calls); the chunks give exactly the numbers of one call, and progress counts up to 2 maxiter."""
    import benign.rip as R

    op = ops.gaussian_sensing(np.random.default_rng(0), 40, 5, 5, True)
    monkeypatch.setattr(R, "SEARCH_CHUNK", 10**6)
    whole = rip_search(op, 2, starts=3, seed=1, maxiter=120)
    monkeypatch.setattr(R, "SEARCH_CHUNK", 7)
    seen = []
    chunked = rip_search(op, 2, starts=3, seed=1, maxiter=120, progress=lambda d, t: seen.append((d, t)))
    for key in ("max_values", "min_values", "iterations_max", "iterations_min"):
        assert chunked[key] == whole[key], key
    assert seen[-1] == (240, 240) and all(t == 240 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[0][0] == 7
    with pytest.raises(ValueError, match="gtol must be < 1.0"):
        rip_search(op, 2, gtol=1.0)
    with pytest.raises(ValueError, match="gtol must be finite"):
        rip_search(op, 2, gtol=float("nan"))
    with pytest.raises(TypeError, match="progress must be a callable"):
        rip_bounds(op, 1, progress=1)
