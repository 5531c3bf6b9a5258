"""Counterexample SDPs: formulation against the objective, published value, built operators re-verified."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benign import _cx_formulation as F
from benign import instances as I
from benign import operators as ops
from benign.counterexamples import (counterexample, first_order_lower_bound, nonneg_counterexample,
                                    nonneg_rip_family, nonneg_second_order, _cone_min)
from benign.io import load_instance, load_point
from benign.objective import make_objective
from benign.rip import full_rank_rip

SQ2 = np.sqrt(2.0)


def _objective_for_kernel(K, X, Z):
    pc = F.pieces(X, Z)
    op = ops.from_kernel(pc.P @ K @ pc.P.T)
    return pc, make_objective(I.from_arrays(op, Z), "l2")


@pytest.mark.parametrize("n,r,rs", [(3, 1, 1), (4, 2, 1), (3, 3, 2)])
def test_formulation_matches_objective(n, r, rs):
    """Gradient and Hessian maps (linear in K) agree with the objective's own derivatives for a random kernel."""
    rng = np.random.default_rng(n + 10 * r)
    X, Z = rng.standard_normal((n, r)), rng.standard_normal((n, rs))
    s = n * (n + 1) // 2
    A = rng.standard_normal((s, s))
    K = A @ A.T / s + 0.1 * np.eye(s)
    pc, obj = _objective_for_kernel(K, X, Z)
    g = np.asarray(obj.grad(X))
    Hs = np.asarray(obj.hessian(X))
    scale_g, scale_h = np.abs(g).max(), np.abs(Hs).max()
    assert np.abs(pc.grad_map() @ K.reshape(-1) - g.reshape(-1)).max() <= 1e-11 * scale_g
    B, vdim = F.horizontal_basis(X)
    assert vdim == r * (r - 1) // 2 and B.shape[1] == n * r - vdim
    HB = (pc.hessian_map(B) @ K.reshape(-1)).reshape(B.shape[1], B.shape[1])
    assert np.abs(HB - B.T @ Hs @ B).max() <= 1e-11 * scale_h
    # f = 1/2 e^T K e in svec coordinates
    assert abs(float(obj.value(X)) - 0.5 * pc.e @ K @ pc.e) <= 1e-12 * max(1.0, abs(float(obj.value(X))))


def test_published_half():
    """(X, Z) = (e2/sqrt2, e1): delta* = 1/2; the built operator has that constant and X is a second-order point."""
    X = np.array([[0.0], [1 / SQ2]])
    Z = np.array([[1.0], [0.0]])
    res = counterexample(X, Z)
    assert abs(res.delta - 0.5) <= 1e-4
    assert abs(res.duality_gap) <= 1e-7 and res.dual_residual <= 1e-6
    # independent re-verification from the stored instance, not from the result's fields
    inst = res.instance
    assert abs(full_rank_rip(inst.operator)["delta"] - 0.5) <= 1e-6
    obj = make_objective(inst, "l2")
    assert np.linalg.norm(np.asarray(obj.grad(X))) <= 1e-8
    lam = np.linalg.eigvalsh(np.asarray(obj.hessian(X)))
    assert lam[0] >= -1e-7
    assert res.verdict == "degenerate"  # the sharp instance has a zero Hessian eigenvalue (quartic growth)
    assert res.spurious and abs(res.loss_value - 3 / 8) <= 1e-6


@pytest.mark.parametrize("seed,n,r,rs", [(0, 3, 1, 1), (1, 4, 2, 1), (2, 5, 1, 2)])
def test_random_pairs_verified_equals_sdp(seed, n, r, rs):
    """Built operator's RIP constant equals the SDP value; direct (n(n+1)/2-sided) and reduced SDPs agree."""
    rng = np.random.default_rng(100 + seed)
    X, Z = rng.standard_normal((n, r)), rng.standard_normal((n, rs))
    red = counterexample(X, Z)
    direct = counterexample(X, Z, method="direct", build=False)
    assert red.status in ("optimal", "optimal_inaccurate")  # never trusted: the checks below re-verify
    assert abs(red.delta - direct.delta) <= 1e-6
    assert abs(red.verified_delta - red.delta) <= 1e-6
    assert abs(red.duality_gap) <= 1e-6 and abs(direct.duality_gap) <= 1e-6
    assert red.dual_residual <= 1e-6 and direct.dual_residual <= 1e-6  # the gap bounds the minimum: dual feasible
    assert red.delta >= first_order_lower_bound(X, Z) - 1e-8
    assert red.first_order_residual <= 1e-7 * red.gradient_scale
    assert red.second_order_margin >= -1e-6 * np.abs(red.hessian_lambda_min) - 1e-7
    assert red.spurious and red.verified


def test_span_variant_equals_full_and_is_measured_on_the_span():
    rng = np.random.default_rng(7)
    X, Z = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    full = counterexample(X, Z)
    span = counterexample(X, Z, variant="span", method="direct")
    assert abs(span.delta - full.delta) <= 1e-6
    assert abs(span.verified_delta - span.delta) <= 1e-5  # measured on Sym(span[X Z]) only
    assert span.full_rank_delta >= span.verified_delta - 1e-8


def test_delta_independent_of_n():
    """Embedding the same pair in a larger space does not change delta* (the symmetry reduction's corollary). (A pair
    whose delta* is well below 1: seed 3's is 1 - 2e-9, where X is spurious only by a loss of 1e-9 relative, below the
    verification's tolerance.)"""
    rng = np.random.default_rng(0)
    X2, Z2 = rng.standard_normal((2, 1)), rng.standard_normal((2, 1))
    Q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    X6 = Q @ np.vstack([X2, np.zeros((4, 1))])
    Z6 = Q @ np.vstack([Z2, np.zeros((4, 1))])
    small = counterexample(X2, Z2, build=False)
    big = counterexample(X6, Z6)
    assert abs(small.delta - big.delta) <= 1e-7
    assert abs(big.verified_delta - big.delta) <= 1e-6 and big.verified


def test_margin_gives_strict_local_min():
    rng = np.random.default_rng(5)
    X, Z = rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    res = counterexample(X, Z, margin=0.05)
    assert res.verdict == "strict_local_min"
    assert res.second_order_margin >= 0.05 * (1 - 1e-6)
    assert res.vertical_dim == 1


def test_save_roundtrip(tmp_path):
    X = np.array([[0.3], [0.8], [0.0]])
    Z = np.array([[1.0], [0.0], [0.5]])
    res = counterexample(X, Z)
    path = res.save(str(tmp_path / "cx.npz"))
    inst = load_instance(path)
    P = load_point(path)
    obj = make_objective(inst, "l2")
    assert np.allclose(P, X)
    assert np.linalg.norm(np.asarray(obj.grad(P))) <= 1e-7 * res.gradient_scale
    assert abs(full_rank_rip(inst.operator)["delta"] - res.delta) <= 1e-6


@pytest.mark.parametrize("target", [0.1, 0.01, 0.001])
def test_nonneg_family_certified(target):
    """Seed 000 claim (b): spurious nonnegative strict local minima for RIP constants <= 0.1, 0.01, 0.001."""
    inst, X, rep = nonneg_rip_family(target)
    assert rep["certified"]
    obj = make_objective(inst, "l2")
    assert obj.nonnegative
    # independent checks: RIP constant, KKT with strict complementarity, positive curvature on the free coordinate
    delta = full_rank_rip(inst.operator)["delta"]
    assert delta <= target
    G = np.asarray(obj.grad(X))
    free = X > 0
    assert np.abs(G[free]).max() <= 1e-9 * np.abs(G).max()
    assert G[~free].min() > 0
    Hs = np.asarray(obj.hessian(X))
    fi = np.nonzero(free.reshape(-1))[0]
    assert np.linalg.eigvalsh(Hs[np.ix_(fi, fi)])[0] > 0
    # f increases along random feasible directions (D >= 0 on the zeros of X)
    # inside the radius where the first-order term G_ij D_ij on the zeros dominates the curvature there
    rng = np.random.default_rng(0)
    f0 = float(obj.value(X))
    radius = 0.1 * G[~free].min() / np.linalg.norm(Hs, 2)
    for _ in range(20):
        D = rng.standard_normal(X.shape)
        D[~free] = np.abs(D[~free])
        D /= np.linalg.norm(D)
        for t in (radius, 0.1 * radius):
            assert float(obj.value(X + t * D)) > f0
        # and along the free coordinate alone on a much larger scale
        Df = np.where(free, D, 0.0)
        assert float(obj.value(X + 0.1 * np.linalg.norm(X) * Df)) > f0
    assert float(obj.value(inst.truth_point)) < 1e-20 < f0  # spurious: the truth is a global minimum, X is not
    cert = rep["certificate"]
    assert "error" not in cert and cert["verdict"] == "strict_local_min" and cert["spurious"] is True
    assert rep["certified"]


def test_nonneg_direct_with_rank2_point():
    """r = 2 nonnegative point: KKT SDP solved, verified by the objective (sign conditions, cone curvature)."""
    X = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.2]])
    Z = np.array([[1.0], [0.0], [0.0]])
    res = nonneg_counterexample(X, Z, margin=1e-4)
    assert res.status == "optimal"
    assert res.kkt["strict_complementarity"] and res.kkt["min_grad_on_zeros"] >= 1e-4 * (1 - 1e-6)
    assert res.verdict == "strict_local_min" and res.verified and res.kkt["orbit_dim"] == 0
    assert abs(res.verified_delta - res.delta) <= 1e-6
    assert res.delta >= first_order_lower_bound(X, Z) - 1e-8


def test_nonneg_flat_orbit_is_quotiented():
    """A single nonzero row with equal entries: X R stays >= 0 for small rotations (a flat orbit); the point is a
    local minimum strict modulo that orbit, with one zero-curvature direction reported as the orbit."""
    X = np.array([[0.0, 0.0], [0.2, 0.2], [0.0, 0.0]])
    Z = np.array([[1.0], [0.0], [0.0]])
    res = nonneg_counterexample(X, Z, margin=1e-4)
    assert res.kkt["orbit_dim"] == 1 and res.kkt["orbit_flat"] and res.kkt["orbit_zero_curvature"]
    assert abs(res.kkt["free_lambda_min"]) <= 1e-8
    assert res.kkt["free_lambda_min_mod_orbit"] >= 1e-4 * (1 - 1e-6)
    assert res.verdict == "strict_local_min"
    # f is constant along the orbit: the zero direction is symmetry, not degeneracy
    obj = make_objective(res.instance, "l2")
    c, s = np.cos(0.05), np.sin(0.05)
    assert abs(float(obj.value(X @ np.array([[c, -s], [s, c]]))) - float(obj.value(X))) <= 1e-14


def test_infeasible_margin_reported():
    X = np.array([[0.0, 0.0], [0.3, 0.1], [0.0, 0.2]])
    Z = np.array([[1.0], [0.0], [0.0]])
    res = nonneg_counterexample(X, Z, margin=1e-4)
    assert res.status.startswith("infeasible")
    assert res.instance is None and not res.verified


def test_cli_failed_sdp_prints_its_result_and_exits_1(cli):
    """A failed SDP is not a success: the whole result on stdout (status named), one error line, exit status 1."""
    out = cli("counterexample", "--x", "0,0;0.3,0.1;0,0.2", "--z", "1;0;0", "--nonneg", "--margin", "1e-4", "--json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)  # one document: the result, and the failure's error and exit_code in it
    assert doc["status"].startswith("infeasible") and doc["exit_code"] == 1
    assert doc["error"].startswith("the SDP gave no solution: infeasible")
    assert out.stderr.strip().splitlines()[-1].startswith("error: the SDP gave no solution: infeasible")
    human = cli("counterexample", "--x", "0,0;0.3,0.1;0,0.2", "--z", "1;0;0", "--nonneg", "--margin", "1e-4")
    assert human.returncode == 1 and "exit_code" not in human.stdout and "status" in human.stdout


def test_cli_failed_sdp_with_save_prints_the_result_and_saves_nothing(cli, tmp_path):
    path = tmp_path / "cx.npz"
    out = cli("counterexample", "--x", "0,0;0.3,0.1;0,0.2", "--z", "1;0;0", "--nonneg", "--margin", "1e-4", "--save",
              str(path), "--json")
    assert out.returncode == 1 and json.loads(out.stdout)["status"].startswith("infeasible")
    assert out.stderr.strip().endswith("; nothing saved") and not path.exists()


def test_cone_minimum_by_enumeration_matches_grid():
    """Copositivity on a quadrant (two degenerate zeros): exact enumeration against a dense angle grid."""
    th = np.linspace(0.0, np.pi / 2, 20001)
    D = np.stack([np.cos(th), np.sin(th)])
    for Q in (np.array([[1.0, -2.0], [-2.0, 1.0]]), np.array([[1.0, 2.0], [2.0, 1.0]]),
              np.array([[2.0, 0.3], [0.3, -0.5]])):
        grid = float(np.min(np.einsum("ik,ij,jk->k", D, Q, D)))
        assert abs(_cone_min(Q, np.zeros(0, dtype=np.int64), np.array([0, 1])) - grid) <= 1e-7


def test_nonneg_second_order_classification():
    X = np.array([[0.0], [1.0]])
    G = np.array([[0.0], [0.0]])  # degenerate zero at (0, 0)
    Hs = np.array([[-1.0, 0.0], [0.0, 1.0]])
    out = nonneg_second_order(X, G, Hs, 1e-12, 1e-12)
    assert out["degenerate_zeros"] == 1 and out["verdict"] == "strict_saddle"
    G2 = np.array([[0.5], [0.0]])
    out = nonneg_second_order(X, G2, Hs, 1e-12, 1e-12)
    assert out["strict_complementarity"] and out["verdict"] == "strict_local_min"
    G3 = np.array([[-0.5], [0.0]])
    assert nonneg_second_order(X, G3, Hs, 1e-12, 1e-12)["verdict"] == "not_critical"


@pytest.mark.parametrize("kwargs,exc,needle", [
    (dict(X=np.ones((3, 1)), Z=np.ones((2, 1))), ValueError, "same number of rows"),
    (dict(X=np.array([1.0, 0.0]), Z=np.array([1.0, 0.0])), ValueError, "global minimum"),
    (dict(X=np.array([1.0, 0.0]), Z=np.array([0.0, 1.0]), variant="partial"), ValueError, "partial"),
    (dict(X=np.array([1.0, 0.0]), Z=np.array([0.0, 1.0]), margin=-1.0), ValueError, "margin"),
    (dict(X=np.array([1.0, 0.0]), Z=np.array([0.0, 1.0]), solver="mosek"), ValueError, "mosek"),
    (dict(X=np.array([1.0, np.nan]), Z=np.array([0.0, 1.0])), ValueError, "non-finite"),
])
def test_validation(kwargs, exc, needle):
    with pytest.raises(exc, match=needle):
        counterexample(**kwargs)


def test_nonneg_validation():
    with pytest.raises(ValueError, match="X >= 0"):
        nonneg_counterexample(np.array([-1.0, 0.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="delta_target"):
        nonneg_rip_family(1.5)


def test_cli_counterexample(tmp_path):
    path = tmp_path / "cx.npz"
    out = subprocess.run([sys.executable, "-m", "benign.cli", "counterexample", "--x", f"0,{float(1 / SQ2)!r}",
                          "--z", "1,0", "--json", "--save", str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    for key in ("delta", "verified_delta", "first_order_residual", "second_order_margin", "duality_gap"):
        assert key in res
    assert abs(res["delta"] - 0.5) <= 1e-4 and path.exists()
    bad = subprocess.run([sys.executable, "-m", "benign.cli", "counterexample", "--x", "0,1", "--z", "1,0,0"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "same number of rows" in bad.stderr


def test_cli_nonneg_family_arrays(cli):
    """``--arrays`` gives the pair and the kernel with the family too (a referee re-checks the operator from it)."""
    res = cli("counterexample", "--nonneg-family", "0.1", "--json", "--arrays")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    H = np.asarray(out["kernel_H"])
    assert H.shape == (4, 4) and np.allclose(H, H.T)
    w = np.linalg.eigvalsh(H)  # the RIP constant on symmetric 2 x 2 matrices: H vanishes on the antisymmetric one
    sym = w[np.abs(w) > 1e-9]
    assert sym.size == 3 and max(sym.max() - 1, 1 - sym.min()) <= out["verified_delta"] + 1e-9
    assert np.asarray(out["X"]).shape == (2, 1) and np.asarray(out["Z"]).shape == (2, 1)
    plain = json.loads(cli("counterexample", "--nonneg-family", "0.1", "--json").stdout)
    assert "kernel_H" not in plain and "X" not in plain


def test_no_restricted_isometry_makes_the_point_spurious():
    """With a margin no operator with delta < 1 reaches, the SDP optimum has delta > 1: the kernel stays PSD (a real
    operator, X critical for it), and the result is not called a verified counterexample; X = 0 needs delta = 1,
    an operator that annihilates ZZ^T and makes 0 global."""
    res = counterexample(np.array([[0.0], [0.7]]), np.array([[1.0], [0.0]]), margin=2.0)
    assert res.delta > 1 and res.verified_delta > 1 and not res.verified and "not a restricted isometry" in res.note
    assert np.linalg.eigvalsh(res.kernel)[0] >= -1e-12 * np.abs(res.kernel).max()
    assert res.first_order_residual <= res.tolerances["gradient"]
    for variant in ("full", "span"):  # the certificate calls X = 0 a strict saddle there: never verified
        zero = counterexample(np.zeros((2, 1)), np.array([[1.0], [0.0]]), variant=variant)
        assert abs(zero.delta - 1) <= 1e-6 and not zero.verified and zero.spurious is False, variant


def test_native_solver_output_stays_off_json_stdout():
    """SCS prints from C (``ERROR: could not determine problem status``) when the SDP has no usable solution: with
    ``--json`` stdout must still be one JSON object (a child process: the output is written below Python)."""
    out = subprocess.run([sys.executable, "-m", "benign.cli", "counterexample", "--x", "0,0.7", "--z", "1,0",
                          "--margin", "1e300", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr  # no solver gave a solution
    res = json.loads(out.stdout)
    assert res["verified"] is False and res["status"].startswith("failed")
    assert "could not determine problem status" in out.stderr  # SCS's native line, moved to stderr


def test_solver_output_redirect_survives_overlapping_users():
    """Two overlapping users of the stdout redirect (threads of a sweep) leave in the other order: stdout stays on
    stderr until the last one leaves, then is the real stdout again (not the redirected descriptor)."""
    import os

    from benign._sdp import solver_output_to_stderr

    def where(fd):
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    stdout, stderr = where(1), where(2)
    assert stdout != stderr  # pytest captures the two descriptors into different files
    first, second = solver_output_to_stderr(), solver_output_to_stderr()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert where(1) == stderr  # the second user is still running
    second.__exit__(None, None, None)
    assert where(1) == stdout
