"""``benign solve``: run a local method (or the convex baseline) on an instance."""
from __future__ import annotations

from typing import List, Optional

import typer

from benign.cli._common import (Command, JSON_OPT, LOSS_OPT, UserError, app, check_method_fits, check_point_rows,
                                factorization_before_build,
                                default_method_before_build, emit, load_instance_arg, load_loss_arg, load_point_arg,
                                npz_output_path, output_path, parse_options, progress_bar, refuse_stdout_with_json,
                                split_loop_options, tell)
from benign.errors import check_choice, check_float, check_int, check_rank_fits, check_seed
from benign.solver_options import (CONVEX_MAX_DIM, INITS, MAX_HISTORY, METHOD_OPTIONS, check_convex_size,
                                   check_loop_setting, check_method_options, check_spectral_scale, convex_ignores)

CONSTRAINTS = ("auto", "none", "nonneg")


def _write_history(path: str, history: dict) -> str:
    import numpy as np

    keys = ("iteration", "loss", "error", "grad_norm", "step")
    data = np.column_stack([np.asarray(history[k], dtype=float) for k in keys])
    from benign.atomic import open_text

    with open_text(path) as fh:
        np.savetxt(fh, data, delimiter=",", header=",".join(keys), comments="", fmt="%.17g")
    return path


def _factorization(instance: str, factorization: Optional[str], balance: float, constraint: str) -> Optional[str]:
    """``--factorization`` and ``--balance`` checked before anything is built (with the shape the spec or a saved
    instance's metadata says): the factorisation to pass to ``make_objective`` (``None``: the instance's)."""
    if factorization is not None and factorization not in ("symmetric", "asymmetric"):
        raise UserError(f"--factorization must be symmetric or asymmetric, got {factorization!r}")
    check_float("--balance", balance, lo=0.0)
    fact = factorization_before_build(instance, factorization)
    if balance and fact == "symmetric":
        raise UserError("--balance applies to the asymmetric factorisation only (add --factorization asymmetric)")
    if constraint == "nonneg" and fact == "asymmetric":
        raise UserError("--constraint nonneg is implemented for the symmetric factorisation only")
    return factorization


@app.command("solve", cls=Command)
def solve_cmd(
    instance: str = typer.Argument(..., help="Instance spec (e.g. sensing:n=10,r=2,m=150) or an instance .npz file."),
    loss: str = LOSS_OPT,
    method: Optional[str] = typer.Option(None, "--method", help="gd, perturbed-gd, projected-gd, subgradient, "
                                         "scaled-gd, prec-gd, trust-region or convex (default: projected-gd for "
                                         "X >= 0, subgradient for the l1 loss, else gd)."),
    rank: Optional[int] = typer.Option(None, "--rank", help="Search rank r (default: the truth's rank)."),
    init: str = typer.Option("random", "--init", help="random, small or spectral."),
    init_scale: Optional[float] = typer.Option(None, "--init-scale", help="Scale of the random/small start."),
    x0: Optional[str] = typer.Option(None, "--x0", help="Starting point (file or inline '1,0;0,1'); overrides --init."),
    seed: int = typer.Option(0, "--seed", help="Seed of the start and of the method's own randomness."),
    max_iter: Optional[int] = typer.Option(None, "--max-iter", help="Iteration limit (method default if omitted)."),
    gtol: Optional[float] = typer.Option(None, "--gtol", help="Relative stationarity tolerance (default 1e-10)."),
    rtol: Optional[float] = typer.Option(None, "--rtol", help="Stop when the relative error <= rtol (truth known)."),
    opt: Optional[List[str]] = typer.Option(None, "--opt", help="Method setting key=value, repeatable "
                                                                "(e.g. --opt step=1e-3 --opt armijo=true)."),
    constraint: str = typer.Option("auto", "--constraint", help="auto (the instance's), none, or nonneg (X >= 0)."),
    nonneg_flag: bool = typer.Option(False, "--nonneg", hidden=True),  # certify's name for it: refused with a pointer
    factorization: Optional[str] = typer.Option(None, "--factorization", help="symmetric (M = XX^T) or asymmetric "
                                                "(M = UV^T, X = [U; V]); default: the instance's."),
    balance: float = typer.Option(0.0, "--balance", help="Balancing weight mu >= 0 of the asymmetric "
                                  "factorisation: + mu/4 ||U^T U - V^T V||_F^2."),
    save: Optional[str] = typer.Option(None, "--save", help="Write instance + final point to this .npz file."),
    history: Optional[str] = typer.Option(None, "--history", help="Write the iteration history to this CSV file."),
    history_every: int = typer.Option(1, "--history-every", help="Record every k-th iteration."),
    as_json: bool = JSON_OPT,
) -> None:
    """Run a local method from a start (or the convex SDP baseline) and report the final point."""
    if nonneg_flag:
        raise UserError("solve sets the sign constraint with --constraint nonneg (or none, or auto: the instance's); "
                        "--nonneg is certify's name for it")
    if constraint not in CONSTRAINTS:
        raise UserError(f"--constraint must be one of {', '.join(CONSTRAINTS)}, got {constraint!r}")
    fact = _factorization(instance, factorization, balance, constraint)
    save = npz_output_path(save, "--save")
    output_path(history, "--history")
    refuse_stdout_with_json(history, "--history", as_json)
    if method is not None:
        check_choice("method", method, METHOD_OPTIONS)
    check_choice("init", init, INITS)
    if rank is not None:
        check_int("--rank", rank, minimum=1)
        check_rank_fits(rank)
    if max_iter is not None:
        check_int("--max-iter", max_iter, minimum=0)
    check_int("--history-every", history_every, minimum=1)
    history_given = history_every  # (as given: thinned below when no history file needs it)
    if max_iter is not None and max_iter // history_every + 1 > MAX_HISTORY:
        thin = max_iter // MAX_HISTORY + 1
        if history:
            raise UserError(f"--max-iter {max_iter} with --history-every {history_every} keeps "
                            f"{max_iter // history_every + 1} history records, more than {MAX_HISTORY}: give "
                            f"--history-every {thin} or more")
        history_every = thin  # no history file asked for: a thinner record costs nothing the user sees
    check_seed(seed, "--seed")
    if init_scale is not None:
        check_float("--init-scale", init_scale, lo=0.0, lo_open=True)
    check_spectral_scale(init, init_scale, "--init-scale")
    unused = [name for name, given in (("--init", init != "random"), ("--init-scale", init_scale is not None))
              if given and x0 is not None]
    if unused:  # refused, not silently ignored
        raise UserError(f"{' and '.join(unused)} would be ignored: --x0 gives the start")
    check_loop_setting("gtol", gtol, "--gtol")
    check_loop_setting("rtol", rtol, "--rtol")
    loss_obj = load_loss_arg(loss)
    given, loop_options = split_loop_options(parse_options(opt))
    # the default method as hunt picks it, and the sign constraint, when --constraint or the spec says it (a saved
    # instance's truth decides after loading)
    default = default_method_before_build(instance, loss_obj.name, {"nonneg": True, "none": False}.get(constraint),
                                          fact)
    known = None if default is None else default == "projected-gd"
    method = method or default
    check_method_fits(method, loss_obj.name, known)
    # (gd and projected-gd take the same settings: they are checked now whichever the instance needs)
    options = check_method_options(method or "gd", given)
    if method == "convex":  # the SDP baseline has no start and no iterations of its own (--x0 or --rank: its rank)
        flags = {"init": "--init", "init_scale": "--init-scale", "seed": "--seed", "max_iter": "--max-iter",
                 "gtol": "--gtol", "rtol": "--rtol", "history_every": "--history-every"}
        values = dict(init=init, init_scale=init_scale, seed=seed, max_iter=max_iter, gtol=gtol, rtol=rtol,
                      history_every=history_given)
        ignored = [flags[name] for name in convex_ignores(values)]
        ignored += [f"--opt {name}" for name in convex_ignores(loop_options)]
        if ignored:  # refused, not silently ignored (as solve() does in Python)
            raise UserError(f"--method convex would ignore {', '.join(ignored)} (it solves the SDP relaxation: no "
                            f"start, no iterations; its own settings go through --opt, e.g. --opt mode=loss)")
        from benign.specs import matrix_shape, parse_instance

        shape = matrix_shape(parse_instance(instance))  # (parsed above: the default method read it)
        if shape is not None:  # the size limit before anything is built
            check_convex_size(shape[0], shape[1], options.get("max_dim", CONVEX_MAX_DIM))
    start = load_point_arg(x0, required=False)
    if start is not None:  # rows against the spec, columns against --rank: before anything is built
        check_point_rows(start, instance, fact, "--x0")
        cols = start.shape[1] if start.ndim == 2 else 1
        if rank is not None and rank != cols:
            raise UserError(f"--rank {rank} disagrees with the {cols} column(s) of --x0")
        if known and (start < 0).any():
            raise UserError(f"--x0 must be >= 0 under the constraint X >= 0, got an entry {float(start.min()):g}")
    inst = load_instance_arg(instance)

    from benign.objective import make_objective
    from benign.solvers import solve

    nonneg = None if constraint == "auto" else constraint == "nonneg"
    obj = make_objective(inst, loss_obj, factorization=fact, balance=balance, nonnegative=nonneg)
    if method is None:
        from benign.hunt import default_method

        method = default_method(obj)
    check_method_fits(method, loss_obj.name, obj.nonnegative)
    # the start's and the loop's settings reach the local methods only (convex refused them above)
    local = {} if method == "convex" else dict(init=init, init_scale=init_scale, seed=seed, max_iter=max_iter,
                                               gtol=gtol, rtol=rtol, history_every=history_every, **loop_options)
    with progress_bar("solving", as_json) as progress:
        res = solve(obj, method, x0=start, rank=rank, progress=progress, **local, **options)
    out = {"instance": inst.name, "loss_spec": loss_obj.describe(), "rank": int(res.x.shape[1])}
    out.update(res.to_dict(include_point=True))
    threshold = res.details.get("gradient_threshold")
    if res.status == "converged" and threshold is not None and inst.noiseless and res.relative_error > 1e-3:
        why = ("a critical point other than the truth, the flatness of the lp loss at its minimisers (see the "
               "message), or a test made loose by a large starting gradient" if loss_obj.name == "lp" else
               "a critical point other than the truth, or a test made loose by a large starting gradient")
        out["note"] = (f"converged by the gradient test (||grad f|| <= {threshold:.3g}, relative to the start's "
                       f"gradient) at relative error {res.relative_error:.3g}: {why}; 'benign certify' tells which "
                       f"(solve --save, then certify the file)")
        tell(out["note"], as_json)
    if save:
        from benign.io import save_instance

        out["saved"] = save_instance(save, inst, point=res.x, objective=obj)
    if history:
        out["history_file"] = _write_history(history, res.history)
    emit(out, as_json)
