"""The conventions behind an exported certificate, in words and formulas (the ``conventions`` block of
:func:`benign.certify.verdicts.export`).

A referee re-checks an exported record without benign; the numbers are only checkable with the formulas that
produced them: the objective with this loss's ``psi``, the layout of a point, the ``vec`` order of directions and
Hessians, the symmetry that is quotiented out, and what the certifier's numbers mean (smooth, nonnegative or l1).
Each entry is one string; :func:`conventions` picks the entries that apply to the record.
"""
from __future__ import annotations

from typing import Any


def psi_text(loss: Any) -> str:
    """``psi(t)`` of ``loss`` with its parameters written in."""
    if loss.name == "l2":
        return "psi(t) = t^2 / 2"
    if loss.name == "lp":
        return f"psi(t) = t^{loss.l} / {loss.l}"
    if loss.name == "mixed":
        return f"psi(t) = t^2 / 2 + {loss.lam!r} * t^{loss.l} / {loss.l}"
    if loss.name == "l1":
        return "psi(t) = |t|"
    k = loss.huber_delta
    return f"psi(t) = t^2 / 2 if |t| <= {k!r}, else {k!r} * (|t| - {k!r} / 2)  (Huber)"


def _objective(obj: Any) -> dict[str, str]:
    out = {
        "objective": ("f(X) = c * sum_i psi(rho_i), rho = A(M(X)) - b, c = 1 (loss.scale = 'sum') or 1/m "
                      "(loss.scale = 'mean'), A and b as in instance.convention and instance.operator"
                      + (" + (mu/4) ||U^T U - V^T V||_F^2 with mu = balance" if not obj.symmetric and obj.balance
                         else "")),
        "psi": psi_text(obj.loss),
        "vec": ("directions, eigenvectors and Hessians are in row-major vec coordinates of a point-shaped array D: "
                "vec(D) = D.reshape(-1), entry D[i, j] at index i * r + j"),
    }
    out["reference"] = (
        "details.reference: f_zero = f(0) at the search rank; f_truth = f at the ground truth as a point: the "
        "instance's factors (symmetric), or for X = [U; V] the balanced factors U = P S^(1/2), V = Q S^(1/2) of the "
        "SVD M* = P S Q^T (U^T U = V^T V; the stored truth_left / truth_right need not be balanced, and with "
        "balance > 0 f differs at them); noiseless: f_truth <= tolerances.ftol * f_zero")
    if obj.symmetric:
        out["point"] = "X has shape (n, r); M(X) = X X^T"
    else:
        out["point"] = ("X = [U; V] stacked by rows: U = X[:d1] (d1 x r), V = X[d1:] (d2 x r); M(X) = U V^T "
                        "(d1, d2 = instance.shape)")
    return out


_ESCAPE = ("details.escape_check: for D = escape_direction on t = t_max_tested * 2^-k, k = 0..47, the change "
           "f(X + t D) - f(X) computed without cancellation: delta = A(dU V^T + U dV^T + dU dV^T) with dU, dV the "
           "factors of t D (symmetric: dU = dV = t D, U = V = X), per residual psi(rho + delta) - psi(rho) in factored "
           "form (l2: delta (rho + delta / 2)), and the balancing term's change (mu/4) <dW, 2W + dW>; verified when "
           "some change is below -rounding_floor (64 eps times the sum of its absolute terms) and f(X + t D) < f(X) "
           "or the change is within 64 eps |f(X)|; t, f_after (the plain f(X + t D)), decrease (the change), "
           "rounding_floor (that step's floor): the smallest tested step whose decrease is at least 1e3 times both "
           "floors (else the verified step with the largest decrease); witness_t, witness_f_after, "
           "witness_decrease, witness_rounding_floor: the verified step with the largest decrease")
_EXISTENCE = ("details.existence (strict_local_min needs proved = true): with gamma = grad_norm_upper (||grad f(X)||_F "
              "plus a rounding allowance), lambda = lambda_lower (lambda_min - hess_abs_tol, or - the Ritz residual when larger; for X >= 0 the free "
              "coordinates' block, with the gradient on them), K2 = operator_norm_squared >= ||A||^2 "
              "(max ||A(M)||_F^2 / ||M||_F^2 over symmetric M, or all M asymmetric), and for the ball ||Z - X||_F "
              "<= rho = radius: R = ||X||_2 + rho, tau = max_i |rho_i(X)| + sqrt(K2) rho (2 ||X||_2 + rho), "
              "T = lipschitz = c [sup_(|t| <= tau) |psi3(t)| (2 sqrt(K2) R)^3 + 12 sup_(|t| <= tau) |psi2(t)| K2 R] "
              "+ 6 sqrt(2) mu R (psi2, psi3: the second and third derivatives of psi; mu = balance) bounds the "
              "Hessian's variation per unit distance; curvature = lambda - T rho > 0, gamma < curvature rho and "
              "rho < slice_limit (the least ||G(Omega)||_F / ||Omega||_F over the symmetry's generators, times "
              "sqrt(2) for rotations, null when none acts) prove a critical point within location_radius = gamma / "
              "curvature of X whose Hessian on the slice X + H_X is >= curvature (a strict local minimum modulo the "
              "symmetry); lambda_from names the eigensolver behind lambda; X = 0 under X >= 0 is exactly critical "
              "(reason_proved); for X >= 0 also "
              "location_radius < stay_above (the least free coordinate) and min_multiplier (the least gradient "
              "entry on the active coordinates) > hessian_norm_bound (>= ||Hess f(X)||_2) location_radius + T "
              "location_radius^2 / 2; for the huber loss residual_deviation = sqrt(K2) rho (2 ||X||_2 + rho) < "
              "kink_margin = min_i (| |rho_i(X)| - delta | - 1e3 eps max(|rho_i(X)|, delta)) (every residual stays "
              "on its side of the kink)")
_ESCAPE_L1 = ("details.escape_check: f along X + g U (U = escape_direction) on the decreasing grid "
              "details.escape_check.gammas (step_scale down to step_scale * gamma_min, two per decade; "
              "tolerances.step_scale = min(1, max(||X||_F, sqrt(max|b|, max|A(M)|))), 1 at unit scale); "
              "values = f(X + g U), "
              "differences = f(X + g U) - f(X) computed without cancellation; verified when, for every g <= gamma0, "
              "the difference is negative and the value is below f0 wherever the difference exceeds the round-off "
              "1e3 eps (1 + |f0|); observed_coefficient = difference / g^order at the smallest g, against "
              "predicted_coefficient (order 1 for not_critical, 2 for strict_saddle)")

_SYMMETRY = {
    "O(r)": ("vertical space V_X = {X Omega : Omega skew-symmetric} (rotations X -> X R), of dimension "
             "symmetry_zeros (r(r-1)/2 at a point of full column rank)"),
    "GL(r)": ("vertical space V_X = {[U Xi; -V Xi^T] : Xi in R^(r x r)} ((U, V) -> (U G, V G^-T)), of dimension "
              "symmetry_zeros (r^2 when U and V have full column rank)"),
}


_CONVEX = ("details.convex_certificate.margin, with G = c A*(psi'(rho)): psd (symmetric) lambda_min(S_bar), S_bar = "
           "(G + G^T) / 2, first_order = ||S_bar X||_F; nuclear (asymmetric) nu - ||G||_op with nu = 0, first_order = "
           "max(||G V + nu U||_F, ||G^T U + nu V||_F). It holds when margin >= -tol * s_ref and first_order <= tol * "
           "s_ref * ||X||_F (and, asymmetric with balance > 0, ||U^T U - V^T V||_F <= tol ||X||_F^2), tol = "
           "details.convex_certificate.tol, s_ref = details.convex_certificate.scale = max(||S_bar(0)||_2, "
           "||S_bar(X)||_2) (||G||_op at 0 and at X, asymmetric); then M(X) minimises h(M) = c sum_i psi(A(M)_i - b_i) "
           "over PSD matrices (psd) or over all matrices (nuclear): X is a global minimum for every search rank; "
           "top = lambda_max(S_bar) (psd) or ||G||_op (nuclear)")


def _smooth(obj: Any, cert: Any) -> dict[str, str]:
    group = "O(r)" if obj.symmetric or obj.balance > 0 else "GL(r)"
    return {
        "symmetry": _SYMMETRY[group] + ("; for the asymmetric factorisation with balance > 0 the rotation formula "
                                        "applies to the stacked X" if not obj.symmetric and group == "O(r)" else ""),
        "lambda_min_lambda_max": ("extreme eigenvalues of B^T H B, H the Hessian of f at X in vec coordinates and B "
                                  "an orthonormal basis of the horizontal space (the orthogonal complement of the "
                                  "vertical space)"),
        "stationarity_gap": ("grad_norm / details.grad_scale, grad_scale = ||X||_F * max(s, |lambda_min|, "
                             "|lambda_max|), s = 2 max(|margin|, |top|) of details.convex_certificate (psd) or its "
                             "top (nuclear); critical when <= tolerances.gtol"),
        "curvature_tolerance": ("details.hess_abs_tol = htol * max(|lambda_min|, |lambda_max|); strict_saddle when "
                                "lambda_min < -hess_abs_tol, strict_local_min when lambda_min > hess_abs_tol"),
        "certificate_margin": _CONVEX,
    }


def _nonnegative(obj: Any, cert: Any) -> dict[str, str]:
    return {
        "constraint": "X >= 0 entrywise; G = grad f(X)",
        "coordinate_sets": ("positive P = {X_ij > x_abs_tol}; active A+ = {X_ij <= x_abs_tol, G_ij > g_abs_tol}; "
                            "degenerate D0 = {X_ij <= x_abs_tol, |G_ij| <= g_abs_tol} (details.sets; "
                            "degenerate_coords as [row, column])"),
        "kkt": ("details.kkt: stationarity = ||G_P||_F, dual_feasibility = ||min(G_Z, 0)||_F on the zeros Z = not P, "
                "residual = sqrt(stationarity^2 + dual_feasibility^2), complementarity = sum_ij |X_ij G_ij|; "
                "stationarity_gap = residual / details.grad_scale"),
        "lambda_min_lambda_max": ("Q = the Hessian restricted to the coordinates P u D0; lambda_max = its largest "
                                  "eigenvalue. A critical point: lambda_min = the smallest eigenvalue of Q on the P "
                                  "coordinates modulo the flat orbit tangent (details.orbit_dim = symmetry_zeros); for "
                                  "a strict saddle the smaller of that and the cone witness's curvature "
                                  "(details.cone_witness_curvature: with second_order_method = enumeration the "
                                  "smallest of D^T Q D over unit D >= 0 on D0 (the Schur complement's, with P "
                                  "coordinates); heuristic: the least value its starts found). A not_critical point: "
                                  "the smallest eigenvalue of Q on the P coordinates, no quotient (orbit_dim absent)"),
        "second_order": ("strict_saddle: a D on the critical cone (D_P free, D_D0 >= 0, D_A+ = 0) with D^T Q D < "
                         "-hess_abs_tol ||D||^2; strict_local_min: Q - hess_abs_tol I copositive on the cone "
                         "modulo the orbit (details.second_order_method)"),
        "grad_scale": ("details.grad_scale = ||X||_F * max(2 max(|margin|, |top|) of details.convex_certificate, the "
                       "largest |eigenvalue| of Q); g_abs_tol = gtol * grad_scale, x_abs_tol = xtol * max X"),
        "curvature_tolerance": ("details.hess_abs_tol = htol * max |eigenvalue of Q| (Q on the P u D0 coordinates, "
                                "0 when that set is empty)"),
        "certificate_margin": _CONVEX,
    }


def _l1(obj: Any, cert: Any) -> dict[str, str]:
    asym = not obj.symmetric
    return {
        "sets": ("S = the measurements counted as corrupted: the instance's recorded corruption at the ground truth, "
                 "else |rho_i| > tolerances.res_tol (details.set_rule); sigma_i = sign(rho_i); I0 = the others, "
                 "listed in details.level2.I0 (0-based); multiplier lists (level2, level5) follow the order of I0"),
        "directional_derivative": ("L(D) = c [sum_S sigma_i <A_i, D> + sum_I0 |<A_i, D>|]; f'(X; U) = L(U X^T + "
                                   "X U^T) (symmetric) or L(dU V^T + U dV^T) with U = [dU; dV] (asymmetric)"),
        "grad_norm": "the norm of the minimal-norm (Clarke) subgradient (details.grad_norm_kind)",
        "sharpness": ("details.sharpness (E) / details.sharpness_full (every D): tau_inf = min over ||e||_inf = 1 "
                      "of L(sum_j e_j B_j) for the orthonormal basis B_j = O1 e_a e_b^T O2^T, (a, b) = "
                      "basis_index[j] (O1, O2 in the same dict's frame; symmetric: O2 = O1 and (e_a e_b^T + "
                      "e_b e_a^T) / sqrt 2 for a != b); with a_ij = <A_i, B_j> and g = sum_S c sigma_i a_i + "
                      "sum_I0 c lambda_i a_i, the face e_j = s (face_multipliers[2 j] for s = +1, [2 j + 1] for "
                      "s = -1, lambda in [-1, 1], in I0's order) has the weak-duality bound s g_j - "
                      "sum_(l != j) |g_l| (face_bounds); tau_inf_lower = their minimum, tau_frob = "
                      "tau_inf_lower / sqrt(dim)"),
        "stationarity_gap": ("max(-v, 0) with v = min of f'(X; U) over ||U||_inf <= 1 (a linear program, "
                             "details.level2.value); not critical when above tol * tolerances.Gscale"),
        "certificate_margin": ("by details.margin_kind: c_sharp = (tau_F mu - eps K) / (tau_F + K + mu + eps) "
                               "(details.level5; M(X) is the unique PSD minimiser of F: global); tau_F_E = sharpness "
                               "tau_F on E = {Z u^T + u Z^T} (details.sharpness; q = 0: a sharp local minimum "
                               "modulo the symmetry); tau_F_full = sharpness over every D (asymmetric, "
                               "details.sharpness_full: the unique minimiser of F over all matrices); "
                               "saddle_curvature = -L(W W^T) / ||W||_F^2 (" + ("-L(W1 W2^T) / ||W||_F^2 with W = "
                               "[W1; W2]" if asym else "symmetric") + "); curved_descent = -h(V) / ||V||_F^2, h(V) "
                               "= min_u L(Z u^T + u Z^T + V V^T) < 0, along details.escape_curve (whose h is h(V) / "
                               "||V||_F^2)"),
    }


def conventions(obj: Any, cert: Any) -> dict[str, str]:
    """The conventions that apply to the certificate ``cert`` of a point of ``obj`` (see the module docstring)."""
    out = _objective(obj)
    kind = cert.details.get("kind")
    if kind == "nonnegative":
        out.update(_nonnegative(obj, cert))
    elif obj.loss.name == "l1":
        out.update(_l1(obj, cert))
    else:
        out.update(_smooth(obj, cert))
    if "existence" in cert.details:
        out["existence"] = _EXISTENCE
    if "escape_check" in cert.details:  # (absent with verify=False)
        out["escape_check"] = _ESCAPE_L1 if obj.loss.name == "l1" and kind != "nonnegative" else _ESCAPE
    return out
