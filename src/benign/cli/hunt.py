"""``benign hunt``: multi-start search + certification + de-duplication (a catalogue of critical points)."""
from __future__ import annotations

import os
import re
from typing import List, Optional

import typer

from benign.cli._common import (Command, JSON_OPT, LOSS_OPT, UserError, app, check_method_fits,
                                default_method_before_build, emit, load_instance_arg, load_loss_arg, output_path,
                                parse_options, progress_bar, split_loop_options, stdout_console, tell)
from benign.errors import check_choice, check_float, check_int, check_rank_fits, check_seed
from benign.solver_options import (INITS, METHOD_OPTIONS, check_loop_setting, check_method_options,
                                   check_spectral_scale)

#: the most runs (starts x instances) one hunt may ask for
MAX_STARTS = 1_000_000


def no_convergence_note(status: dict[str, int], method: str = "gd") -> str | None:
    """A note when some runs did not converge (``None`` when all did), with what to try by how they ended and by the
    ``method`` that ran: the iteration limit (slow convergence, e.g. at the degenerate minima of an
    over-parameterised search rank; trust-region is offered for the smooth unconstrained methods only) or a stall or
    divergence (a fixed step too large)."""
    total, converged = sum(status.values()), status.get("converged", 0)
    if converged == total:
        return None
    hints = []
    if status.get("max_iterations"):
        alternative = " or use --method trust-region" if method in SMOOTH_UNCONSTRAINED else ""
        hints.append("runs that reach the iteration limit converge slowly (over-parameterised or degenerate "
                     f"minima converge sublinearly): raise --max-iter{alternative}")
    if status.get("stalled") or status.get("diverged"):
        armijo = "--opt armijo=true or " if method in ("gd", "projected-gd") else ""
        hints.append(f"a step that is too large for this operator stalls or diverges: try {armijo}a smaller "
                     "--opt step=...")
    what = "no run converged" if not converged else f"{total - converged} of {total} runs did not converge"
    return (f"{what} ({', '.join(f'{k} {v}' for k, v in status.items())}): the end points of those runs are where "
            f"they stopped, not necessarily critical points (diverged runs are not catalogued)."
            + "".join(f" {h[0].upper()}{h[1:]}." for h in hints))


#: the methods whose runs trust-region can replace (a smooth loss, no sign constraint)
SMOOTH_UNCONSTRAINED = ("gd", "perturbed-gd", "scaled-gd", "prec-gd")


@app.command(cls=Command)
def hunt(
    instance: str = typer.Argument(..., help="Instance spec or file; a spec with seed={seed} hunts over --instances "
                                             "seeds."),
    loss: str = LOSS_OPT,
    rank: int = typer.Option(..., "--rank", help="Search rank r."),
    starts: int = typer.Option(32, "--starts", help="Initial points per instance."),
    instances: int = typer.Option(1, "--instances", help="With seed={seed} in the spec: seeds 0..N-1."),
    method: Optional[str] = typer.Option(None, "--method", help="Local method (default: gd, projected-gd for "
                                         "nonnegative truths, subgradient for l1)."),
    init: str = typer.Option("random", "--init", help="random | small | spectral"),
    init_scale: Optional[float] = typer.Option(None, "--init-scale", help="Scale of the random/small starts "
                                               "(default: from the problem's scale; small: 1e-3)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random starts."),
    opt: Optional[List[str]] = typer.Option(None, "--opt", help="Solver option key=value (repeatable)."),
    max_iter: Optional[int] = typer.Option(None, "--max-iter", help="Iteration limit of every run (method default "
                                           "if omitted)."),
    gtol: Optional[float] = typer.Option(None, "--gtol", help="Relative stationarity tolerance of every run "
                                         "(default 1e-10)."),
    dedupe_rtol: float = typer.Option(1e-4, "--dedupe-rtol", help="End points whose matrices differ by at most this "
                                      "(relative, Frobenius) are one point."),
    save_dir: Optional[str] = typer.Option(None, "--save-dir", help="Write each spurious point as instance+point "
                                           ".npz, and each instance's catalogue as it finishes (DIR/catalogue): "
                                           "the same command resumes an interrupted hunt."),
    as_json: bool = JSON_OPT,
) -> None:
    """Find and certify distinct critical points (modulo the symmetry); report spurious minima and basin sizes."""
    if rank < 1:
        raise UserError(f"--rank must be >= 1, got {rank}")
    check_rank_fits(rank)
    if starts < 1:
        raise UserError(f"--starts must be >= 1, got {starts}")
    if instances < 1:
        raise UserError(f"--instances must be >= 1, got {instances}")
    output_path(save_dir, "--save-dir", directory=True)
    check_seed(seed, "--seed")
    check_choice("init", init, INITS)
    if init_scale is not None:
        check_float("--init-scale", init_scale, lo=0.0, lo_open=True)
        check_spectral_scale(init, init_scale, "--init-scale")
    if max_iter is not None:
        check_int("--max-iter", max_iter, minimum=0)
    check_loop_setting("gtol", gtol, "--gtol")
    check_float("--dedupe-rtol", dedupe_rtol, lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    if starts * instances > MAX_STARTS:
        raise UserError(f"--starts x --instances = {starts * instances:,} runs, more than {MAX_STARTS:,}: split the "
                        f"hunt (--save-dir keeps each instance's catalogue)")
    loss_obj = load_loss_arg(loss)
    placeholders = sorted(set(re.findall(r"\{[^}]*\}", instance)) - {"{seed}"})
    if placeholders:
        raise UserError(f"the instance spec may hold one placeholder, {{seed}} (seeds 0..--instances-1), got "
                        f"{', '.join(placeholders)}")
    first = instance.replace("{seed}", "0")
    if method is not None:
        check_choice("method", method, METHOD_OPTIONS)
        if method == "convex":
            raise UserError("hunt runs a local method from many starts; --method convex takes no starting point "
                            "(use benign solve --method convex)")
    # without --method the hunter picks as benign.hunt.default_method does (projected-gd, subgradient or gd); for a
    # saved instance the choice waits for its truth, and gd's settings (projected-gd's too) are checked now
    default = default_method_before_build(first, loss_obj.name)
    if loss_obj.name == "l1" and default == "projected-gd":
        raise UserError("hunt certifies every end point, and the l1 certificate does not model X >= 0: this instance "
                        "is nonnegative (truth=nonneg); hunt the l1 loss on a signed instance")
    check_method_fits(method, loss_obj.name, None if default is None else default == "projected-gd",
                      constraint_option=False)
    method_checked = method or default or ("subgradient" if loss_obj.name == "l1" else "gd")
    given, loop_options = split_loop_options(parse_options(opt), own=("max_iter", "gtol"))
    options = {**check_method_options(method_checked, given), **loop_options}
    solver_options = {**options, **({} if max_iter is None else {"max_iter": max_iter}),
                      **({} if gtol is None else {"gtol": gtol})}
    checkpoint = None if save_dir is None else os.path.join(save_dir, "catalogue")
    if checkpoint is not None:  # a folder holding another hunt is refused before anything is built
        from benign.hunt_store import check_checkpoint, hunt_settings

        check_checkpoint(checkpoint, hunt_settings(
            loss=loss_obj.describe(), rank=rank, starts=starts, method=method, init=init, init_scale=init_scale,
            seed=seed, dedupe_rtol=dedupe_rtol, solver_options=solver_options, certify_options=None,
            nonnegative=None))
    if "{seed}" in instance:
        insts = [load_instance_arg(instance.replace("{seed}", str(s))) for s in range(instances)]
    else:
        if instances != 1:
            raise UserError("--instances needs a spec with seed={seed}")
        insts = [load_instance_arg(instance)]
    from benign.hunt import hunt as run_hunt

    # a bar on stderr (stdout keeps the catalogue), per instance
    with progress_bar(f"hunting ({starts} starts per instance)", as_json) as progress:
        cat = run_hunt(insts, loss_obj, rank=rank, starts=starts, method=method, init=init, init_scale=init_scale,
                       seed=seed, dedupe_rtol=dedupe_rtol, progress=progress, solver_options=solver_options,
                       checkpoint=checkpoint)
    out = cat.to_dict()
    note = no_convergence_note(cat.solver_status, cat.method)
    if note:
        out["note"] = note
    if save_dir:
        from benign.io import save_instance
        from benign.objective import make_objective

        os.makedirs(save_dir, exist_ok=True)
        out["saved"] = [save_instance(os.path.join(save_dir, f"spurious_{i}.npz"), insts[e.instance_index],
                                      point=e.point, objective=make_objective(insts[e.instance_index], loss_obj))
                        for i, e in enumerate(cat.spurious_minima)]
    if as_json:
        emit(out, True)
        return
    from rich.table import Table

    console = stdout_console()
    status = ", ".join(f"{k} {v}" for k, v in cat.solver_status.items())
    console.print(f"{cat.instances} instance(s) x {cat.starts} starts, rank {cat.rank}, method {cat.method}, "
                  f"{cat.seconds:.1f} s; solver status: {status}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    several = cat.instances > 1
    if several:
        table.add_column("inst", justify="right", no_wrap=True)
    for name in ("verdict", "spurious", "loss", "rel. error", "λmin", "basin", "nearest"):
        table.add_column(name, no_wrap=True, justify="left" if name == "verdict" else "right")
    for e in cat.entries:
        row = [e.verdict, "yes" if e.spurious else "no" if e.spurious is not None else "—", f"{e.loss:.3g}",
               f"{e.relative_error:.3g}", "—" if e.lambda_min is None else f"{e.lambda_min:.3g}",
               f"{e.count} ({e.frequency:.0%})", "—" if e.separation is None else f"{e.separation:.3g}"]
        table.add_row(*([str(e.instance_index)] if several else []), *row)
    console.print(table)
    console.print(f"distinct points: {len(cat.entries)} (modulo the symmetry; nearest: relative distance to the "
                  f"closest other one), certified spurious minima: {len(cat.spurious_minima)}, "
                  f"strict saddles: {len(cat.strict_saddles)}")
    if "note" in out:
        tell(out["note"], as_json)
