"""``benign rip`` (RIP bounds) and ``benign counterexample`` (the Zhang--Sojoudi--Lavaei SDP, smooth or
nonnegative). Heavy modules (JAX, CVXPY) are imported inside the commands."""
from __future__ import annotations

import sys
from typing import Optional

import typer

from benign.cli._common import (Command, JSON_OPT, NoResult, UserError, app, emit, load_instance_arg,
                                load_point_arg, npz_output_path, progress_bar, status_spinner)
from benign.errors import check_float, check_rank_batch_fits


@app.command(cls=Command)
def rip(
    spec: str = typer.Argument(..., help="Instance spec or file (the operator is what matters)."),
    rank: int = typer.Option(..., "--rank", "-k", help="Rank k of the restricted isometry constant delta_k."),
    starts: int = typer.Option(8, "--starts", help="Random starts of each (max and min) search."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search starts and random directions."),
    maxiter: int = typer.Option(500, "--maxiter", help="Iterations per start."),
    directions: int = typer.Option(64, "--directions", help="Random rank-k matrices for the empirical spread."),
    as_json: bool = JSON_OPT,
) -> None:
    """Bounds on the rank-k RIP constant: certified lower (search) and upper (exact full rank) -- never one number."""
    for name, v, lo in (("--rank", rank, 1), ("--starts", starts, 1), ("--seed", seed, 0), ("--maxiter", maxiter, 1),
                        ("--directions", directions, 2)):
        if v < lo:
            raise UserError(f"{name} must be >= {lo}, got {v}")
    from benign.specs import matrix_shape, parse_instance

    def check_rank(d1: int, d2: int, symmetric: bool) -> None:
        kmax = d1 if symmetric else min(d1, d2)
        if rank > kmax:
            raise UserError(f"--rank must be <= {kmax} for this instance, got {rank}")

    try:
        parsed = parse_instance(spec)
        shape = matrix_shape(parsed)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if shape is not None:  # before the instance is built (no JAX import on a bad rank or an impossible batch)
        check_rank(*shape)
        d1, d2 = shape[:2]
        m = parsed.params.get("m") if parsed.kind == "sensing" else None  # (None: not known yet, a lower bound)
        try:
            for count, what, hint in ((starts, "search starts", "use fewer starts"),
                                      (directions, "random rank-k directions", "use fewer directions")):
                check_rank_batch_fits(d1, d2, m, rank, count, what, hint)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    inst = load_instance_arg(spec)
    check_rank(*inst.shape, inst.symmetric)
    from benign.rip import rip_bounds

    with progress_bar(f"searching rank-{rank} matrices ({starts} starts, max then min)", as_json) as progress:
        out = rip_bounds(inst.operator, rank, symmetric=inst.symmetric, starts=starts, seed=seed, maxiter=maxiter,
                         directions=directions, progress=progress)
    out = {"instance": inst.name, **out}
    if not as_json:
        for key in ("max_values", "min_values", "iterations_max", "iterations_min"):
            out["search"].pop(key, None)
    emit(out, as_json)


@app.command(cls=Command)
def counterexample(
    x: Optional[str] = typer.Option(None, "--x", help="Spurious candidate X (n x r): file or inline '0,0.7071'."),
    z: Optional[str] = typer.Option(None, "--z", help="Ground truth factor Z (n x r*): file or inline '1,0'."),
    variant: str = typer.Option("full", "--variant", help="full (RIP on all symmetric matrices) or span "
                                                          "(only on Sym(span[X Z]))."),
    nonneg: bool = typer.Option(False, "--nonneg", metavar="", help="Nonnegative variant: KKT of X >= 0 (seed 000)."),
    margin: float = typer.Option(0.0, "--margin", help="Second-order margin (and G >= margin on zeros for --nonneg)."),
    solver: str = typer.Option("clarabel", "--solver", help="clarabel (interior point) or scs."),
    method: Optional[str] = typer.Option(None, "--method", help="reduced (exact symmetry reduction; the default) or "
                                         "direct. --nonneg always solves the direct SDP."),
    family: Optional[float] = typer.Option(None, "--nonneg-family", help="Build seed 000's rank-1 nonnegative "
                                           "counterexample with RIP constant <= this delta (ignores --x/--z)."),
    save: Optional[str] = typer.Option(None, "--save", help="Write the built instance with X as its point (.npz)."),
    arrays: bool = typer.Option(False, "--arrays", metavar="", help="Include X, Z and the kernel H in the output."),
    as_json: bool = JSON_OPT,
) -> None:
    """Smallest delta for which X is a spurious second-order point of a delta-RIP operator; builds and re-verifies
    that operator."""
    if variant not in ("full", "span"):
        raise UserError(f"--variant must be full or span, got {variant!r}")
    if solver not in ("clarabel", "scs"):
        raise UserError(f"--solver must be clarabel or scs, got {solver!r}")
    if method is not None and method not in ("reduced", "direct"):
        raise UserError(f"--method must be reduced or direct, got {method!r}")
    if nonneg and method == "reduced":
        raise UserError("--nonneg solves the direct SDP (no symmetry reduction of the sign constraint): --method "
                        "reduced does not apply")
    check_float("--margin", margin, lo=0.0)
    save = npz_output_path(save, "--save")
    if family is not None:
        if x is not None or z is not None:
            raise UserError("--nonneg-family builds its own X and Z: give either it or --x/--z, not both")
        if not 0.0 < family < 1.0:
            raise UserError(f"--nonneg-family must lie in (0, 1), got {family}")
        # the family fixes its pair, its margins (0.5 eps^3) and its formulation: settings it would not use are refused
        given = (("--margin", margin, 0.0), ("--variant", variant, "full"), ("--method", method, None))
        ignored = [f"{name} {value}" for name, value, default in given if value != default]
        if ignored:
            raise UserError(f"--nonneg-family builds seed 000's pair with its own margin 0.5 eps^3 and the full "
                            f"nonnegative SDP; {', '.join(ignored)} "
                            f"{'applies' if len(ignored) == 1 else 'apply'} to --x/--z only")
        from benign.counterexamples import nonneg_rip_family

        with status_spinner(f"solving the nonnegative counterexample SDP for delta <= {family}", as_json):
            try:
                inst, X, report = nonneg_rip_family(family, solver=solver, arrays=arrays)
            except RuntimeError as exc:  # no solver gave a solution
                raise NoResult(str(exc)) from None
        if save and report["certified"]:
            from benign.io import save_instance
            from benign.objective import make_objective

            # the l2 objective with the instance's sign constraint: the one X is a spurious point of
            report["saved"] = save_instance(save, inst, point=X, objective=make_objective(inst))
        if not report["certified"]:  # printed in full, with the numbers that fell short
            _no_solution(report, as_json, f"no certified counterexample for delta <= {family:g}"
                         + ("; nothing saved" if save else ""))
        emit(report, as_json)
        return
    if x is None or z is None:
        raise UserError("give both --x POINT and --z POINT (or --nonneg-family DELTA)")
    X = load_point_arg(x)
    Z = load_point_arg(z)
    if len(X) != len(Z):
        raise UserError(f"--x and --z must have the same number of rows n, got {len(X)} and {len(Z)}")
    from benign.counterexamples import MAX_BUILD_N, counterexample as cx, nonneg_counterexample

    if len(X) > MAX_BUILD_N:  # the command builds and verifies the operator: its n^2 x n^2 kernel must fit
        raise UserError(f"the built operator is verified through its n^2 x n^2 kernel: n <= {MAX_BUILD_N}, got "
                        f"n = {len(X)} (in Python, benign.counterexamples.counterexample(X, Z, build=False) solves "
                        f"the SDP alone)")

    with status_spinner("solving the counterexample SDP", as_json):
        if nonneg:
            res = nonneg_counterexample(X, Z, margin=margin, variant=variant, solver=solver)
        else:
            res = cx(X, Z, variant=variant, solver=solver, margin=margin, method=method or "reduced")
    out = res.to_dict(arrays=arrays)
    if save and res.instance is not None:
        out["saved"] = res.save(save)
    if res.instance is None:  # the SDP gave no solution (printed in full, with the solvers' status)
        _no_solution(out, as_json, f"the SDP gave no solution: {res.status}" + ("; nothing saved" if save else ""))
    emit(out, as_json)


def _no_solution(out: dict, as_json: bool, message: str) -> None:
    """A counterexample SDP without a solution: what was computed is printed (with ``--json``, one document that
    also holds ``error`` and ``exit_code``, as every failure's JSON does), one ``error:`` line on stderr, exit
    status 1."""
    emit({**out, "error": message, "exit_code": 1} if as_json else out, as_json)
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)
